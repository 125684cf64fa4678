#!/bin/bash
# pam_apppass.so exports exactly its three PAM entry points, is hardened at link time,
# and loads with RTLD_NOW (every symbol it needs resolves).
#
#   test_exports.sh PAM_MODULE NM PYTHON3
#
# Environment: APPPASS_TEST_PRELOAD (optional) is preloaded into python3, e.g. the ASan
# runtime when the module is sanitized.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 PAM_MODULE NM PYTHON3" >&2
  exit 2
fi
module=$1
nm=$2
python=$3
[ -r "$module" ] || { echo "$0: cannot read $module" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-exports.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

# --- Exactly pam_sm_acct_mgmt, pam_sm_authenticate, pam_sm_setcred; nothing else, and
# all three are functions in the text section.
"$nm" -D --defined-only "$module" >"$tmp/nm"
awk '{ print $NF }' "$tmp/nm" | sort >"$tmp/names"
printf '%s\n' pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred >"$tmp/want"
if cmp -s "$tmp/names" "$tmp/want"; then
  ok "nm -D --defined-only lists exactly the three pam_sm_* entry points"
else
  not_ok "nm -D --defined-only lists exactly the three pam_sm_* entry points"
  diff "$tmp/want" "$tmp/names" | sed 's/^/#   /' || true
fi
if [ "$(awk '$2 == "T"' "$tmp/nm" | wc -l)" -eq 3 ]; then
  ok "the entry points are global functions (T)"
else
  not_ok "the entry points are global functions (T)"
  sed 's/^/#   /' "$tmp/nm"
fi

# --- Link-time hardening the module's CMakeLists asks for: full RELRO, no text relocations.
readelf=$(dirname -- "$nm")/readelf
[ -x "$readelf" ] || readelf=$(command -v readelf || true)
if [ -n "$readelf" ]; then
  if "$readelf" -lW "$module" | grep -q GNU_RELRO && "$readelf" -dW "$module" | grep -q -E 'BIND_NOW|FLAGS.*NOW'; then
    ok "full RELRO (GNU_RELRO and BIND_NOW)"
  else
    not_ok "full RELRO (GNU_RELRO and BIND_NOW)"
  fi
  if "$readelf" -dW "$module" | grep -q TEXTREL; then not_ok "no text relocations"; else ok "no text relocations"; fi
else
  echo "ok - full RELRO # SKIP no readelf"
fi

# --- dlopen with RTLD_NOW, in a fresh process that has not loaded libpam itself.
if env LD_PRELOAD="${APPPASS_TEST_PRELOAD:-}" "$python" - "$module" <<'EOF'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)
for name in ("pam_sm_authenticate", "pam_sm_setcred", "pam_sm_acct_mgmt"):
    getattr(lib, name)  # AttributeError if dlsym fails
for name in ("pam_sm_open_session", "pam_sm_close_session", "pam_sm_chauthtok"):
    try:
        getattr(lib, name)
    except AttributeError:
        continue
    sys.exit(f"{name} should not be there")
EOF
then
  ok "dlopen(RTLD_NOW) loads it and dlsym finds the entry points (and no others)"
else
  not_ok "dlopen(RTLD_NOW) loads it and dlsym finds the entry points (and no others)"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
