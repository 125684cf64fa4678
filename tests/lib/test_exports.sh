#!/bin/bash
# A loadable module (the PAM module, the SASL plugin) exports exactly its entry points,
# each a global function, is hardened at link time (full RELRO, no text relocations) and
# loads with RTLD_NOW in a fresh process (every symbol it needs resolves) where dlsym
# finds the entry points and none of the named absent ones.
#
#   test_exports.sh FILE NM PYTHON3 --export SYM [--export SYM...] [--absent SYM...]
#                   [--lib-name]
#
# --lib-name: the file must be named lib<name>.so (libsasl2 looks only for those).
# Environment: APPPASS_TEST_PRELOAD (optional) is preloaded into python3, e.g. the ASan
# runtime when the module is sanitized. Used by tests/pam and tests/sasl.
set -euo pipefail

usage() { echo "usage: $0 FILE NM PYTHON3 --export SYM... [--absent SYM...] [--lib-name]" >&2; exit 2; }
[ $# -ge 5 ] || usage
file=$1 nm=$2 python=$3
shift 3
exports=() absent=() lib_name=0
while [ $# -gt 0 ]; do
  case $1 in
    --export) [ $# -ge 2 ] || usage; exports+=("$2"); shift 2 ;;
    --absent) [ $# -ge 2 ] || usage; absent+=("$2"); shift 2 ;;
    --lib-name) lib_name=1; shift ;;
    *) usage ;;
  esac
done
[ ${#exports[@]} -gt 0 ] || usage
[ -r "$file" ] || { echo "$0: cannot read $file" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-exports.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR source=report.sh
source "$(dirname "${BASH_SOURCE[0]}")/report.sh"

if [ "$lib_name" = 1 ]; then
  case $(basename -- "$file") in
    lib*.so) ok "the file is named lib<name>.so ($(basename -- "$file"))" ;;
    *) not_ok "the file is named lib<name>.so ($(basename -- "$file"))" ;;
  esac
fi

# --- Exactly the entry points, nothing else, each a function in the text section.
"$nm" -D --defined-only "$file" >"$tmp/nm"
awk '{ print $NF }' "$tmp/nm" | sort >"$tmp/names"
printf '%s\n' "${exports[@]}" | sort >"$tmp/want"
if cmp -s "$tmp/names" "$tmp/want"; then
  ok "nm -D --defined-only lists exactly $(tr '\n' ' ' <"$tmp/want" | sed 's/ $//')"
else
  not_ok "nm -D --defined-only lists exactly $(tr '\n' ' ' <"$tmp/want" | sed 's/ $//')"
  diff "$tmp/want" "$tmp/names" | sed 's/^/#   /' || true
fi
if [ "$(awk '$2 == "T"' "$tmp/nm" | wc -l)" -eq ${#exports[@]} ]; then
  ok "the entry points are global functions (T)"
else
  not_ok "the entry points are global functions (T)"
  sed 's/^/#   /' "$tmp/nm"
fi

# --- Link-time hardening the module's CMakeLists asks for.
readelf=$(dirname -- "$nm")/readelf
[ -x "$readelf" ] || readelf=$(command -v readelf || true)
if [ -n "$readelf" ]; then
  if "$readelf" -lW "$file" | grep -q GNU_RELRO && "$readelf" -dW "$file" | grep -q -E 'BIND_NOW|FLAGS.*NOW'; then
    ok "full RELRO (GNU_RELRO and BIND_NOW)"
  else
    not_ok "full RELRO (GNU_RELRO and BIND_NOW)"
  fi
  if "$readelf" -dW "$file" | grep -q TEXTREL; then not_ok "no text relocations"; else ok "no text relocations"; fi
else
  echo "ok - full RELRO # SKIP no readelf"
fi

# --- dlopen with RTLD_NOW, in a fresh process that has not loaded libpam or libsasl2.
if env LD_PRELOAD="${APPPASS_TEST_PRELOAD:-}" "$python" - "$file" "${exports[*]}" "${absent[*]:-}" <<'PY'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)
for name in sys.argv[2].split():
    getattr(lib, name)  # AttributeError if dlsym fails
for name in sys.argv[3].split():
    try:
        getattr(lib, name)
    except AttributeError:
        continue
    sys.exit(f"{name} should not be there")
PY
then
  ok "dlopen(RTLD_NOW) loads it and dlsym finds the entry points (and none of: ${absent[*]:-})"
else
  not_ok "dlopen(RTLD_NOW) loads it and dlsym finds the entry points (and none of: ${absent[*]:-})"
fi

finish
