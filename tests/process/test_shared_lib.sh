#!/bin/bash
# libapppass-shared.so, the private library that holds the per-process registry of LMDB
# environments (common/env_registry.h): it exports only apppass::envreg::*, the module,
# the plugin and the tool all need it and find it, and the module still loads in a
# setuid program run by an unprivileged user (root only; the dynamic linker is stricter
# there).
#
#   test_shared_lib.sh SHARED_LIB PAM_MODULE SASL_PLUGIN TOOL DLOPEN_CHECK NM
#
# Prints "ok - ..." / "not ok - ..." per check; exits 1 when one failed.
set -euo pipefail
if [[ $# -ne 6 ]]; then
  echo "usage: $0 SHARED_LIB PAM_MODULE SASL_PLUGIN TOOL DLOPEN_CHECK NM" >&2
  exit 2
fi
lib=$1 module=$2 plugin=$3 tool=$4 check=$5 nm=$6
tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-shared-lib.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/report.sh"

"$nm" -D --defined-only -C "$lib" | awk '{ $1 = ""; $2 = ""; print substr($0, 3) }' >"$tmp/exports"
if [[ -s $tmp/exports ]] && ! grep -qv '^apppass::envreg::' "$tmp/exports"; then
  ok "libapppass-shared.so exports only apppass::envreg:: ($(wc -l <"$tmp/exports") symbols)"
else
  not_ok "libapppass-shared.so exports only apppass::envreg::" "$(cat "$tmp/exports")"
fi

want=$(readlink -f "$lib")
for bin in "$module" "$plugin" "$tool"; do
  name=$(basename -- "$bin")
  if readelf -dW "$bin" | grep -q 'NEEDED.*\[libapppass-shared.so\]'; then
    ok "$name needs libapppass-shared.so"
  else
    not_ok "$name needs libapppass-shared.so"
  fi
  got=$(ldd "$bin" | awk '$1 == "libapppass-shared.so" { print $3 }')
  if [[ -n $got && $(readlink -f "$got") == "$want" ]]; then
    ok "$name finds it through its RUNPATH ($got)"
  else
    not_ok "$name finds it through its RUNPATH" "$(ldd "$bin")"
  fi
done

# A setuid-root program, run by nobody, loading the module: AT_SECURE.
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
  echo "ok - # SKIP the setuid check needs root and setpriv"
else
  chmod 0755 "$tmp"
  install -o root -m 4755 "$check" "$tmp/dlopen_check"
  if out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/dlopen_check" "$module" "$plugin" 2>&1) &&
      grep -q 'secure=1' <<<"$out"; then
    ok "a setuid-root program run by nobody (AT_SECURE) loads the module and the plugin"
  elif grep -q 'secure=1' <<<"$out"; then
    not_ok "a setuid-root program run by nobody (AT_SECURE) loads the module and the plugin" "$out"
  elif findmnt -no OPTIONS --target "$tmp" 2>/dev/null | tr ',' '\n' | grep -qx nosuid; then
    # A nosuid mount runs the copy without AT_SECURE: nothing to learn here.
    echo "ok - # SKIP $tmp is on a nosuid mount: $out"
  else
    # The program runs as root (euid 0) and opens the module itself, so the build tree
    # need not be reachable by nobody: any other failure is one.
    not_ok "a setuid-root program run by nobody (AT_SECURE) loads the module and the plugin" \
      "no secure=1 from $tmp/dlopen_check: $out"
  fi
fi

finish
