#!/usr/bin/env bash
# Creates demo key material and configurations for an N-party SecretMesh run.
#
# Usage: scripts/gen-certs.sh N DIR [HOST...]
#   N      number of parties (2 or more)
#   DIR    output folder (created if missing)
#   HOST   one host per party (default: 127.0.0.1 for every party)
# Environment: SM_BASE_PORT (default 7100): party i listens on SM_BASE_PORT + i.
#
# Writes into DIR, with the openssl command-line tool:
#   ca.key, ca.crt             a demo certificate authority (EC P-256, valid 1 year)
#   partyI.key, partyI.crt     one key and certificate per party: CN and DNS SAN "partyI",
#                              extended key usage serverAuth + clientAuth, signed by the CA
#   partyI.toml                the party's configuration (paths relative to DIR)
#
# Never overwrites: if DIR already holds any of these files the script refuses and changes
# nothing; delete them (or pick another DIR) to start over. Files are generated in a temporary
# folder inside DIR and moved in place only when everything succeeded. Private keys are created
# readable by their owner only; they are demo keys: never commit them.
set -euo pipefail

die() {
  echo "gen-certs: $*" >&2
  exit 1
}

[ $# -ge 2 ] || die "usage: $0 N DIR [HOST...]"
n=$1
dir=$2
shift 2
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 1000 ] ||
  die "N must be a number of parties between 2 and 1000, got '$n'"
if [ $# -ne 0 ] && [ $# -ne "$n" ]; then
  die "give one HOST per party ($n), or none for 127.0.0.1; got $#"
fi
hosts=("$@")
base_port=${SM_BASE_PORT:-7100}
[[ "$base_port" =~ ^[0-9]+$ ]] && [ "$base_port" -ge 1 ] && [ $((base_port + n - 1)) -le 65535 ] ||
  die "SM_BASE_PORT must be a port such that SM_BASE_PORT + N - 1 <= 65535, got '$base_port'"
command -v openssl >/dev/null || die "the openssl command-line tool is not installed"

mkdir -p "$dir" || die "cannot create folder $dir"
outputs=(ca.key ca.crt)
for ((i = 0; i < n; i++)); do outputs+=("party$i.key" "party$i.crt" "party$i.toml"); done
for f in "${outputs[@]}"; do
  [ ! -e "$dir/$f" ] || die "$dir/$f already exists; refusing to overwrite key material (delete the old files or choose another folder)"
done

tmp=$(mktemp -d "$dir/.gen-certs.XXXXXX") || die "cannot create a temporary folder in $dir"
trap 'rm -rf "$tmp"' EXIT
umask 077

run() {
  local log
  if ! log=$("$@" 2>&1); then
    echo "$log" >&2
    die "command failed: $*"
  fi
}

run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key"
run openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days 365 -subj "/CN=SecretMesh demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$tmp/ca.crt"

for ((i = 0; i < n; i++)); do
  name="party$i"
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$name.key"
  run openssl req -new -key "$tmp/$name.key" -subj "/CN=$name" -out "$tmp/$name.csr"
  cat >"$tmp/$name.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:$name
EOF
  run openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -sha256 -extfile "$tmp/$name.ext" \
    -out "$tmp/$name.crt"
  rm -f "$tmp/$name.csr" "$tmp/$name.ext"
done

# The party table, shared by every configuration; fingerprints are listed as optional pins.
table=""
for ((i = 0; i < n; i++)); do
  fingerprint=$(openssl x509 -in "$tmp/party$i.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')
  table+="
[[party]]
id = $i
name = \"party$i\"
host = \"${hosts[$i]:-127.0.0.1}\"
port = $((base_port + i))
# fingerprint = \"sha256:$fingerprint\"
"
done

for ((i = 0; i < n; i++)); do
  cat >"$tmp/party$i.toml" <<EOF
# SecretMesh party configuration
id = $i
private_key = "party$i.key"
certificate = "party$i.crt"
ca_certificate = "ca.crt"
connect_timeout_s = 60
receive_timeout_s = 60
$table
EOF
  chmod 644 "$tmp/party$i.toml" "$tmp/party$i.crt"
done
chmod 644 "$tmp/ca.crt"

for f in "${outputs[@]}"; do mv "$tmp/$f" "$dir/$f"; done
echo "gen-certs: wrote a demo CA, $n party keys, certificates and configurations to $dir" >&2
