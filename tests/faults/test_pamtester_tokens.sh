#!/bin/bash
# Token length limits through pamtester (a PAM application we did not write: its
# conversation is libpam_misc's misc_conv, which reads the password from stdin), under
# pam_wrapper with service files of our own (never /etc/pam.d).
#
#   test_pamtester_tokens.sh APPPASS_TOOL PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER PAM_PERMIT
#
# Passwords of 511, 512 and 513 bytes, 64 KiB and 1 MiB, the real app password padded with
# spaces or dashes: accepted up to the 512-byte limit, refused whole beyond it (never
# matched after truncation, whoever would truncate), with a decision line naming the
# reason; the time per call is printed and only bounded generously (< 1 s per call).
# Environment: APPPASS_TEST_PRELOAD (optional) goes before pam_wrapper in LD_PRELOAD.
set -euo pipefail

if [ $# -ne 5 ]; then
  echo "usage: $0 APPPASS_TOOL PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER PAM_PERMIT" >&2
  exit 2
fi
apppass_bin=$1 module=$2 wrapper=$3 pamtester=$4 permit=$5
for f in "$apppass_bin" "$module" "$wrapper" "$pamtester" "$permit"; do
  case $f in /*) ;; *) echo "$0: not an absolute path: $f" >&2; exit 2 ;; esac
  [ -r "$f" ] || { echo "$0: cannot read $f" >&2; exit 2; }
done
command -v oathtool >/dev/null || { echo "$0: oathtool is needed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apppass-pamtester-tokens.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
store=$tmp/store
services=$tmp/services
mkdir "$services"
: >"$services/other"
printf 'auth required %s db=%s\nauth required %s\n' "$module" "$store" "$permit" >"$services/imap"

preload=$wrapper
if [ -n "${APPPASS_TEST_PRELOAD:-}" ]; then preload=$APPPASS_TEST_PRELOAD:$wrapper; fi

# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/report.sh"

apppass() { env -u LD_PRELOAD "$apppass_bin" --db "$store" "$@"; }
json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

apppass init >/dev/null
secret=$(apppass mfa enroll alice --json | json_get secret)
apppass mfa confirm alice "$(oathtool --totp -b "$secret")" >/dev/null
pw=$(apppass create alice --name phone --all-services --json | json_get password)

# pad STRING LENGTH CHAR: STRING followed by CHAR up to LENGTH bytes.
pad() { python3 -c 'import sys; s, n, c = sys.argv[1], int(sys.argv[2]), sys.argv[3]; sys.stdout.write(s + c * (n - len(s)))' "$1" "$2" "$3"; }

# try NAME WANT(0 accepted, 1 refused) NEEDLE PASSWORD-FILE
try() {
  local name=$1 want=$2 needle=$3 input=$4 rc=0 t0 t1 ms size
  size=$(stat -c %s "$input")
  # From a file, not a pipe: pamtester's exit status alone, never a writer's SIGPIPE.
  { cat "$input"; echo; } >"$tmp/stdin"
  t0=$(date +%s%N)
  env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$services" \
    PAM_WRAPPER_DEBUGLEVEL=4 "$pamtester" -v imap alice authenticate <"$tmp/stdin" >"$tmp/out" 2>"$tmp/err" || rc=$?
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  sed -n 's/^.*SYSLOG([0-9]*): //p' "$tmp/err" | grep -E '^(accepted|refused|error) ' >"$tmp/log" || true
  local lines why=""
  lines=$(wc -l <"$tmp/log")
  if [ "$want" -eq 0 ] && [ "$rc" -ne 0 ]; then why="refused (exit $rc), want accepted"
  elif [ "$want" -ne 0 ] && [ "$rc" -eq 0 ]; then why="ACCEPTED, want refused"
  elif [ "$lines" -ne 1 ]; then why="$lines decision lines, want 1"
  elif ! grep -qF -- "$needle" "$tmp/log"; then why="log lacks '$needle': $(cat "$tmp/log")"
  elif [ "$ms" -ge 1000 ]; then why="took $ms ms (bound 1 s)"
  fi
  if [ -z "$why" ]; then ok "pamtester: $name ($size bytes): $([ "$want" -eq 0 ] && echo accepted || echo refused) in $ms ms"
  else not_ok "pamtester: $name ($size bytes): $why"; fi
}

pad "$pw" 511 ' ' >"$tmp/p511"
pad "$pw" 512 ' ' >"$tmp/p512"
pad "$pw" 512 '-' >"$tmp/d512"
pad "$pw" 513 ' ' >"$tmp/p513"
pad "$pw" 513 '-' >"$tmp/d513"
pad "$pw" 65536 ' ' >"$tmp/p64k"
pad "$pw" 1048576 ' ' >"$tmp/p1m"
pad "$pw" 512 'x' >"$tmp/x512"
pad "" 511 a >"$tmp/a511"
pad "" 513 a >"$tmp/a513"
pad "" 1048576 a >"$tmp/a1m"

try "app password + spaces to 511 bytes" 0 "accepted service=imap user=alice" "$tmp/p511"
try "app password + spaces to 512 bytes (the limit)" 0 "accepted service=imap user=alice" "$tmp/p512"
try "app password + dashes to 512 bytes" 0 "accepted service=imap user=alice" "$tmp/d512"
try "app password + spaces to 513 bytes" 1 'reason=bad-input detail="password longer than 512 bytes"' "$tmp/p513"
try "app password + dashes to 513 bytes" 1 "reason=bad-input" "$tmp/d513"
# misc_conv reads at most a few KiB of a line, still far over the limit: refused whole.
try "app password + spaces to 64 KiB" 1 "reason=bad-input" "$tmp/p64k"
try "app password + spaces to 1 MiB" 1 "reason=bad-input" "$tmp/p1m"
try "app password + 'x' junk to 512 bytes" 1 "reason=wrong-password" "$tmp/x512"
try "511 bytes of 'a'" 1 "reason=wrong-password" "$tmp/a511"
try "513 bytes of 'a'" 1 "reason=bad-input" "$tmp/a513"
try "1 MiB of 'a'" 1 "reason=bad-input" "$tmp/a1m"

echo "1..$((PASSED + FAILED))"
finish
