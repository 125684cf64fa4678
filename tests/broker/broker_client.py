#!/usr/bin/python3
"""A client of apppassd's wire protocol (docs/design.md, "Broker protocol") for the broker
tests: python's standard library only, so it runs as any test user.

  talk SOCK [--version LINE] [--wait-eof]
      Sends a version line (default "VERSION\\t1\\t0") and the request lines read from
      stdin, then prints every line the daemon sends (its VERSION first) until each request
      has its OK or FAIL; with --wait-eof, also waits for the daemon to close ("EOF" is
      printed when it did). Exit 0, or 3 when no answer came within 10 s.
  flood SOCK N USER SERVICE    (right password on stdin, line 1)
      N connections at once, each one VERIFY: even ones with the right password, odd ones
      with a wrong one. Prints "answered A right R wrong W seconds S"; exit 1 on a wrong
      or missing answer.
  hold SOCK N HOLD_S
      N connections that send their version and half a request, then stall; then one more
      connection, whose answer is printed ("extra: LINE"); then waits for the daemon to
      drop the stalled ones and prints "dropped D of N, last after S s" (or "still open").
  creates SOCK SECRET_FILE OUT_FILE NAME STEP...
      One CREATE per TOTP step (scopes imap), the code from the base32 secret in
      SECRET_FILE; appends "sent LABEL" to OUT_FILE before sending each, then "ok ID
      PASSWORD" after its OK or "fail LABEL" after its FAIL (flushed at once).
  totp SECRET_FILE STEP
      Prints the TOTP code of that 30 s step.
"""
import base64
import hashlib
import hmac
import os
import resource
import selectors
import socket
import struct
import sys
import time

VERSION = b"VERSION\t1\t0\n"


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_lines(sock, want_finals, wait_eof, deadline):
    """Prints the daemon's lines until `want_finals` OK/FAIL lines (and EOF if asked)."""
    buf = b""
    finals = 0
    saw_version = False
    while True:
        if finals >= want_finals and saw_version and not wait_eof:
            return 0
        left = deadline - time.monotonic()
        if left <= 0:
            print("TIMEOUT")
            return 3
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            data = b""
            print("RESET")
        if not data:
            print("EOF")
            return 0
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            print(text)
            sys.stdout.flush()
            if text.startswith("VERSION\t"):
                saw_version = True
            elif text.startswith("OK\t") or text.startswith("FAIL\t"):
                finals += 1


def talk(args):
    path = args[0]
    version = VERSION
    wait_eof = "--wait-eof" in args
    if "--version" in args:
        version = args[args.index("--version") + 1].encode().replace(b"\\t", b"\t") + b"\n"
    lines = [l for l in sys.stdin.buffer.read().split(b"\n") if l]
    s = connect(path)
    try:
        s.sendall(version + b"".join(l + b"\n" for l in lines))
    except (BrokenPipeError, ConnectionResetError):
        print("SEND-FAILED")
    return read_lines(s, len(lines) + (0 if version == VERSION else 1), wait_eof,
                      time.monotonic() + 10)


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    value = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % value


def escape(value):
    out = []
    for ch in value.encode():
        if ch == 0x5C:
            out.append(b"\\\\")
        elif ch == 0x09:
            out.append(b"\\t")
        elif ch == 0x0A:
            out.append(b"\\n")
        elif ch < 0x20 or ch == 0x7F:
            out.append(b"\\x%02x" % ch)
        else:
            out.append(bytes([ch]))
    return b"".join(out)


