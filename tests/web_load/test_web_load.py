#!/usr/bin/python3
"""apppass-web under load (issue 13): 200 signed-in sessions at once, from 127.0.0.1 only.

Usage: test_web_load.py APPPASSD APPPASS APPPASS_WEB PRELOAD PAM_MATRIX

Starts a real apppassd (root) on a throwaway store under pam_wrapper (PRELOAD), whose PAM
service `apppass-web` is pam_matrix (a password file: fast, so the load is the portal's
and the broker's, not yescrypt's), with --max-per-uid 1 (the portal's uid is exempt), and
the real apppass-web (staged where nobody can read it) as user nobody, the --portal-user,
on 127.0.0.1 with its default limits (threads 8, max_connections 256, timeout 15 s).
Users are virtual (pam_matrix knows them; `apppass mfa enroll` + `confirm` enrolled each
with a TOTP key known here). First, one client at a time (10 sign-ins, 20 rounds): the
figure nearest the server's own time per page. Then USERS client threads, each a user of
its own with one keep-alive connection, sign in at once: GET /signin (the pre-sign-in
CSRF cookie and field), POST /signin, POST /signin/code (the TOTP code computed here).
Then PHASES identical phases of ROUNDS rounds, each round: GET /passwords, GET
/passwords/new, POST /passwords/new (303), GET /passwords/created (the new password,
shown once), the same again (410, the password absent), GET /passwords (the new row,
the password absent). Every answer is checked (status, Location, cookies, content); one
error fails the test, and so does any refusal or error in either server's log.

Memory: VmRSS and RssAnon of both processes from /proc (sampled every 0.1 s, and at the
end of each phase with every connection open). Asserted without ASan: peak (VmHWM)
bounds, and the last phase's RssAnon growth over the one before (a leak). Under ASan,
whose shadow memory and quarantine inflate RSS, they are printed, not asserted, and
LeakSanitizer at the servers' exit is the leak check (both must exit 0 on SIGTERM).
Prints client-side latency per page (over loopback: the server's time plus the round
trip and the client's own queueing), requests/s and server CPU per request per phase,
and the memory figures (docs/benchmarks.md).

Environment: APPPASS_WEB_LOCALE_DIR (the built catalogues), APPPASS_LOAD_USERS (200),
APPPASS_LOAD_ROUNDS (3), APPPASS_LOAD_PHASES (2), APPPASS_LOAD_SOLO_ROUNDS (20: rounds
of the one-client-at-a-time run), APPPASS_LOAD_SANITIZED (1 in the ASan build),
APPPASS_LOAD_KEEP (keep the temporary directory), APPPASS_LOAD_JSON (a file: the raw
figures as JSON for tests/bench/bench_portal.sh: seconds per request by page, alone and
under load, and each phase's requests, seconds and CPU). Root only (77 otherwise).
"""
import base64
import hashlib
import hmac
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stage as stagelib  # noqa: E402 (tests/lib)
import threading
import time
import urllib.parse

if len(sys.argv) != 6:
    sys.exit(__doc__)
APPPASSD, APPPASS, APPPASS_WEB, PRELOAD, PAM_MATRIX = sys.argv[1:6]
LOCALE_DIR = os.environ.get("APPPASS_WEB_LOCALE_DIR", "/usr/share/locale")
USERS = int(os.environ.get("APPPASS_LOAD_USERS", "200"))
ROUNDS = int(os.environ.get("APPPASS_LOAD_ROUNDS", "3"))
PHASES = max(2, int(os.environ.get("APPPASS_LOAD_PHASES", "2")))
SANITIZED = os.environ.get("APPPASS_LOAD_SANITIZED", "0") not in ("", "0", "OFF", "FALSE")
PASSWORD = "Load-test-pw-42"
# Peak RSS bounds (MiB), from measurements with headroom (docs/benchmarks.md, 2026-12):
# apppass-web peaked at 30 MiB with 200 connections open (8 MiB idle; about 100 KiB per
# connection: its thread's stack and libmicrohttpd's 64 KiB pool), so its own limit of
# 256 connections keeps it near 35 MiB: 64 is twice that. apppassd peaked at 8 MiB
# (sessions and pending sign-ins are small; the store is mapped, and small here): 32.
WEB_PEAK_MIB = 64
BROKER_PEAK_MIB = 32
# The second phase may grow anonymous RSS (RssAnon: the heap and stacks, not the store's
# mapped pages, which grow with the records made) by at most this (MiB) over the first:
# glibc's arenas settle in the first phase, and the second makes the same requests
# (200 x 3 rounds x 6 = 3,600), so a leak of about 1 KiB per request would show.
GROWTH_MIB = 4
# Before the load, one client at a time (the figure nearest the server's own time).
SOLO_USERS = 10
SOLO_ROUNDS = max(1, int(os.environ.get("APPPASS_LOAD_SOLO_ROUNDS", "20")))

