#!/usr/bin/env bash
# The three-party demo on localhost: installs what is missing (scripts/setup.sh), builds
# (scripts/build.sh), creates demo certificates and configurations on the first run, then runs
# three mpc-party processes and prints what each of them measured.
#
# Usage: scripts/demo.sh
# Output folder: demo-output/ at the repository root (git-ignored), reused by later runs; delete
# it to start with fresh key material. Environment: SM_BASE_PORT (default 7100) for the ports
# of a fresh demo-output/ (party i listens on SM_BASE_PORT + i).
# Exits non-zero if any party failed; each party's logs go to stderr, prefixed by its name.
set -euo pipefail
cd "$(dirname "$0")/.."

parties=3
out=demo-output

scripts/setup.sh
build=$(scripts/build.sh | tail -n 1)
program="$build/apps/mpc-party"
[ -x "$program" ] || { echo "demo: $program was not built" >&2; exit 1; }

if [ ! -f "$out/party0.toml" ]; then
  scripts/gen-certs.sh "$parties" "$out"
else
  echo "demo: reusing the key material and configurations in $out/" >&2
fi

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop INT TERM

echo "demo: starting $parties parties (ping: connectivity, round-trip time, throughput)" >&2
for ((i = 0; i < parties; i++)); do
  "$program" --config "$out/party$i.toml" --report "$out/ping-party$i.json" ping \
    >"$out/ping-party$i.txt" &
  pids+=($!)
done

failed=0
codes=()
for ((i = 0; i < parties; i++)); do
  code=0
  wait "${pids[$i]}" || code=$?
  codes+=("$code")
  [ "$code" -eq 0 ] || failed=1
done

for ((i = 0; i < parties; i++)); do
  echo
  echo "== party$i: exit code ${codes[$i]} (report: $out/ping-party$i.json)"
  cat "$out/ping-party$i.txt"
done
if [ "$failed" -ne 0 ]; then
  echo "demo: at least one party failed; see the logs above (exit codes: README.md)" >&2
  exit 1
fi
echo
echo "demo: all $parties parties succeeded"
