#!/bin/bash
# pam_apppass.so driven by pamtester, a PAM application we did not write, under
# pam_wrapper (service files in a throwaway directory, never /etc/pam.d).
#
#   test_pamtester.sh APPPASS_TOOL PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER
#
# Checks the accept / refuse / revoke / scope flow through pamtester's exit status, the
# decision log line of each attempt (pam_wrapper at debug level 4 puts pam_syslog lines on
# stderr as "PWRAP_TRACE[...] - SYSLOG(n): <line>"), that no password ever shows up on
# stderr, and that 'apppass list --json' reports the last use (service and remote host).
#
# Environment: APPPASS_TEST_PRELOAD (optional) is put in front of pam_wrapper in
# LD_PRELOAD for pamtester, e.g. the ASan runtime when the module is sanitized.
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 APPPASS_TOOL PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER" >&2
  exit 2
fi
apppass_bin=$1
module=$2
wrapper=$3
pamtester=$4
for f in "$apppass_bin" "$module" "$wrapper" "$pamtester"; do
  case $f in /*) ;; *) echo "$0: not an absolute path: $f" >&2; exit 2 ;; esac
  [ -r "$f" ] || { echo "$0: cannot read $f" >&2; exit 2; }
done
command -v oathtool >/dev/null || { echo "$0: oathtool is needed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-pamtester.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

store=$tmp/store
services=$tmp/services
mkdir "$services"
: >"$services/other"
service_file() {  # NAME MODULE-ARGS...
  local name=$1
  shift
  printf 'auth required %s %s\naccount required %s %s\n' "$module" "$*" "$module" "$*" \
    >"$services/$name"
}
# usage_interval=0: every accepted login records its last use (the throttle is time only
# since issue 14), so the login with a remote host below is what 'apppass list' shows.
service_file imap "db=$store" usage_interval=0
service_file pop3 "db=$store"
service_file mail-pop3 "db=$store" scope=pop3

preload=$wrapper
if [ -n "${APPPASS_TEST_PRELOAD:-}" ]; then preload=$APPPASS_TEST_PRELOAD:$wrapper; fi

# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/report.sh"

apppass() { env -u LD_PRELOAD "$apppass_bin" --db "$store" "$@"; }
json_get() {  # KEY: prints the value of KEY of the JSON object on stdin
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Every password this script has seen; none may ever appear on stderr.
passwords=()
all_stderr=$tmp/all-stderr
: >"$all_stderr"

# pam PASSWORD [PAMTESTER-OPTIONS...] SERVICE USER OPERATION...
# Runs pamtester with PASSWORD on stdin. Sets $rc; the log lines are in $tmp/log.
# pam_wrapper prints pam_syslog lines at its trace level (3 and up) only.
debuglevel=4
pam() {
  local password=$1
  shift
  set +e
  printf '%s\n' "$password" |
    env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$services" \
      PAM_WRAPPER_DEBUGLEVEL=$debuglevel "$pamtester" -v "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
  cat "$tmp/err" >>"$all_stderr"
  sed -n 's/^.*SYSLOG([0-9]*): //p' "$tmp/err" >"$tmp/log"
  if grep -q -e 'runtime error' -e 'ERROR: AddressSanitizer' "$tmp/err"; then
    cat "$tmp/err" >&2
    not_ok "sanitizer report from pamtester $*"
  fi
}

# expect NAME WANT_RC LOG_LINE_REGEX: checks the last pam run.
expect() {
  local name=$1 want=$2 regex=$3
  local why=""
  if [ "$want" = 0 ] && [ "$rc" != 0 ]; then why="pamtester failed (exit $rc)"; fi
  if [ "$want" != 0 ] && [ "$rc" = 0 ]; then why="pamtester succeeded"; fi
  if [ -z "$why" ] && ! grep -E -q -- "$regex" "$tmp/log"; then why="no log line matching /$regex/"; fi
  if [ -z "$why" ] && [ "$(wc -l <"$tmp/log")" -ne 1 ]; then why="want exactly one log line"; fi
  if [ -z "$why" ]; then
    ok "$name"
  else
    not_ok "$name: $why"
    sed 's/^/#   out: /' "$tmp/out"
    sed 's/^/#   log: /' "$tmp/log"
  fi
}

# --- A store with two users with confirmed MFA and a few app passwords.
apppass init >/dev/null
for user in alice bob; do
  secret=$(apppass mfa enroll "$user" --json | json_get secret)
  apppass mfa confirm "$user" "$(oathtool --totp -b "$secret")" >/dev/null
done
create() {  # USER NAME [OPTIONS...]: sets $id and $pw
  local json
  json=$(apppass create "$@" --json)
  id=$(json_get id <<<"$json")
  pw=$(json_get password <<<"$json")
  passwords+=("$pw")
}
create alice --name laptop --all-services
laptop_id=$id laptop_pw=$pw
create alice --name phone --scope pop3
phone_id=$id phone_pw=$pw
create alice --name tablet --all-services
tablet_id=$id tablet_pw=$pw
create bob --name desktop --all-services
bob_pw=$pw
ok "store set up with the admin tool"

# --- Accept and refuse.
pam "$laptop_pw" imap alice authenticate
expect "right password accepted" 0 \
  "^accepted service=imap user=alice rhost=- id=$laptop_id name=laptop\$"
if grep -q "successfully authenticated" "$tmp/out"; then
  ok "pamtester reports success"
else
  not_ok "pamtester reports success"
fi

pam "$laptop_pw" imap alice authenticate acct_mgmt
expect "authenticate then acct_mgmt: both succeed" 0 "^accepted service=imap user=alice "

pam "wxyz-wxyz-wxyz-wxyz-wxyz" imap alice authenticate
expect "wrong password refused" 1 "^refused service=imap user=alice rhost=- reason=wrong-password\$"

pam "$bob_pw" imap alice authenticate
expect "another user's password refused" 1 "^refused service=imap user=alice rhost=- reason=wrong-password\$"

pam "$laptop_pw" imap carol authenticate
expect "unknown user refused" 1 "^refused service=imap user=carol rhost=- reason=unknown-user\$"

pam "" imap alice authenticate
expect "empty password refused" 1 "^refused service=imap user=alice rhost=- reason=bad-input"

# --- Scopes.
pam "$phone_pw" imap alice authenticate
expect "pop3-only password refused on imap" 1 \
  "^refused service=imap user=alice rhost=- reason=out-of-scope id=$phone_id name=phone\$"
pam "$phone_pw" pop3 alice authenticate
expect "pop3-only password accepted on pop3" 0 "^accepted service=pop3 user=alice rhost=- id=$phone_id "
pam "$phone_pw" mail-pop3 alice authenticate
expect "pop3-only password accepted with scope=pop3" 0 "^accepted service=pop3 user=alice rhost=- id=$phone_id "

# --- Revocation.
pam "$tablet_pw" imap alice authenticate
expect "password accepted before revocation" 0 "^accepted service=imap user=alice rhost=- id=$tablet_id "
apppass revoke alice "$tablet_id" >/dev/null
pam "$tablet_pw" imap alice authenticate
expect "revoked password refused" 1 \
  "^refused service=imap user=alice rhost=- reason=revoked id=$tablet_id name=tablet\$"
pam "$laptop_pw" imap alice authenticate
expect "other password still accepted after a revocation" 0 "^accepted service=imap user=alice rhost=- id=$laptop_id "

# --- Remote host (pamtester -I sets PAM items).
pam "$laptop_pw" -I rhost=1.2.3.4 imap alice authenticate
expect "remote host in the accepted line" 0 \
  "^accepted service=imap user=alice rhost=1\\.2\\.3\\.4 id=$laptop_id name=laptop\$"
pam "nope" -I rhost=1.2.3.4 imap alice authenticate
expect "remote host in the refused line" 1 \
  "^refused service=imap user=alice rhost=1\\.2\\.3\\.4 reason=wrong-password\$"

# --- Last use, as the admin tool reports it.
list=$(apppass list alice --json)
if python3 - "$laptop_id" "$list" <<'EOF'
import json, sys
want_id, items = sys.argv[1], json.loads(sys.argv[2])
[item] = [i for i in items if i["id"] == want_id]
ok = item["last_service"] == "imap" and item["last_rhost"] == "1.2.3.4" and item["last_used"]
sys.exit(0 if ok else 1)
EOF
then
  ok "apppass list shows last_service=imap last_rhost=1.2.3.4 after the login"
else
  not_ok "apppass list shows last_service=imap last_rhost=1.2.3.4 after the login: $list"
fi

# --- No password on stderr. pam_wrapper's own trace prints PAM items, PAM_AUTHTOK included
# ("pwrap_set_item PAM_AUTHTOK=..."): those lines are the harness, not the module; any
# other line with a password is a leak.
leaks() {  # FILE: exit 0 when a password is in FILE outside pam_wrapper's item trace
  local p
  grep -v -E 'pwrap_(set|get)_item PAM_[A-Z_]+=' "$1" >"$tmp/filtered" || true
  for p in "${passwords[@]}"; do
    if grep -F -q -- "$p" "$tmp/filtered" || grep -F -q -- "${p//-/}" "$tmp/filtered"; then return 0; fi
  done
  return 1
}
if ! grep -q 'SYSLOG(' "$all_stderr"; then
  not_ok "captured stderr has the module's log lines"
elif leaks "$all_stderr"; then
  not_ok "no password in captured stderr, pam_wrapper's item trace aside"
else
  ok "no password in $(wc -l <"$all_stderr") lines of captured stderr, pam_wrapper's item trace aside"
fi
# And without pam_wrapper's trace, nothing at all: stdout and stderr of accepted and refused
# attempts, for every outcome, must not contain any password.
debuglevel=0
: >"$tmp/quiet"
pam "$laptop_pw" imap alice authenticate acct_mgmt
[ "$rc" = 0 ] || not_ok "quiet accepted attempt succeeds"
cat "$tmp/out" "$tmp/err" >>"$tmp/quiet"
for attempt in "$tablet_pw imap" "$phone_pw imap" "$bob_pw imap" "$laptop_pw nosuchservice"; do
  read -r p svc <<<"$attempt"
  pam "$p" "$svc" alice authenticate
  [ "$rc" != 0 ] || not_ok "quiet refused attempt ($svc) fails"
  cat "$tmp/out" "$tmp/err" >>"$tmp/quiet"
done
found=0
for p in "${passwords[@]}"; do
  if grep -F -q -- "$p" "$tmp/quiet" || grep -F -q -- "${p//-/}" "$tmp/quiet"; then found=1; fi
done
if [ "$found" = 0 ]; then
  ok "no password in pamtester's output at all without pam_wrapper's trace"
else
  not_ok "no password in pamtester's output at all without pam_wrapper's trace"
  sed 's/^/#   /' "$tmp/quiet"
fi

finish
