#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages.txt that are missing.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# A line is "package" or "package cmd=NAME": with cmd=, the package counts
# as present when NAME is on the PATH (e.g. npm, which some machines get
# from another nodejs build that conflicts with Debian's npm package).
missing=()
while read -r p extra || [ -n "${p:-}" ]; do
  case "$p" in ''|'#'*) continue ;; esac
  if [ -n "${extra:-}" ] && [ "${extra#cmd=}" != "$extra" ] && command -v "${extra#cmd=}" >/dev/null; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done < "$here/packages.txt"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
