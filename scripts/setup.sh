#!/usr/bin/env bash
# Installs SecretMesh's build and test dependencies from Debian 12's archive.
# Idempotent: a no-op (no apt-get call at all) when every package is present.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config openssl
  libboost-dev libssl-dev libsodium-dev libeigen3-dev catch2
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
