#!/bin/sh
# One zoo case: runs the default suite against payment-center-zoo with one
# bug switched on (or none) and checks the verdict.
#   zoo_case.sh PAYDRILL ZOO_BIN SUITE OUT BUG [INVARIANT...]
# BUG "none": the zoo binary with no bug must pass every scenario (exit 0).
# Otherwise paydrill must exit 1 and at least one violation line on stderr
# ("scenario invariant order evidence") must name one of the INVARIANTs the
# bug is meant to break. Any other exit status fails the case.
set -u
paydrill=$1 zoo=$2 suite=$3 out=$4 bug=$5
shift 5
dir="$out/$bug"
rm -rf "$dir"
mkdir -p "$dir"
if [ "$bug" = none ]; then
  sut="$zoo"
else
  sut="$zoo --bug $bug"
fi
seed_args=""
[ -n "${PD_SEED:-}" ] && seed_args="--seed $PD_SEED"
# shellcheck disable=SC2086
"$paydrill" run "$suite" --sut-cmd "$sut" --out "$dir/runs" --jobs "${PD_ZOO_JOBS:-1}" --quiet $seed_args \
  >"$dir/stdout.txt" 2>"$dir/stderr.txt"
rc=$?
echo "zoo: bug=$bug exit=$rc (stdout/stderr in $dir)"
if [ "$bug" = none ]; then
  if [ $rc -ne 0 ]; then
    echo "zoo: the zoo build with no bug must pass every scenario; it exited $rc" >&2
    head -20 "$dir/stderr.txt" >&2
    exit 1
  fi
  exit 0
fi
if [ $rc -ne 1 ]; then
  echo "zoo: bug $bug must make paydrill exit 1 (a violation); it exited $rc" >&2
  tail -20 "$dir/stderr.txt" >&2
  exit 1
fi
for inv in "$@"; do
  hits=$(awk -v inv="$inv" '$2 == inv' "$dir/stderr.txt" | wc -l)
  if [ "$hits" -gt 0 ]; then
    echo "zoo: bug $bug caught: $hits violation(s) of $inv, e.g.:"
    awk -v inv="$inv" '$2 == inv' "$dir/stderr.txt" | head -3
    echo "zoo: all invariants this bug broke:"
    awk 'NF >= 3 && $2 ~ /^[a-z_]+$/ {print $2}' "$dir/stderr.txt" | sort | uniq -c
    exit 0
  fi
done
echo "zoo: bug $bug made paydrill fail, but no violation names $*; it broke:" >&2
awk 'NF >= 3 {print $1, $2}' "$dir/stderr.txt" | sort | uniq -c >&2
exit 1
