#!/usr/bin/env bash
# Runs every mpc-bench suite and writes a markdown and a JSON report. Not part of the tests.
#
# Usage: scripts/bench.sh [--quick | --full] [--suites LIST] [--out DIR] [--build-dir BUILD]
#   --quick      smaller sizes (default): net 16 MiB; mul 10^5 and 10^6; matmul 1000x1000x1 and
#                256x256x256; aggregate d = 10^5 with N = 3, 5, 10; lr on breast cancer only
#   --full       the reference sizes: net 256 MiB; mul 10^6 and 10^7; matmul as quick;
#                aggregate d = 10^6 with N = 3, 5, 10; lr on breast cancer (10 epochs) and
#                100,000 x 100 synthetic rows (3 epochs)
#   --suites L   comma-separated suites to run (default: every suite mpc-bench offers)
#   --out DIR    where the run's folder is created (default: bench-results/ in the repository)
#   --build-dir  use the mpc-bench already built in BUILD (BUILD/apps/mpc-bench) instead of
#                running scripts/build.sh first
#   --render RUN rewrite RUN/report.md from RUN/report.json (no benchmark runs)
#
# Suites: net, mul, matmul, aggregate, and psi / lr when `mpc-bench --help` lists them. Suites
# that accept --json contribute their figures to the reports; the others their printed tables.
#
# Writes DIR/<UTC time>-<mode>/: report.md (machine, then one table per suite), report.json
# ({"machine": {...}, "suites": {name: figures or {"text": ...}}}), and each suite's raw output
# (<suite>.txt, <suite>.json). The machine record holds the CPU model, cores, the load average
# before and after each suite (the figures of a loaded machine are slower, not wrong) and the
# commit (with "-dirty" if the tree has uncommitted changes). A failing suite is reported and
# the others still run; the exit status is then 1.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "bench: $*" >&2
  exit 2
}

# Writes DIR/report.md from DIR/report.json: a table per suite with JSON figures, the printed
# table otherwise.
render_markdown() {
  local dir=$1 suite
  {
    jq -r '.machine | "# SecretMesh benchmarks (\(.mode))\n\n" +
      "- commit \(.commit), \(.date)\n- CPU: \(.cpu_model), \(.cores) cores, kernel \(.kernel)\n" +
      "- Parties are processes on one machine, talking TLS 1.3 over loopback; figures of a" +
      " loaded machine (see the load averages) are slower than on an idle one.\n"' \
      "$dir/report.json"
    for suite in $(jq -r '.suites | keys_unsorted[]' "$dir/report.json"); do
      jq -r --arg s "$suite" '.suites[$s] |
        "## \($s)\n\n`mpc-bench \($s) \(.run.arguments)`: \(.run.result), load average \(.run.load_average_before) before, \(.run.load_average_after) after\n"' \
        "$dir/report.json"
      if jq -e --arg s "$suite" '.suites[$s].rows' "$dir/report.json" >/dev/null; then
        jq -r --arg s "$suite" '
          def num: if . == null then "" elif . <= 0 then tostring else
                   (log10 | floor) as $e | (. / pow(10; $e - 2) | round) as $m |
                   ($m | tostring) as $d |
                   if $e >= 2 then ($m * pow(10; $e - 2) | round | tostring)
                   elif $e >= 0 then "\($d[0:$e+1]).\($d[$e+1:])"
                   else "0." + (if $e < -1 then "0" * (-$e - 1) else "" end) + $d end end;
          def extra: [if .skipped != null then .skipped else empty end,
                      if .expansion != null
                        then "expansion \(.expansion | num) (party 0: \(.leader_expansion | num))"
                      else empty end,
                      if .min_bytes_sent_per_party != null
                        then "\(.bytes_sent_per_party / .min_bytes_sent_per_party | num)x the minimum \(.min_bytes_sent_per_party | round) B"
                      else empty end,
                      if .phase == "total" and .eigen_double_seconds != null
                        then "Eigen (doubles) \(.eigen_double_seconds | num) s" else empty end,
                      if (.phase == "total" or .expansion != null) and .peak_rss_bytes_per_party != null
                        then "peak memory/party \(.peak_rss_bytes_per_party / 1e6 | round) MB"
                      else empty end] | join("; ");
          "| case | phase | seconds | cpu s | bytes sent/party | bytes recv/party | rounds | baseline s | ratio | notes |",
          "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
          (.suites[$s].rows[] |
            "| \(.case) | \(.phase) | \(.seconds | num) | \(.cpu_seconds | num) | \(.bytes_sent_per_party // "") | \(.bytes_received_per_party // "") | \(.rounds // "") | \(.baseline_seconds | num) | \(.ratio | num) | \(extra) |"),
          ""' "$dir/report.json"
      else
        printf '```text\n'
        jq -j --arg s "$suite" '.suites[$s].text' "$dir/report.json"
        printf '```\n\n'
      fi
    done
  } >"$dir/report.md"
}

