#!/bin/bash
# The `portal` part of tests/bench/run-benchmarks: apppass-web's page times, from
# tests/web_load/test_web_load.py (a real apppassd and apppass-web on 127.0.0.1, every
# answer checked) at small sizes: its one-client-at-a-time run ("alone": the server's time
# per page plus one loopback trip) and a small load of a few signed-in clients at once.
# Writes the part's JSON from the figures the test leaves in APPPASS_LOAD_JSON. Root only
# (the test exits 77 otherwise, and so does this).
#
# Usage: tests/bench/bench_portal.sh --out FILE.json [--quick] [--build DIR]
#   --build  the build dir (default build-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

build=build-bench out="" quick=false
while (($#)); do
    case $1 in
        --build) build=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --quick) quick=true; shift ;;
        *) echo "usage: $0 --out FILE.json [--quick] [--build DIR]" >&2; exit 2 ;;
    esac
done
[[ -n $out ]] || { echo "usage: $0 --out FILE.json [--quick] [--build DIR]" >&2; exit 2; }
out=$(realpath -m "$out")
build=$(cd "$build" && pwd)
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/apppass-bench-portal.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if $quick; then
    users=5 rounds=1 solo_rounds=10
else
    users=20 rounds=3 solo_rounds=100
fi
rc=0
env LC_ALL=C.UTF-8 TZ=UTC APPPASS_WEB_LOCALE_DIR="$build/tools/apppass-web/locale" \
    APPPASS_LOAD_USERS=$users APPPASS_LOAD_ROUNDS=$rounds APPPASS_LOAD_PHASES=2 \
    APPPASS_LOAD_SOLO_ROUNDS=$solo_rounds APPPASS_LOAD_JSON="$tmp/raw.json" \
    "$PY" "$here/../web_load/test_web_load.py" "$build/tools/apppassd/apppassd" \
    "$build/tools/apppass/apppass" "$build/tools/apppass-web/apppass-web" \
    /usr/lib/x86_64-linux-gnu/libpam_wrapper.so \
    /usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so >"$tmp/log" 2>&1 || rc=$?
if ((rc != 0)); then
    cat "$tmp/log" >&2
    echo "bench_portal.sh: test_web_load.py exited $rc" >&2
    exit "$rc"
fi

"$PY" - "$tmp/raw.json" "$out" "$quick" <<'PYEOF'
import json, sys
raw = json.load(open(sys.argv[1]))
out, quick = sys.argv[2], sys.argv[3] == "true"
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))] * 1e6 if v else 0.0
order = ["GET /signin", "POST /signin", "POST /signin/code", "GET /passwords",
         "GET /passwords/new", "POST /passwords/new", "GET /passwords/created",
         "GET /passwords/created (again)", "GET /passwords (after)"]
rows = []
for label in order:
    a, l = raw["alone"].get(label, []), raw["load"].get(label, [])
    if not a:
        continue
    rows.append({"name": label, "n": len(a), "p50_us": pct(a, 0.5), "p99_us": pct(a, 0.99),
                 "extra": {f"p50_us_{raw['users']}_clients": round(pct(l, 0.5), 1),
                           f"p99_us_{raw['users']}_clients": round(pct(l, 0.99), 1)}})
last = raw["phase"][f"round{raw['phases']}"]
notes = [
    "tests/web_load/test_web_load.py at small sizes: a real apppassd (root; its PAM service "
    "pam_matrix under pam_wrapper, so a sign-in's password check is not yescrypt) and the real "
    "apppass-web as nobody on 127.0.0.1; every answer checked. p50/p99: one client at a time "
    f"({raw['solo_users']} sign-ins, {raw['solo_rounds']} rounds of list, new, create, created, "
    "created again, list), client side over loopback. extra: the same pages with "
    f"{raw['users']} signed-in clients at once.",
    "POST /passwords/new commits the new app password to disk through apppassd (a CREATE "
    "with the session as second factor).",
    f"Under load ({raw['users']} clients, last phase): {last['requests'] / last['seconds']:.0f} "
    f"requests/s; CPU per request apppass-web {last['web_cpu_s'] / last['requests'] * 1e3:.2f} ms, "
    f"apppassd {last['broker_cpu_s'] / last['requests'] * 1e3:.2f} ms (clock ticks: coarse).",
]
result = {"part": "portal", "title": "Self-service portal (apppass-web) page times",
          "order": 70,
          "config": {"clients_under_load": raw["users"], "rounds": raw["rounds"],
                     "phases": raw["phases"], "solo_rounds": raw["solo_rounds"], "quick": quick},
          "rows": rows, "targets": [], "notes": notes}
with open(out, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
for r in rows:
    print(f'{r["name"]:32s} alone p50 {r["p50_us"] / 1e3:7.2f} ms  p99 {r["p99_us"] / 1e3:7.2f} ms  (n {r["n"]})')
PYEOF
