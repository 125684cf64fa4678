#!/usr/bin/env python3
"""fake_broker.py SOCKET MODE [LINE...]: a deliberately broken or scripted apppassd, to test
how clients (broker::Call, the PAM module, the SASL plugin) handle a daemon that is not
right. Not a mock of the real daemon: it knows nothing of the store.

Listens on the UNIX socket SOCKET (mode 0666, so a test user can connect) and handles each
connection in its own thread, as MODE says:
  hang          accept, then never read nor write (the connection stays open)
  close         accept and close at once
  garbage       send a line that is not the protocol, then hang
  version-hang  send the version line, read the request, then hang
  slow          send the version line, read the request, answer LINEs after 5 s
  reply         send the version line, read the request, answer with the LINEs
  raw           send the LINEs at once (no version line first), then hang
In LINEs, "{id}" stands for the request's id and "{other}" for another id; "\\t" for a TAB.
`reply` with no LINE answers VERIFY with OK outcome=accepted.

The socket appears only once it is listening (bound under a temporary name, then renamed),
so a test may wait for the path to exist. Each request line is appended to SOCKET.log with
the value of every secret key (password, code, secret, uri) replaced by "*".
SIGTERM ends it at once (the default action: a Python handler would run only when the main
thread wakes from accept, and the kernel may deliver the signal to another thread); the
socket file is left for the test's temporary directory."""
import os
import socket
import sys
import threading
import time

VERSION = b"VERSION\t1\t0\n"
SECRET_KEYS = ("password", "code", "secret", "uri")


def read_line(conn, buf):
    """Reads until a newline; returns (line, rest) or (None, b'') on EOF."""
    while b"\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line, rest


def redact(line):
    parts = line.split(b"\t")
    out = []
    for p in parts:
        key = p.split(b"=", 1)[0].decode("latin-1")
        out.append(key.encode() + b"=*" if b"=" in p and key in SECRET_KEYS else p)
    return b"\t".join(out)


def render(lines, rid, other):
    """The LINEs as bytes, each ended by a newline, in one buffer (sent with one call)."""
    return b"".join(
        (l.replace("{id}", rid).replace("{other}", other).replace("\\t", "\t") + "\n").encode()
        for l in lines)


def hang(conn):
    # Hold the connection open until the client goes away (or the process is stopped).
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def handle(conn, mode, lines, log_path, log_lock):
    try:
        if mode == "close":
            return
        if mode == "hang":
            hang(conn)
            return
        if mode == "garbage":
            conn.sendall(b"HELLO\tthis is not apppassd\n")
            hang(conn)
            return
        if mode == "raw":
            conn.sendall(render(lines, "0", "1"))
            hang(conn)
            return
        conn.sendall(VERSION)
        buf = b""
        version, buf = read_line(conn, buf)
        if version is None:
            return
        request, buf = read_line(conn, buf)
        if request is None:
            return
        with log_lock, open(log_path, "ab") as log:
            log.write(redact(request) + b"\n")
        if mode == "version-hang":
            hang(conn)
            return
        fields = request.split(b"\t")
        rid = fields[1].decode() if len(fields) > 1 else "0"
        other = str(int(rid) + 1) if rid.isdigit() else "1"
        if mode == "slow":
            time.sleep(5)
        if not lines:
            lines = ["OK\t{id}\toutcome=accepted"]
        conn.sendall(render(lines, rid, other))
        hang(conn)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, mode, lines = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode not in ("hang", "close", "garbage", "version-hang", "slow", "reply", "raw"):
        sys.exit(f"fake_broker.py: unknown mode {mode}")
    tmp = f"{path}.tmp{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(tmp)
    os.chmod(tmp, 0o666)
    server.listen(64)
    os.rename(tmp, path)

    log_lock = threading.Lock()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn, mode, lines, path + ".log", log_lock),
                         daemon=True).start()


main()
