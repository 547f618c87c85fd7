#!/usr/bin/env bash
# The three-party demo on localhost: three hospitals, each running one mpc-party process.
#
#   1. PSI (align mode) finds the patients all three hospitals share and lines up their rows.
#   2. Joint logistic regression trains on the shared patients, split by columns (hospital 0
#      holds the diagnosis), on the dealer-free Shamir engine; prediction on held-out patients.
#   3. Secure aggregation sums the hospitals' patient counts, exactly and with differential
#      privacy.
# Every step prints its result next to an in-the-clear reference (plaintext-reference), with
# time, bytes and rounds per party, and the script exits non-zero if a result is off by more
# than its stated tolerance.
#
# Usage: scripts/demo.sh [--output DIR]      (default DIR: demo-output/, git-ignored)
# Set-up and build come first (scripts/setup.sh, scripts/build.sh); SM_DEMO_BUILD_DIR=DIR skips
# both and uses an existing build. Key material is made on the first run (DIR/keys) and reused.
# SM_BASE_PORT (default 7100) sets the ports of fresh key material (party i: base + i).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

out=demo-output
while [ $# -gt 0 ]; do
  case $1 in
    --output) out=$2; [[ $out = /* ]] || out="$caller/$out"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${SM_DEMO_BUILD_DIR:-}" ]; then
  build=$SM_DEMO_BUILD_DIR
else
  scripts/setup.sh
  build=$(scripts/build.sh | tail -n 1)
fi
party="$build/apps/mpc-party"
reference="$build/apps/plaintext-reference"
for tool in "$party" "$reference"; do
  [ -x "$tool" ] || { echo "demo: $tool was not built" >&2; exit 1; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
keys="$out/keys"
if [ ! -f "$keys/party0.toml" ]; then
  scripts/gen-certs.sh 3 "$keys" >/dev/null 2>&1 || { echo "demo: gen-certs.sh failed" >&2; exit 1; }
fi
started=$SECONDS
failures=0

# ---- data: the breast-cancer set split by columns, with partly overlapping patients ----------
data="$out/data"
mkdir -p "$data"
source_csv=data/breast_cancer.csv
# Hospital h keeps the data rows r with r % 10 != h + 1: every pair of hospitals shares 80 %,
# all three 70 %. Hospital 0: features 1-10 and the diagnosis; 1: features 11-20; 2: 21-30.
for h in 0 1 2; do
  awk -F, -v h="$h" 'BEGIN { OFS = "," }
    {
      if (NR > 1 && (NR - 2) % 10 == h + 1) next
      first = 2 + 10 * h
      line = $1
      for (c = first; c < first + 10; c++) line = line "," $c
      if (h == 0) line = line "," $32
      print line
    }' "$source_csv" >"$data/hospital$h.csv"
done

# Runs one job at all three parties: run_job NAME ARGS-FOR-EVERY-PARTY -- then per party, the
# extra arguments are taken from the arrays extra0, extra1, extra2.
run_job() {
  local name=$1; shift
  local dir="$out/$name"
  mkdir -p "$dir"
  local pids=() code i
  for i in 0 1 2; do
    local -n extra="extra$i"
    "$party" --config "$keys/party$i.toml" --report "$dir/report$i.json" "$@" "${extra[@]}" \
      >"$dir/stdout$i.txt" 2>"$dir/log$i.txt" &
    pids+=($!)
  done
  local failed=0
  for i in 0 1 2; do
    code=0
    wait "${pids[$i]}" || code=$?
    if [ "$code" -ne 0 ]; then
      echo "demo: $name failed at party $i (exit code $code):" >&2
      tail -5 "$dir/log$i.txt" >&2
      failed=1
    fi
  done
  [ "$failed" -eq 0 ] || exit 1
  "$reference" report "$dir"/report{0,1,2}.json | sed 's/^/    /'
}

verdict() {  # verdict OK? TEXT
  if [ "$1" = ok ]; then echo "  => ok: $2"; else echo "  => DIFFERS: $2"; failures=$((failures + 1)); fi
}

# ---- 1. PSI: align the shared patients ---------------------------------------------------------
echo "== 1. private set intersection (align): which patients do all three hospitals share?"
psi="$out/1-psi"
for i in 0 1 2; do
  declare -a "extra$i=(--input $data/hospital$i.csv --output $psi/aligned$i.csv)"
done
run_job 1-psi psi --column id --mode align
"$reference" intersect --column id "$data"/hospital{0,1,2}.csv >"$psi/reference.csv"
for i in 0 1 2; do cut -d, -f1 "$psi/aligned$i.csv" >"$psi/ids$i.txt"; done
common=$(($(wc -l <"$psi/reference.csv") - 1))
if cmp -s "$psi/ids0.txt" "$psi/ids1.txt" && cmp -s "$psi/ids0.txt" "$psi/ids2.txt" &&
   cmp -s <(sort "$psi/ids0.txt") <(sort "$psi/reference.csv"); then
  verdict ok "$common common patients, every hospital's rows in the same order (reference: $common)"
else
  verdict differs "the aligned ids differ from the reference intersection ($common ids)"
fi

# ---- 2. logistic regression on the shared patients ---------------------------------------------
echo "== 2. joint logistic regression (vertical, dealer-free Shamir engine), then prediction"
lr="$out/2-lr"
mkdir -p "$lr"
rows=$(($(wc -l <"$psi/aligned0.csv") - 1))
train_rows=$((rows * 8 / 10))
# The aligned rows come in an order of the PSI's random keys, the same at every hospital but new
# in every run; each hospital sorts its rows by id (the same ids everywhere, so the same order),
# so that every run trains and tests on the same split.
for i in 0 1 2; do
  { head -n 1 "$psi/aligned$i.csv"; tail -n +2 "$psi/aligned$i.csv" | LC_ALL=C sort -t, -k1,1; } \
    >"$lr/aligned$i.csv"
  head -n $((train_rows + 1)) "$lr/aligned$i.csv" >"$lr/train$i.csv"
  { head -n 1 "$lr/aligned$i.csv"; tail -n +$((train_rows + 2)) "$lr/aligned$i.csv"; } >"$lr/test$i.csv"
done
# The diagnosis stays with hospital 0; its prediction input leaves it out.
cut -d, -f1-11 "$lr/test0.csv" >"$lr/test0-features.csv"
settings=(--epochs 10 --batch-size 32 --learning-rate 1.0 --l2 0)
extra0=(--input "$lr/train0.csv" --label-column malignant --output "$lr/model0.json")
extra1=(--input "$lr/train1.csv" --output "$lr/model1.json")
extra2=(--input "$lr/train2.csv" --output "$lr/model2.json")
run_job 2-lr-train train-lr --partition vertical --scheme shamir "${settings[@]}"
extra0=(--model "$lr/model0.json" --input "$lr/test0-features.csv" --output "$lr/predictions.csv")
extra1=(--model "$lr/model1.json" --input "$lr/test1.csv")
extra2=(--model "$lr/model2.json" --input "$lr/test2.csv")
run_job 2-lr-predict predict --output-to party0
# Predicted labels against the true ones, matched by id.
secure=$(awk -F, 'FNR == 1 { next } NR == FNR { predicted[$1] = $3; next }
                  { n++; if (($1 in predicted) && predicted[$1] == $NF) c++ }
                  END { printf "%.4f", c / n }' "$lr/predictions.csv" "$lr/test0.csv")
plain=$("$reference" lr --label malignant --train "$lr"/train{0,1,2}.csv --test "$lr"/test{0,1,2}.csv \
        "${settings[@]}")
plain=$(printf "%.4f" "$plain")
tested=$(($(wc -l <"$lr/test0.csv") - 1))
if awk -v s="$secure" -v p="$plain" 'BEGIN { d = s - p; if (d < 0) d = -d; exit !(d <= 0.03) }'; then
  verdict ok "test accuracy $secure on $tested held-out patients; plaintext training: $plain (tolerance 0.03: same data, different mini-batch order and an approximate sigmoid)"
else
  verdict differs "test accuracy $secure vs plaintext $plain (tolerance 0.03)"
fi

# ---- 3. secure aggregation of patient counts --------------------------------------------------
echo "== 3. secure aggregation: patients per id range (a stand-in for referral regions), summed"
echo "   (with differential privacy the noise hides any one hospital's whole vector, so it is"
echo "    large next to the counts of three hospitals: that is the price of that guarantee)"
agg="$out/3-aggregate"
mkdir -p "$agg"
for h in 0 1 2; do
  awk -F, 'NR > 1 { n = substr($1, 2) - 100000; bucket[int(n / 143)]++ }
    END { print "range0,range1,range2,range3"; print bucket[0]+0 "," bucket[1]+0 "," bucket[2]+0 "," bucket[3]+0 }' \
    "$data/hospital$h.csv" >"$agg/counts$h.csv"
done
"$reference" sum "$agg"/counts{0,1,2}.csv >"$agg/reference.csv"
for i in 0 1 2; do declare -a "extra$i=(--input $agg/counts$i.csv --output $agg/sum$i.csv)"; done
run_job 3-aggregate aggregate --protocol threshold
if cmp -s "$agg/sum0.csv" "$agg/reference.csv" && cmp -s "$agg/sum1.csv" "$agg/reference.csv"; then
  verdict ok "exact sum $(tail -n 1 "$agg/sum0.csv") (reference: $(tail -n 1 "$agg/reference.csv"))"
else
  verdict differs "sum $(tail -n 1 "$agg/sum0.csv") vs reference $(tail -n 1 "$agg/reference.csv")"
fi
for i in 0 1 2; do declare -a "extra$i=(--input $agg/counts$i.csv --output $agg/dp-sum$i.csv)"; done
run_job 3-aggregate-dp aggregate --protocol threshold --dp-epsilon 1 --dp-delta 1e-6 --clip 300
sigma=$(grep -o '"noise_sigma": *[0-9.eE+-]*' "$out/3-aggregate-dp/report0.json" | sed 's/.*: *//')
if paste -d, <(tail -n 1 "$agg/dp-sum0.csv" | tr , '\n') <(tail -n 1 "$agg/reference.csv" | tr , '\n') |
   awk -F, -v s="$sigma" '{ d = $1 - $2; if (d < 0) d = -d; if (d > 5 * s) bad = 1 } END { exit bad }'; then
  verdict ok "(1, 1e-6)-DP sum $(tail -n 1 "$agg/dp-sum0.csv"): noise standard deviation $sigma, every value within 5 sigma of the exact sum"
else
  verdict differs "DP sum $(tail -n 1 "$agg/dp-sum0.csv") is more than 5 sigma ($sigma) from the exact sum"
fi

echo
echo "demo: finished in $((SECONDS - started)) s; outputs, logs and reports are in $out"
if [ "$failures" -ne 0 ]; then
  echo "demo: $failures result(s) differ from the reference" >&2
  exit 1
fi
echo "demo: every result matches its reference"
