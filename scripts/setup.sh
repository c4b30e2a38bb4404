#!/usr/bin/env bash
# LossDsl setup: makes this machine able to build and run LossDsl.
#  - checks the .NET SDK pinned in global.json is present;
#  - checks that the system libstdc++ provides GLIBCXX_3.4.32, which TorchSharp 0.107's native
#    library (libtorch 2.10) needs. On Debian 12 as root it adds Debian 13 (trixie) as a pinned apt
#    source (priority 100, so nothing else is upgraded) and installs `-t trixie libstdc++6`.
#    Elsewhere, or without root, it stops and says exactly what to do.
# Idempotent; takes well under a second when nothing is needed.
set -euo pipefail

need=GLIBCXX_3.4.32
say() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v dotnet >/dev/null 2>&1; then
  say "the .NET SDK is not on PATH. Install .NET SDK 10 (https://dot.net) and run this again."
  exit 1
fi

find_libstdcxx() {
  local f
  for f in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 \
           /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [[ -e $f ]] && { echo "$f"; return 0; }
  done
  ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}'
}

has_symbol() { grep -qa "$need" "$1" 2>/dev/null; }

lib=$(find_libstdcxx || true)
if [[ -n ${lib:-} ]] && has_symbol "$lib"; then
  exit 0
fi

say "libstdc++ at '${lib:-<not found>}' lacks $need, which TorchSharp's native libtorch needs."

. /etc/os-release 2>/dev/null || true
if [[ ${ID:-} != debian || ${VERSION_ID:-} != 12 ]]; then
  say "this is ${PRETTY_NAME:-an unknown system}, not Debian 12, so I will not change it."
  say "install libstdc++ from GCC 13 or newer (it must export $need), then run this again."
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  say "run as root (or ask an administrator) to install a newer libstdc++6 from Debian 13:"
  say "  sudo bash $0"
  exit 1
fi

say "adding Debian 13 (trixie) as a pinned apt source (priority 100) and installing libstdc++6 from it"
list=/etc/apt/sources.list.d/lossdsl-trixie.list
pref=/etc/apt/preferences.d/lossdsl-trixie.pref
# Reuse the mirror this machine already uses for Debian (first non-comment, non-security entry).
uri=$(grep -hvE '^[[:space:]]*#' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
      | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1 || true)
uri=${uri:-http://deb.debian.org/debian}
echo "deb $uri trixie main" > "$list"
cat > "$pref" <<PREF
Package: *
Pin: release n=trixie
Pin-Priority: 100
PREF
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t trixie libstdc++6 >/dev/null

lib=$(find_libstdcxx || true)
if [[ -n ${lib:-} ]] && has_symbol "$lib"; then
  say "libstdc++6 from trixie installed; $need is available."
  exit 0
fi
say "installing libstdc++6 from trixie did not provide $need; install GCC 13+'s libstdc++ by hand."
exit 1
