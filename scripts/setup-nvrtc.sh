#!/usr/bin/env bash
# Test prerequisite: NVRTC (CUDA's runtime compiler), with which the tests compile every catalog kernel's
# CUDA source to PTX. NVRTC needs no GPU. When no libnvrtc is on the loader path, on Debian 12 as root this
# adds bookworm's `non-free` component of the Debian archive (signed by the archive key already on the machine) and
# installs `libnvrtc11.2` (CUDA 11.8); also on Debian 13. Elsewhere it says what to install; the CUDA tests then fail with
# that message rather than being skipped. Idempotent.
set -euo pipefail
say() { printf 'setup-nvrtc: %s\n' "$*" >&2; }

if ldconfig -p 2>/dev/null | grep -qE 'libnvrtc\.so(\.[0-9.]+)? '; then
  exit 0
fi
if [[ -n ${LOSSDSL_NVRTC:-} && -e ${LOSSDSL_NVRTC} ]]; then
  exit 0
fi

. /etc/os-release 2>/dev/null || true
# Debian 12, or a Debian 12 whose libc and base-files setup.sh took from Debian 13 (its os-release then says 13):
# bookworm's libnvrtc11.2 installs on both.
if [[ ${ID:-} != debian || ! ${VERSION_ID:-} =~ ^1[23]$ || $(id -u) -ne 0 ]]; then
  say "no libnvrtc found. Install NVRTC (the CUDA toolkit's libnvrtc, any version from 11.2) or set"
  say "LOSSDSL_NVRTC to the library's path; on Debian 12: apt install libnvrtc11.2 from the non-free component."
  exit 1
fi

say "installing libnvrtc11.2 (CUDA 11.8) from Debian 12's non-free component"
sources=/etc/apt/sources.list.d/lossdsl-nonfree.sources
uri=$(grep -hvE '^[[:space:]]*#' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
      | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1 || true)
uri=${uri:-http://deb.debian.org/debian}
cat > "$sources" <<SRC
Types: deb
URIs: $uri
Suites: bookworm
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
export DEBIAN_FRONTEND=noninteractive
apt-get update -o Dir::Etc::sourcelist="$sources" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -qq >/dev/null
apt-get install -y -qq --no-install-recommends libnvrtc11.2 >/dev/null
ldconfig
say "libnvrtc11.2 installed."
