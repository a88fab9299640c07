#!/bin/sh
# One zoo case: runs the default suite against payment-center-zoo with one
# bug switched on (or none) and checks the verdict.
#   zoo_case.sh PAYDRILL ZOO_BIN SUITE OUT BUG [INVARIANTS [FIRST]]
# INVARIANTS and FIRST are comma-separated lists.
# BUG "none": the zoo binary with no bug must pass every scenario of the
# suite (one paydrill run of the whole folder, exit 0).
# Otherwise the suite's scenarios run one at a time, those named in FIRST
# (the ones docs/zoo.md says catch the bug) first, then every other scenario
# of SUITE in name order, and the case passes at the first run that exits 1
# with a violation line on stderr ("scenario invariant order evidence")
# naming one of INVARIANTS. FIRST only orders the runs, it never narrows
# them: a bug the named scenarios miss is still looked for in the rest of
# the suite. A run that exits 0 moves on to the next scenario; any exit
# status other than 0 or 1, or a suite that never names an intended
# invariant, fails the case.
set -u
paydrill=$1 zoo=$2 suite=$3 out=$4 bug=$5
invariants=${6:-}
first=${7:-}
dir="$out/$bug"
# A rerun (ctest --repeat until-pass:2) keeps the attempt before it, so a
# failure that passes on its retry still leaves its run folders to read.
if [ -d "$dir" ]; then
  rm -rf "$dir.previous"
  mv "$dir" "$dir.previous"
fi
mkdir -p "$dir"
seed_args=""
[ -n "${PD_SEED:-}" ] && seed_args="--seed $PD_SEED"

if [ "$bug" = none ]; then
  # shellcheck disable=SC2086
  "$paydrill" run "$suite" --sut-cmd "$zoo" --out "$dir/runs" --jobs "${PD_ZOO_JOBS:-1}" \
    --quiet $seed_args >"$dir/stdout.txt" 2>"$dir/stderr.txt"
  rc=$?
  echo "zoo: bug=none exit=$rc (stdout/stderr in $dir)"
  if [ $rc -ne 0 ]; then
    echo "zoo: the zoo build with no bug must pass every scenario; it exited $rc" \
         "(run folders in $dir/runs; a retry moves them to $dir.previous)" >&2
    head -20 "$dir/stderr.txt" >&2
    exit 1
  fi
  exit 0
fi

# The order of the runs: FIRST, then the rest of the suite by name.
order=""
for name in $(echo "$first" | tr ',' ' '); do
  [ -f "$suite/$name.json" ] || { echo "zoo: no scenario $suite/$name.json" >&2; exit 1; }
  order="$order $name"
done
for f in "$suite"/*.json; do
  name=$(basename "$f" .json)
  case " $order " in *" $name "*) ;; *) order="$order $name" ;; esac
done

# Prints the violation lines of file $1 naming one of INVARIANTS.
intended() {
  awk -v invs=",$invariants," 'index(invs, "," $2 ",") > 0' "$1"
}

ran=0
for name in $order; do
  ran=$((ran + 1))
  err="$dir/$name.stderr.txt"
  # shellcheck disable=SC2086
  "$paydrill" run "$suite/$name.json" --sut-cmd "$zoo --bug $bug" --out "$dir/runs" \
    --quiet $seed_args >"$dir/$name.stdout.txt" 2>"$err"
  rc=$?
  echo "zoo: bug=$bug scenario=$name exit=$rc"
  cat "$err" >>"$dir/stderr.txt"
  case $rc in
    0) continue ;;
    1) ;;
    *) echo "zoo: paydrill exited $rc on $name (neither pass nor violation):" >&2
       tail -20 "$err" >&2
       exit 1 ;;
  esac
  hits=$(intended "$err" | wc -l)
  echo "zoo: $name broke:"
  awk 'NF >= 3 && $2 ~ /^[a-z_]+$/ {print $2}' "$err" | sort | uniq -c
  if [ "$hits" -gt 0 ]; then
    echo "zoo: bug $bug caught by $name (scenario $ran of the suite's runs):" \
         "$hits violation(s) of $invariants, e.g.:"
    intended "$err" | head -3
    exit 0
  fi
done
echo "zoo: bug $bug: no scenario of $suite named $invariants; all violations:" >&2
awk 'NF >= 3 {print $1, $2}' "$dir/stderr.txt" | sort | uniq -c >&2
exit 1