mode=quick
out=bench-results
build_dir=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --suites)
      [ $# -ge 2 ] || die "--suites needs a list"
      only=$2
      shift
      ;;
    --out)
      [ $# -ge 2 ] || die "--out needs a folder"
      out=$2
      shift
      ;;
    --build-dir)
      [ $# -ge 2 ] || die "--build-dir needs a folder"
      build_dir=$2
      shift
      ;;
    --render)
      [ $# -ge 2 ] || die "--render needs a run folder"
      [ -s "$2/report.json" ] || die "$2/report.json does not exist"
      render_markdown "$2"
      exit 0
      ;;
    -h | --help)
      sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
command -v jq >/dev/null || die "jq is needed to assemble the reports (apt-get install jq)"

if [ -z "$build_dir" ]; then
  build_dir=$(scripts/build.sh | tail -n 1)
fi
bench="$build_dir/apps/mpc-bench"
[ -x "$bench" ] || die "$bench does not exist; build it first"

run_dir="$out/$(date -u +%Y%m%d-%H%M%S)-$mode"
mkdir -p "$run_dir"

if [ "$mode" = full ]; then
  net_args=(--mib 256)
  mul_args=(--sizes 1000000,10000000)
  aggregate_args=(--values 1000000 --parties 3,5,10)
  lr_args=()
else
  net_args=(--mib 16)
  mul_args=(--sizes 100000,1000000)
  aggregate_args=(--values 100000 --parties 3,5,10)
  lr_args=(--datasets breast-cancer)
fi
matmul_args=(--shapes 1000x1000x1,256x256x256)

suites=(net mul matmul aggregate)
help=$("$bench" --help 2>&1 || true)
for optional in psi lr; do
  if grep -qE "^ +$optional( |$)" <<<"$help"; then suites+=("$optional"); fi
done

if [ -n "$only" ]; then
  IFS=, read -r -a wanted <<<"$only"
  for suite in "${wanted[@]}"; do
    [[ " ${suites[*]} " == *" $suite "* ]] || die "mpc-bench has no suite '$suite'"
  done
  suites=("${wanted[@]}")
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_model=$( (grep -m1 'model name' /proc/cpuinfo || echo ': unknown') | sed 's/^[^:]*: *//')
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit+="-dirty"; fi

status=0
suite_records=()
for suite in "${suites[@]}"; do
  args=()
  case "$suite" in
    net) args=("${net_args[@]}") ;;
    mul) args=("${mul_args[@]}") ;;
    matmul) args=("${matmul_args[@]}") ;;
    aggregate) args=("${aggregate_args[@]}") ;;
    lr) args=("${lr_args[@]}") ;;
  esac
  if "$bench" "$suite" --help 2>&1 | grep -q -- '--json'; then
    args+=(--json "$run_dir/$suite.json")
  fi
  before=$(loadavg)
  echo "bench: $suite ${args[*]} (load average $before)" >&2
  start=$(date +%s)
  if "$bench" "$suite" "${args[@]}" >"$run_dir/$suite.txt" 2>"$run_dir/$suite.err"; then
    result=ok
  else
    result=failed
    status=1
    echo "bench: $suite failed; see $run_dir/$suite.err" >&2
  fi
  suite_records+=("$(jq -n --arg name "$suite" --arg result "$result" --arg before "$before" \
    --arg after "$(loadavg)" --argjson seconds $(($(date +%s) - start)) --arg args "${args[*]}" \
    '{name: $name, result: $result, arguments: $args, wall_seconds: $seconds,
      load_average_before: $before, load_average_after: $after}')")
done

# report.json
machine=$(jq -n --arg cpu "$cpu_model" --argjson cores "$(nproc)" --arg commit "$commit" \
  --arg mode "$mode" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
  --arg load "$(loadavg)" \
  '{cpu_model: $cpu, cores: $cores, kernel: $kernel, commit: $commit, mode: $mode, date: $date,
    load_average_at_end: $load}')
suites_json="{}"
for record in "${suite_records[@]}"; do
  name=$(jq -r .name <<<"$record")
  if [ -s "$run_dir/$name.json" ]; then
    figures=$(jq --argjson run "$record" '. + {run: $run} | del(.rows[]?.parties_detail)' \
      "$run_dir/$name.json")
  else
    figures=$(jq -n --argjson run "$record" --rawfile text "$run_dir/$name.txt" \
      '{run: $run, text: $text}')
  fi
  suites_json=$(jq --arg name "$name" --argjson figures "$figures" '. + {($name): $figures}' \
    <<<"$suites_json")
done
jq -n --argjson machine "$machine" --argjson suites "$suites_json" \
  '{machine: $machine, suites: $suites}' >"$run_dir/report.json"

render_markdown "$run_dir"

echo "bench: wrote $run_dir/report.md and $run_dir/report.json" >&2
exit $status