failures = []
lock = threading.Lock()


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    """User + system CPU time of pid so far (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """(VmRSS, VmHWM, RssAnon) of pid in KiB, or zeros when it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon"):
                    out[k] = int(v.split()[0])
    except OSError:
        return 0, 0, 0
    return out.get("VmRSS", 0), out.get("VmHWM", 0), out.get("RssAnon", 0)


def stage(tmp):
    """apppass-web with its private libraries, and the catalogues, copied where nobody
    can reach them (the build tree may be under /root, 0700): tests/lib/stage.py."""
    d = os.path.join(tmp, "stage")
    web, lib = stagelib.stage_program(d, APPPASS_WEB)
    return web, lib, stagelib.stage_tree(LOCALE_DIR, os.path.join(d, "locale"))


def tool(db, *args, stdin=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return subprocess.run([APPPASS, "--db", db, *args], capture_output=True, text=True,
                          env=env, input=stdin)


def enroll_all(db, users):
    """Each user enrolled and confirmed with the current step's code; returns {user:
    (secret, that step)} (a sign-in needs a later step: Client.code). 8 at a time."""
    secrets = {}

    def one(u):
        r = tool(db, "mfa", "enroll", u, "--json")
        m = re.search(r'"secret":"([A-Z2-7]+)"', r.stdout)
        if r.returncode != 0 or not m:
            return f"enroll {u}: {r.stdout}{r.stderr}"
        # The step read now, per user: enrolling 200 users can outlast a step (ASan); it
        # is still in the window (one step either way) if the check runs in the next.
        step = int(time.time()) // 30
        r = tool(db, "mfa", "confirm", u, totp(m.group(1), step))
        if r.returncode != 0:
            return f"confirm {u}: {r.stdout}{r.stderr}"
        secrets[u] = (m.group(1), step)
        return None

    errs = []
    todo = list(users)

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                u = todo.pop()
            e = one(u)
            if e:
                with lock:
                    errs.append(e)

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return secrets, errs


class Client:
    """One user's browser: a keep-alive connection, a cookie jar, timed requests."""

    def __init__(self, port, user, secret, stats):
        self.port, self.user, self.secret, self.stats = port, user, secret, stats
        self.conn = None
        self.cookies = {}
        self.errors = []
        self.created = 0

    def fail(self, what):
        self.errors.append(f"{self.user}: {what}")
        raise RuntimeError(what)

    def request(self, label, method, path, form=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            self.fail(f"{label}: {type(e).__name__}: {e}")
        dt = time.perf_counter() - t0
        with lock:
            self.stats.setdefault(label, []).append(dt)
        for name, value in resp.getheaders():
            if name.lower() != "set-cookie":
                continue
            first = value.split(";", 1)[0]
            k, _, v = first.partition("=")
            if v == "" or "Max-Age=0" in value:
                self.cookies.pop(k, None)
            else:
                self.cookies[k] = v
        if resp.status >= 500:
            self.fail(f"{label}: {resp.status}")
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, resp.getheader("Location"), data.decode("utf-8", "replace")

    def expect(self, label, method, path, status, form=None, location=None):
        st, loc, body = self.request(label, method, path, form)
        if st != status:
            self.fail(f"{label}: status {st}, expected {status}: {body[:300]!r}")
        if location is not None and loc != location:
            self.fail(f"{label}: Location {loc!r}, expected {location!r}")
        return body

    def sign_in(self):
        body = self.expect("GET /signin", "GET", "/signin", 200)
        pre = self.cookies.get("__Host-apppass-pre")
        m = re.search(r'name="csrf" value="([^"]+)"', body)
        if not pre or not m or m.group(1) != pre:
            self.fail("GET /signin: no pre-sign-in cookie and field, or they differ")
        self.expect("POST /signin", "POST", "/signin", 303,
                    [("user", self.user), ("password", PASSWORD), ("csrf", pre)],
                    location="/signin/code")
        if "__Host-apppass-signin" not in self.cookies:
            self.fail("POST /signin: no sign-in cookie")
        # A step after the confirmation's (codes are spent once), at most the next one:
        # in the window whether the broker checks it in this step or the next.
        secret, confirmed = self.secret
        code = totp(secret, max(confirmed + 1, int(time.time()) // 30))
        self.expect("POST /signin/code", "POST", "/signin/code", 303,
                    [("code", code), ("csrf", pre)], location="/passwords")
        if "__Host-apppass-session" not in self.cookies or "__Host-apppass-signin" in self.cookies:
            self.fail("POST /signin/code: no session cookie, or the sign-in cookie kept")

    def list_rows(self, label):
        body = self.expect(label, "GET", "/passwords", 200)
        if 'id="passwords"' not in body and self.created:
            self.fail(f"{label}: no table#passwords")
        return body, len(re.findall(r'<tr data-id="', body))

    def round(self, n):
        _, rows = self.list_rows("GET /passwords")
        if rows != self.created:
            self.fail(f"GET /passwords: {rows} rows, expected {self.created}")
        body = self.expect("GET /passwords/new", "GET", "/passwords/new", 200)
        m = re.search(r'name="csrf" value="([0-9a-f]{32})"', body)
        if not m or 'id="create"' not in body or 'name="scope" value="imap"' not in body:
            self.fail("GET /passwords/new: no form#create with csrf and the imap scope")
        name = f"load-{self.user}-{n}"
        self.expect("POST /passwords/new", "POST", "/passwords/new", 303,
                    [("name", name), ("scope", "imap"), ("csrf", m.group(1))],
                    location="/passwords/created")
        body = self.expect("GET /passwords/created", "GET", "/passwords/created", 200)
        m = re.search(r'<code id="new-password" class="secret">([^<]+)</code>', body)
        if not m or len(m.group(1)) < 16:
            self.fail("GET /passwords/created: no #new-password")
        pw = m.group(1)
        if body.count(pw) != 1:
            self.fail(f"GET /passwords/created: the password shown {body.count(pw)} times")
        self.created += 1
        body = self.expect("GET /passwords/created (again)", "GET", "/passwords/created", 410)
        if pw in body or 'id="already-shown"' not in body:
            self.fail("GET /passwords/created again: the password shown, or no #already-shown")
        body, rows = self.list_rows("GET /passwords (after)")
        if rows != self.created or name not in body or pw in body:
            self.fail(f"GET /passwords after create: {rows} rows (expected {self.created}), "
                      "the new name missing or the password shown")


def percentile(sorted_vals, p):
    """The nearest-rank percentile p of an ascending list."""
    if not sorted_vals:
        return 0.0
    return sorted_vals[max(0, math.ceil(p / 100.0 * len(sorted_vals)) - 1)]


def main():
    if os.geteuid() != 0:
        print("ok - # SKIP needs root (apppassd, and apppass-web as nobody)")
        return 77
    for p in (PAM_MATRIX, APPPASSD, APPPASS, APPPASS_WEB):
        if not os.path.exists(p):
            print(f"FAIL {p} missing")
            return 1
    tmp = tempfile.mkdtemp(prefix="apppass-web-load.", dir="/tmp")
    os.chmod(tmp, 0o711)
    procs = []
    try:
        return run(tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("APPPASS_LOAD_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, procs):
    t_setup = time.time()
    web, web_lib, locale = stage(tmp)
    db = os.path.join(tmp, "db")
    sock = os.path.join(tmp, "run", "apppassd.sock")
    users = [f"load{i:03d}" for i in range(USERS)]
    solo_users = [f"solo{i:02d}" for i in range(SOLO_USERS)]

    r = tool(db, "init")
    check(r.returncode == 0, "apppass init (a throwaway store)")
    r = tool(db, "policy", "set", "self_enroll", "yes")
    check(r.returncode == 0, "policy self_enroll yes")
    t0 = time.time()
    secrets, errs = enroll_all(db, users + solo_users)
    t_enroll = time.time() - t0
    check(not errs and len(secrets) == USERS + SOLO_USERS,
          f"{USERS + SOLO_USERS} users enrolled and confirmed with `apppass mfa enroll/confirm` "
          f"(8 at a time) in {t_enroll:.1f} s" + (f": {errs[:3]}" if errs else ""))
    if failures:
        return 1

    pamd = os.path.join(tmp, "pam.d")
    os.makedirs(pamd, mode=0o755)
    passdb = os.path.join(tmp, "passdb")
    with open(passdb, "w") as f:
        f.writelines(f"{u}:{PASSWORD}:apppass-web\n" for u in users + solo_users)
    with open(os.path.join(pamd, "apppass-web"), "w") as f:
        f.write(f"auth required {PAM_MATRIX} passdb={passdb}\n"
                f"account required {PAM_MATRIX} passdb={passdb}\n")
    open(os.path.join(pamd, "other"), "w").close()

    env = dict(os.environ, LD_PRELOAD=PRELOAD, PAM_WRAPPER="1", PAM_WRAPPER_SERVICE_DIR=pamd)
    broker_log = open(os.path.join(tmp, "apppassd.log"), "w+")
    # --max-per-uid 1: the portal's uid is exempt from it, and its 8 handler threads make
    # up to 8 calls at once; were it not exempt, the load would see refusals.
    broker = subprocess.Popen([APPPASSD, "--db", db, "--socket", sock, "--group", "root",
                               "--portal-user", "nobody", "--max-per-uid", "1"],
                              env=env, stdout=broker_log,
                              stderr=subprocess.STDOUT)
    procs.append(broker)
    for _ in range(200):
        if os.path.exists(sock) or broker.poll() is not None:
            break
        time.sleep(0.05)
    check(broker.poll() is None and os.path.exists(sock), "apppassd listening (pam_matrix)")

    port = free_port()
    conf = os.path.join(tmp, "web.conf")
    with open(conf, "w") as f:
        f.write(f"locale_dir = {locale}\nimap_host = mail.example.org\nimap_port = 993\n"
                "smtp_host = mail.example.org\nsmtp_port = 465\n")
    os.chmod(conf, 0o644)
    web_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH": web_lib}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            web_env[k] = os.environ[k]
    web_log = open(os.path.join(tmp, "apppass-web.log"), "w+")
    portal = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                               web, "--config", conf, "--broker", sock,
                               "--listen", f"127.0.0.1:{port}"],
                              env=web_env, stdout=web_log, stderr=subprocess.STDOUT)
    procs.append(portal)
    up = False
    for _ in range(200):
        if portal.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            up = True
            break
        except OSError:
            time.sleep(0.05)
    check(up, f"apppass-web listening on 127.0.0.1:{port} as nobody")
    if failures:
        web_log.seek(0)
        broker_log.seek(0)
        print(web_log.read()[-2000:], broker_log.read()[-2000:])
        return 1
    t_setup = time.time() - t_setup

    # --- alone: one client at a time, the server's time per page plus one loopback trip ---
    solo_stats = {}
    solo = [Client(port, u, secrets[u], solo_stats) for u in solo_users]
    try:
        for c in solo:
            c.sign_in()
        for n in range(SOLO_ROUNDS):
            solo[n % len(solo)].round(n // len(solo))
    except Exception as e:  # noqa: BLE001 (reported below)
        solo[0].errors.append(f"{type(e).__name__}: {e}")
    errors = [e for c in solo for e in c.errors]
    check(not errors, f"one client at a time: {SOLO_USERS} sign-ins, {SOLO_ROUNDS} rounds, "
          "no error" + (f" ({errors[:3]})" if errors else ""))
    for c in solo:
        if c.conn is not None:
            c.conn.close()

    # --- the load ---
    mem = {"web": [], "broker": []}
    marks = {}
    sampling = threading.Event()

    def sampler():
        while not sampling.is_set():
            mem["web"].append(rss_kib(portal.pid)[0])
            mem["broker"].append(rss_kib(broker.pid)[0])
            time.sleep(0.1)

    def mark(name):
        marks[name] = (rss_kib(portal.pid), rss_kib(broker.pid))
        cpu[name] = (cpu_seconds(portal.pid), cpu_seconds(broker.pid))

    cpu = {}

    stats = {}
    clients = [Client(port, u, secrets[u], stats) for u in users]
    phases = ["signin"] + [f"round{i + 1}" for i in range(PHASES)]
    barrier = threading.Barrier(USERS + 1)
    phase_time = {}

    def body(c):
        alive = True
        for ph in phases:
            barrier.wait()
            if alive:
                try:
                    if ph == "signin":
                        c.sign_in()
                    else:
                        base = (int(ph[5:]) - 1) * ROUNDS
                        for n in range(ROUNDS):
                            c.round(base + n)
                except RuntimeError:
                    alive = False
                except Exception as e:  # a bug here must not hang the barrier
                    c.errors.append(f"{c.user}: {type(e).__name__}: {e}")
                    alive = False
            barrier.wait()
        barrier.wait()  # the connections stay open until the last phase's figures are taken
        if c.conn is not None:
            c.conn.close()

    mark("before")
    threads = [threading.Thread(target=body, args=(c,), daemon=True) for c in clients]
    st = threading.Thread(target=sampler, daemon=True)
    st.start()
    for t in threads:
        t.start()
    counts = {}
    for ph in phases:
        n0 = sum(len(v) for v in stats.values())
        t0 = time.perf_counter()
        barrier.wait()
        barrier.wait()
        phase_time[ph] = time.perf_counter() - t0
        counts[ph] = sum(len(v) for v in stats.values()) - n0
        mark(ph)
    barrier.wait()
    for t in threads:
        t.join()
    sampling.set()
    st.join()
    mark("after")

    errors = [e for c in clients for e in c.errors]
    check(not errors, f"{USERS} sessions, {PHASES * ROUNDS} rounds each: no error"
          + (f" ({len(errors)}: {errors[:5]})" if errors else ""))
    signed_in = sum(1 for c in clients if "__Host-apppass-session" in c.cookies)
    check(signed_in == USERS, f"{signed_in} of {USERS} signed in at once")
    created = sum(c.created for c in clients)
    check(created == USERS * PHASES * ROUNDS, f"{created} app passwords created through the page, "
          "each shown once")
    check(broker.poll() is None and portal.poll() is None, "both servers still running")

    # --- figures ---
    total = sum(len(v) for v in stats.values())
    print(f"\napppass-web under load: {USERS} sessions, {PHASES * ROUNDS} rounds, {total} requests "
          f"(setup {t_setup:.1f} s, of which enrolling {t_enroll:.1f} s)")
    print("latency per page, client side over loopback (ms); alone: one client at a time")
    print(f"{'page':32} {'alone p50':>9} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    order = ["GET /signin", "POST /signin", "POST /signin/code", "GET /passwords",
             "GET /passwords/new", "POST /passwords/new", "GET /passwords/created",
             "GET /passwords/created (again)", "GET /passwords (after)"]
    for label in order + sorted(set(stats) - set(order)):
        v = sorted(stats.get(label, []))
        if not v:
            continue
        a = sorted(solo_stats.get(label, []))
        alone = f"{percentile(a, 50) * 1e3:9.1f}" if a else f"{'-':>9}"
        print(f"{label:32} {alone} {len(v):6d} {percentile(v, 50) * 1e3:8.1f} "
              f"{percentile(v, 95) * 1e3:8.1f} {percentile(v, 99) * 1e3:8.1f} {v[-1] * 1e3:8.1f}")
    phase_figures = {}
    prev = "before"
    for ph in phases:
        phase_figures[ph] = {"requests": counts[ph], "seconds": phase_time[ph],
                             "web_cpu_s": cpu[ph][0] - cpu[prev][0],
                             "broker_cpu_s": cpu[ph][1] - cpu[prev][1]}
        web_cpu = (cpu[ph][0] - cpu[prev][0]) / counts[ph] * 1e3
        broker_cpu = (cpu[ph][1] - cpu[prev][1]) / counts[ph] * 1e3
        print(f"phase {ph:7}: {counts[ph]:6d} requests in {phase_time[ph]:6.2f} s = "
              f"{counts[ph] / phase_time[ph]:7.1f} requests/s; CPU per request: apppass-web "
              f"{web_cpu:.2f} ms, apppassd {broker_cpu:.2f} ms")
        prev = ph
    print(f"{'RSS MiB':12} " + " ".join(f"{k:>8}" for k in ["before"] + phases + ["closed"]) +
          f" {'peak':>8} {'VmHWM':>8}")
    for i, name, samples in ((0, "apppass-web", mem["web"]), (1, "apppassd", mem["broker"])):
        row = [marks[k][i][0] / 1024 for k in ["before"] + phases + ["after"]]
        peak = max(samples + [0]) / 1024
        hwm = marks[phases[-1]][i][1] / 1024
        print(f"{name:12} " + " ".join(f"{x:8.1f}" for x in row) + f" {peak:8.1f} {hwm:8.1f}")
        anon = [marks[k][i][2] / 1024 for k in ["before"] + phases + ["after"]]
        print(f"{'  RssAnon':12} " + " ".join(f"{x:8.1f}" for x in anon))

    if os.environ.get("APPPASS_LOAD_JSON"):
        with open(os.environ["APPPASS_LOAD_JSON"], "w") as f:
            json.dump({"users": USERS, "rounds": ROUNDS, "phases": PHASES,
                       "solo_users": SOLO_USERS, "solo_rounds": SOLO_ROUNDS,
                       "alone": solo_stats, "load": stats, "phase": phase_figures,
                       "rss_peak_mib": {"apppass-web": marks[phases[-1]][0][1] / 1024,
                                        "apppassd": marks[phases[-1]][1][1] / 1024}}, f)

    web_hwm = marks[phases[-1]][0][1] / 1024
    broker_hwm = marks[phases[-1]][1][1] / 1024
    web_growth = (marks[phases[-1]][0][2] - marks[phases[-2]][0][2]) / 1024
    broker_growth = (marks[phases[-1]][1][2] - marks[phases[-2]][1][2]) / 1024
    if SANITIZED:
        print("note: ASan build: memory bounds not asserted (ASan's shadow memory and "
              "quarantine inflate RSS); LeakSanitizer checks the servers at exit")
    else:
        check(web_hwm < WEB_PEAK_MIB, f"apppass-web peak RSS {web_hwm:.1f} MiB < {WEB_PEAK_MIB} MiB")
        check(broker_hwm < BROKER_PEAK_MIB,
              f"apppassd peak RSS {broker_hwm:.1f} MiB < {BROKER_PEAK_MIB} MiB")
        check(web_growth <= GROWTH_MIB, f"apppass-web RssAnon grew {web_growth:+.1f} MiB in the "
              f"last phase over the one before (identical; at most {GROWTH_MIB} MiB)")
        check(broker_growth <= GROWTH_MIB, f"apppassd RssAnon grew {broker_growth:+.1f} MiB in the "
              f"last phase over the one before (identical; at most {GROWTH_MIB} MiB)")

    # --- stop ---
    for name, p in (("apppass-web", portal), ("apppassd", broker)):
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        check(rc == 0, f"{name} exits 0 on SIGTERM (rc {rc})")
    web_log.seek(0)
    broker_log.seek(0)
    web_text, broker_text = web_log.read(), broker_log.read()
    other = [ln for ln in web_text.splitlines()
             if not re.search(r"apppass-web\[\d+\]: (listening on|stopping)", ln)]
    check(not other, "apppass-web logged nothing but its start and stop"
          + (f" ({len(other)} more: {other[:5]})" if other else ""))
    signins = USERS + SOLO_USERS
    n_signin = len(re.findall(r"\bsignin service=apppass-web user=\S+ rhost=127\.0\.0\.1 next=code",
                              broker_text))
    n_code = len(re.findall(r"\baccepted service=apppass-web user=\S+ rhost=127\.0\.0\.1 "
                            r"factor=totp", broker_text))
    n_create = len(re.findall(r"\bchange op=create uid=\d+ user=\S+ id=\S+ result=ok", broker_text))
    check(n_signin == signins and n_code == signins and n_create == created + SOLO_ROUNDS,
          f"apppassd logged {n_signin} sign-ins, {n_code} accepted codes, {n_create} creates "
          f"(expected {signins}, {signins}, {created + SOLO_ROUNDS})")
    bad = [ln for ln in broker_text.splitlines()
           if re.search(r"refused|--max-per-uid|unavailable|Sanitizer|runtime error", ln)]
    check(not bad, "apppassd refused nothing (no per-uid refusal of the portal, no throttle)"
          + (f" ({len(bad)}: {bad[:5]})" if bad else ""))
    check("Sanitizer" not in web_text and "runtime error" not in web_text,
          "apppass-web: no sanitizer report")
    print(f"\n{len(failures)} failure(s)" if failures else "\nall ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
