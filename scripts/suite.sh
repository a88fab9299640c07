#!/usr/bin/env bash
# The main job: installs what is missing, builds, runs the default scenario
# suite against the reference payment center, and ends with the report's
# path. Arguments go to `paydrill run` (e.g. --seed 7, --sut-cmd '...').
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$("$top/scripts/build.sh")
cd "$top"
exec "$dir/bin/paydrill" run scenarios/default "$@"
