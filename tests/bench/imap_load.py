#!/usr/bin/python3
"""imap_load.py PORT SECONDS CLIENTS CREDENTIALS: a bounded IMAP LOGIN load on 127.0.0.1.

CLIENTS threads, each in a loop for SECONDS: connect, LOGIN (user and password from the
CREDENTIALS file, lines "user<TAB>password", taken in turn), LOGOUT. Never more than
CLIENTS connections at once, never another host. Prints one JSON object: logins (right
answers), failures (anything but a successful LOGIN), seconds, logins_per_s, the LOGIN
latency (command sent to tagged OK) p50_us / p99_us, and the first failure's text.
Exit 0 when every LOGIN succeeded, 1 otherwise (the bench asserts every answer)."""
import imaplib
import json
import sys
import threading
import time

port, seconds, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
with open(sys.argv[4]) as f:
    creds = [tuple(line.rstrip("\n").split("\t", 1)) for line in f if "\t" in line]
if not creds:
    sys.exit("imap_load.py: no credentials")

lock = threading.Lock()
latencies, failures, first_failure = [], [0], [None]
deadline = time.monotonic() + seconds


def worker(n):
    i = n
    while time.monotonic() < deadline:
        user, password = creds[i % len(creds)]
        i += clients
        try:
            conn = imaplib.IMAP4("127.0.0.1", port, timeout=30)
            t0 = time.perf_counter()
            conn.login(user, password)
            t1 = time.perf_counter()
            conn.logout()
            with lock:
                latencies.append((t1 - t0) * 1e6)
        except Exception as e:  # a refusal, a dropped connection: a wrong answer
            with lock:
                failures[0] += 1
                if first_failure[0] is None:
                    first_failure[0] = f"{user}: {e!r}"


start = time.monotonic()
threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
latencies.sort()


def pct(q):
    return latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else 0.0


print(json.dumps({
    "logins": len(latencies), "failures": failures[0], "seconds": elapsed,
    "logins_per_s": len(latencies) / elapsed, "p50_us": pct(0.5), "p99_us": pct(0.99),
    "clients": clients, "first_failure": first_failure[0]}))
sys.exit(0 if failures[0] == 0 and latencies else 1)