def flood(args):
    path, n, user, service = args[0], int(args[1]), args[2], args[3]
    good = sys.stdin.readline().strip()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 64)), hard))
    sel = selectors.DefaultSelector()
    state = {}
    start = time.monotonic()
    for i in range(n):
        s = connect(path)
        pw = good if i % 2 == 0 else good[:-1] + ("a" if good[-1] != "a" else "b")
        req = b"VERIFY\t%d\tuser=%s\tpassword=%s\tservice=%s\n" % (
            i + 1, escape(user), escape(pw), escape(service))
        s.sendall(VERSION + req)
        s.setblocking(False)
        state[s] = [i, b""]
        sel.register(s, selectors.EVENT_READ)
    answers = {}
    deadline = time.monotonic() + 60
    while state and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                data = b""
            i, buf = state[s]
            buf += data
            state[s][1] = buf
            final = [l for l in buf.split(b"\n") if l.startswith((b"OK\t", b"FAIL\t"))]
            if final or not data:
                answers[i] = final[0].decode() if final else "EOF"
                sel.unregister(s)
                s.close()
                del state[s]
    elapsed = time.monotonic() - start
    right = wrong = 0
    for i in range(n):
        a = answers.get(i, "MISSING")
        want = "outcome=accepted" if i % 2 == 0 else "outcome=wrong-password"
        if a.startswith("OK\t%d\t" % (i + 1)) and want in a.split("\t"):
            right += 1
        else:
            wrong += 1
            if wrong <= 5:
                print("wrong answer to %d: %s" % (i + 1, a))
    print("answered %d right %d wrong %d seconds %.2f" % (len(answers), right, wrong, elapsed))
    return 0 if right == n else 1


def hold(args):
    path, n, hold_s = args[0], int(args[1]), float(args[2])
    stalled = []
    for _ in range(n):
        s = connect(path)
        s.sendall(VERSION + b"VERIFY\t1\tuser=al")
        stalled.append(s)
    start = time.monotonic()
    time.sleep(0.2)  # the daemon has accepted them all (it has workers to spare)
    extra = connect(path)
    extra.sendall(VERSION + b"POLICY_SHOW\t1\n")
    extra.settimeout(5)
    got = b""
    try:
        while got.count(b"\n") < 2:
            data = extra.recv(4096)
            if not data:
                break
            got += data
    except (socket.timeout, ConnectionResetError):
        pass
    lines = got.split(b"\n")
    print("extra: %s" % (lines[1].decode() if len(lines) > 1 and lines[1] else "(nothing)"))
    sys.stdout.flush()
    dropped, last = 0, 0.0
    for s in stalled:
        s.settimeout(max(0.1, hold_s - (time.monotonic() - start)))
        try:
            while True:
                data = s.recv(4096)
                if not data:
                    break
        except socket.timeout:
            continue
        except ConnectionResetError:
            pass
        dropped += 1
        last = time.monotonic() - start
    if dropped:
        print("dropped %d of %d, last after %.1f s" % (dropped, n, last))
    else:
        print("still open")
    return 0


def creates(args):
    path, secret_file, out_file, name = args[0], args[1], args[2], args[3]
    secret = open(secret_file).read().strip()
    with open(out_file, "a") as out:
        for k, step in enumerate(args[4:]):
            s = connect(path)
            out.write("sent %s-%d\n" % (name, k))
            out.flush()
            s.sendall(VERSION + b"CREATE\t1\tname=%s\tscopes=imap\tcode=%s\n" % (
                escape("%s-%d" % (name, k)), totp(secret, int(step)).encode()))
            buf = b""
            s.settimeout(10)
            try:
                while b"\nOK\t" not in buf and b"\nFAIL\t" not in buf:
                    data = s.recv(65536)
                    if not data:
                        break
                    buf += data
            except (socket.timeout, ConnectionResetError):
                pass
            s.close()
            for line in buf.split(b"\n"):
                if line.startswith(b"FAIL\t"):
                    out.write("fail %s-%d\n" % (name, k))
                if line.startswith(b"OK\t"):
                    f = dict(x.split(b"=", 1) for x in line.split(b"\t")[2:])
                    out.write("ok %s %s\n" % (f[b"id"].decode(), f[b"password"].decode()))
                    out.flush()
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "talk":
        return talk(args)
    if cmd == "flood":
        return flood(args)
    if cmd == "hold":
        return hold(args)
    if cmd == "creates":
        return creates(args)
    if cmd == "totp":
        print(totp(open(args[0]).read().strip(), int(args[1])))
        return 0
    print("unknown command", cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
