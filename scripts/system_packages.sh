#!/usr/bin/env bash
# Install the Debian packages the portal needs beyond pip, only when they are missing.
#   scripts/system_packages.sh demo   WeasyPrint's Pango and HarfBuzz libraries and a font
#   scripts/system_packages.sh test   the above, plus Chromium for browser tests, poppler-utils, redis-server,
#                                     and nginx (the download tests and bench/download_bench.py start their
#                                     own on loopback ports; the system service is kept from starting)
set -euo pipefail

profile="${1:-demo}"
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
if [ "$profile" = "test" ]; then
  packages+=(chromium poppler-utils redis-server nginx)
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
# Installing nginx (or redis-server) would start its system service on port 80 (6379): a policy-rc.d
# that answers 101 ("action forbidden") keeps invoke-rc.d from starting any service while we install.
# Ours is removed afterwards; one already in place (container images ship one) is left as it is.
policy=/usr/sbin/policy-rc.d
ours_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by system_packages.sh during an install: start no service\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  ours_policy=1
fi
cleanup() { if [ -n "$ours_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Whatever started anyway (a system without policy-rc.d support) is stopped: the tests start their own
# nginx, and nothing of ours may listen on port 80.
if [[ " ${missing[*]} " == *" nginx "* ]]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [ -s /run/nginx.pid ]; then
    $SUDO nginx -s quit >/dev/null 2>&1 || true
  fi
fi
echo "system packages: installed ${missing[*]}"
