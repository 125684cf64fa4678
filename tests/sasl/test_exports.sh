#!/bin/bash
# libapppass.so exports exactly its SASL entry point, is hardened at link time, and loads
# with RTLD_NOW (every symbol it needs resolves) in a process that has not loaded libsasl2.
#
#   test_exports.sh PLUGIN NM PYTHON3
#
# Environment: APPPASS_TEST_PRELOAD (optional) is preloaded into python3, e.g. the ASan
# runtime when the plugin is sanitized.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 PLUGIN NM PYTHON3" >&2
  exit 2
fi
plugin=$1
nm=$2
python=$3
[ -r "$plugin" ] || { echo "$0: cannot read $plugin" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-sasl-exports.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

# libsasl2 looks for lib<name>.so files.
case $(basename -- "$plugin") in
  lib*.so) ok "the file is named lib<name>.so ($(basename -- "$plugin"))" ;;
  *) not_ok "the file is named lib<name>.so ($(basename -- "$plugin"))" ;;
esac

# --- Exactly sasl_server_plug_init, a function in the text section; no client side.
"$nm" -D --defined-only "$plugin" >"$tmp/nm"
awk '{ print $NF }' "$tmp/nm" | sort >"$tmp/names"
if [ "$(cat "$tmp/names")" = sasl_server_plug_init ]; then
  ok "nm -D --defined-only lists exactly sasl_server_plug_init"
else
  not_ok "nm -D --defined-only lists exactly sasl_server_plug_init"
  sed 's/^/#   /' "$tmp/nm"
fi
if awk '$2 == "T" && $3 == "sasl_server_plug_init"' "$tmp/nm" | grep -q .; then
  ok "sasl_server_plug_init is a global function (T)"
else
  not_ok "sasl_server_plug_init is a global function (T)"
fi

# --- Link-time hardening asked for by sasl_plugin/CMakeLists.txt.
readelf=$(dirname -- "$nm")/readelf
[ -x "$readelf" ] || readelf=$(command -v readelf || true)
if [ -n "$readelf" ]; then
  if "$readelf" -lW "$plugin" | grep -q GNU_RELRO && "$readelf" -dW "$plugin" | grep -q -E 'BIND_NOW|FLAGS.*NOW'; then
    ok "full RELRO (GNU_RELRO and BIND_NOW)"
  else
    not_ok "full RELRO (GNU_RELRO and BIND_NOW)"
  fi
  if "$readelf" -dW "$plugin" | grep -q TEXTREL; then not_ok "no text relocations"; else ok "no text relocations"; fi
else
  echo "ok - full RELRO # SKIP no readelf"
fi

# --- dlopen with RTLD_NOW in a fresh process.
if env LD_PRELOAD="${APPPASS_TEST_PRELOAD:-}" "$python" - "$plugin" <<'PY'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)
lib.sasl_server_plug_init  # AttributeError if dlsym fails
for name in ("sasl_client_plug_init", "sasl_auxprop_plug_init", "sasl_canonuser_init"):
    try:
        getattr(lib, name)
    except AttributeError:
        continue
    sys.exit(f"{name} should not be there")
PY
then
  ok "dlopen(RTLD_NOW) loads it; only the server entry point is found"
else
  not_ok "dlopen(RTLD_NOW) loads it; only the server entry point is found"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
