#!/usr/bin/env bash
# Install the Debian packages the portal needs beyond pip, only when they are missing.
#   scripts/system_packages.sh demo   WeasyPrint's Pango and HarfBuzz libraries and a font
#   scripts/system_packages.sh test   the above, plus Chromium for browser tests, poppler-utils, redis-server
set -euo pipefail

profile="${1:-demo}"
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
if [ "$profile" = "test" ]; then
  packages+=(chromium poppler-utils redis-server)
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system packages: not a Debian system; make sure these are installed: ${packages[*]}" >&2
  exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system packages: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "system packages: missing ${missing[*]}; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
