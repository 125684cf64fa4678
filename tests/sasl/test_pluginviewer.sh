#!/bin/bash
# saslpluginviewer (Cyrus SASL's own tool, a foreign program) loads libapppass.so and
# lists it with exactly its two mechanisms, PLAIN and LOGIN, ahead of the stock PLAIN and
# LOGIN in libsasl's mechanism list whatever the order of the plugin directories; an
# application whose config has no apppass_db does not get it at all.
#
#   test_pluginviewer.sh PLUGIN APPPASS_TOOL SASLPLUGINVIEWER STOCK_PLUGIN_DIR
#
# saslpluginviewer's application name is "pluginviewer": it reads pluginviewer.conf from
# SASL_CONF_PATH and plugins from SASL_PATH (both honoured since uid == euid).
# Environment: APPPASS_TEST_PRELOAD (optional) is preloaded into saslpluginviewer.
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 PLUGIN APPPASS_TOOL SASLPLUGINVIEWER STOCK_PLUGIN_DIR" >&2
  exit 2
fi
plugin=$(realpath -e "$1")
tool=$2
viewer=$3
stock=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-sasl-viewer.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/report.sh"

mkdir "$tmp/ours" "$tmp/conf"
ln -s "$plugin" "$tmp/ours/libapppass.so"
"$tool" --db "$tmp/store" init >/dev/null 2>&1 || { echo "not ok - apppass init"; exit 1; }

conf() {   # conf LINES...: writes pluginviewer.conf
  printf '%s\n' "$@" >"$tmp/conf/pluginviewer.conf"
}

# view PATH: runs saslpluginviewer -s, keeps its output in $tmp/out and one record per
# server mechanism, in libsasl's list order, in $tmp/records:
#   PLUGIN MECHANISM FLAGS FEATURES
view() {
  env LD_PRELOAD="${APPPASS_TEST_PRELOAD:-}" SASL_PATH="$1" SASL_CONF_PATH="$tmp/conf" \
    "$viewer" -s >"$tmp/out" 2>&1 || true
  awk '
    /^List of server plugins follows/ { on = 1; next }
    !on { next }
    /^Plugin "/ { split($0, q, "\""); plugin = q[2]; next }
    /SASL mechanism:/ { sub(/.*SASL mechanism: /, ""); sub(/,.*/, ""); mech = $0; next }
    /security flags:/ { sub(/.*security flags: */, ""); flags = $0; next }
    /features:/ { sub(/.*features: */, ""); print plugin, mech, flags, ($0 == "" ? "-" : $0) }
  ' "$tmp/out" >"$tmp/records"
}

show() { sed 's/^/#   /' "$tmp/out"; }

# --- Our plugin alone.
conf "mech_list: PLAIN LOGIN" "apppass_db: $tmp/store"
view "$tmp/ours"
ours=$(awk '$1 == "apppass"' "$tmp/records")
want="apppass PLAIN NO_ANONYMOUS|PASS_CREDENTIALS WANT_CLIENT_FIRST
apppass LOGIN NO_ANONYMOUS|PASS_CREDENTIALS -"
if [ "$ours" = "$want" ]; then
  ok "plugin \"apppass\" offers exactly PLAIN and LOGIN, with the stock flags (PLAIN without PROXY_AUTHENTICATION)"
else
  not_ok "plugin \"apppass\" offers exactly PLAIN and LOGIN, with the stock flags (PLAIN without PROXY_AUTHENTICATION)"
  show
fi
check "saslpluginviewer finds PLAIN LOGIN for the application" \
  grep -q -x '  PLAIN LOGIN' "$tmp/out"
if grep -q -E 'CRAM-MD5|DIGEST-MD5|SCRAM|NTLM|GSSAPI|OTP' "$tmp/out"; then
  not_ok "nothing else (no CRAM-MD5, DIGEST-MD5, SCRAM-*, ...) is offered"
  show
else
  ok "nothing else (no CRAM-MD5, DIGEST-MD5, SCRAM-*, ...) is offered"
fi

# --- With the stock plugins: ours first in libsasl's list, in both load orders.
first_of() {   # first_of MECH: the plugin of the first record for MECH
  awk -v m="$1" '$2 == m { print $1; exit }' "$tmp/records"
}
for order in "$tmp/ours:$stock" "$stock:$tmp/ours"; do
  label=${order//$tmp\/ours/ours}
  label=${label//$stock/stock}
  view "$order"
  for mech in PLAIN LOGIN; do
    stock_plugin=${mech,,}
    if [ "$(first_of "$mech")" = apppass ] && grep -q "^$stock_plugin $mech " "$tmp/records"; then
      ok "path $label: apppass $mech is ahead of the stock $mech"
    else
      not_ok "path $label: apppass $mech is ahead of the stock $mech"
      sed 's/^/#   /' "$tmp/records"
    fi
  done
done

# --- Fail closed: a missing store still registers (and outranks) both mechanisms.
conf "mech_list: PLAIN LOGIN" "apppass_db: $tmp/no-such-store"
view "$stock:$tmp/ours"
if [ "$(first_of PLAIN)" = apppass ] && [ "$(first_of LOGIN)" = apppass ]; then
  ok "store missing: apppass PLAIN and LOGIN are still registered first (they refuse, never fall back)"
else
  not_ok "store missing: apppass PLAIN and LOGIN are still registered first (they refuse, never fall back)"
  show
fi

# --- An application without apppass_db keeps the stock plugins only.
conf "mech_list: PLAIN LOGIN"
view "$stock:$tmp/ours"
if ! grep -q '^apppass ' "$tmp/records" && [ "$(first_of PLAIN)" = plain ]; then
  ok "no apppass_db: the plugin stays out (stock PLAIN and LOGIN only)"
else
  not_ok "no apppass_db: the plugin stays out (stock PLAIN and LOGIN only)"
  show
fi

finish
