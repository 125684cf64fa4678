#!/usr/bin/python3
"""apppass-web's HTTP layer over real sockets (tools/apppass-web/server*, main.cc).

Usage: test_server.py APPPASS_WEB WEB_ECHO

Starts the real apppass-web on 127.0.0.1 (as user nobody when run as root: it refuses
root) with a short timeout, and sends what a hostile client would: oversized and too many
headers (431), an oversized body, declared or chunked (413), malformed forms and paths
(400), a wrong body type (415), other methods (405), a slowloris sending a byte every
half second and a slow body (cut at the timeout), an idle connection, the full time for
the next request on a connection after a 400. Every answer the server writes itself must
carry the security headers. Then web_echo (the same server, a handler that echoes its
request) for what the pages see: decoded path and query, secret fields kept out of
`value`, cookie flags in both modes, the client address behind trusted and untrusted
proxies, HEAD, a throwing handler, headers a handler may not replace. Last, the program's
rules: configuration errors naming the line, plain HTTP refused off loopback,
--insecure-http refused off loopback, root refused, TLS (HSTS, Secure cookies) with a key
that must not be readable by everyone, SIGTERM exits 0.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stage as stagelib  # noqa: E402 (tests/lib)

APPPASS_WEB, WEB_ECHO = sys.argv[1], sys.argv[2]
AS_ROOT = os.geteuid() == 0
# Where the build put the pages' translations (the program does not start without them).
LOCALE_DIR = os.environ.get("APPPASS_WEB_LOCALE_DIR", "/usr/share/locale")
DROP = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if AS_ROOT else []
CSP = b"Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
SECURITY = [CSP, b"X-Content-Type-Options: nosniff", b"Referrer-Policy: no-referrer",
            b"X-Frame-Options: DENY"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def exchange(port, data, timeout=5.0, tls=False):
    """Sends raw bytes, reads until the server closes or `timeout`; returns the bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, OSError):
        pass
    s.close()
    return out


def request(port, method, target, headers=(), body=b"", tls=False, close=True):
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [h.encode() if isinstance(h, str) else h for h in headers]
    if body or method == "POST":
        lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    return exchange(port, b"\r\n".join(lines) + b"\r\n\r\n" + body, tls=tls)


def status(resp):
    try:
        return int(resp.split(b"\r\n", 1)[0].split(b" ")[1])
    except (IndexError, ValueError):
        return None


def head_lines(resp):
    return resp.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def body(resp):
    return resp.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in resp else b""


def has_security_headers(resp, no_store=True):
    lines = head_lines(resp)
    ok = all(h in lines for h in SECURITY)
    if no_store:
        ok = ok and b"Cache-Control: no-store" in lines
    return ok


def wait_port(port, proc, seconds=5.0):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def closed_after(port, first, drip, limit):
    """Sends `first`, then one byte of `drip` every 0.5 s; seconds until the server closes."""
    s = socket.create_connection(("127.0.0.1", port))
    start = time.time()
    s.sendall(first)
    i = 0
    while time.time() - start < limit:
        try:
            if drip:
                s.send(drip[i % len(drip):i % len(drip) + 1])
                i += 1
            s.settimeout(0.5)
            d = s.recv(4096)
            if d == b"" or d.startswith(b"HTTP/1.1 4"):
                s.close()
                return time.time() - start
        except socket.timeout:
            continue
        except OSError:
            s.close()
            return time.time() - start
    s.close()
    return None


def slowloris_and_limits(port):
    form = "Content-Type: application/x-www-form-urlencoded"
    r = request(port, "GET", "/healthz")
    check(status(r) == 200 and body(r) == b"apppass-web\n", "GET /healthz answers 200")
    check(has_security_headers(r), "security headers and no-store on a page")
    r = request(port, "HEAD", "/healthz")
    check(status(r) == 200 and body(r) == b"" and has_security_headers(r), "HEAD: headers, no body")

    for m in ("DELETE", "PUT", "OPTIONS", "TRACE", "PATCH"):
        r = request(port, m, "/healthz")
        check(status(r) == 405 and b"Allow: GET, HEAD, POST" in head_lines(r)
              and has_security_headers(r), f"{m} -> 405 with Allow and the security headers")

    r = request(port, "GET", "/", headers=["X-Big: " + "a" * 9000])
    check(status(r) == 431 and has_security_headers(r), "a 9000-byte header -> 431, security headers")
    r = request(port, "GET", "/", headers=[f"X-H{i}: 1" for i in range(70)])
    check(status(r) == 431 and has_security_headers(r), "70 headers -> 431, security headers")
    r = request(port, "GET", "/" + "a" * 9000)
    check(status(r) == 431 and has_security_headers(r), "a 9000-byte request target -> 431")
    r = request(port, "GET", "/", headers=["X-Huge: " + "a" * 200000])
    # Beyond libmicrohttpd's own buffer its own 431 answers (docs/design.md): still refused.
    check(status(r) in (413, 431), "a 200 KB header is refused (libmicrohttpd's own 431)")

    r = request(port, "POST", "/", headers=[form], body=b"a=" + b"b" * 16400)
    check(status(r) == 413 and has_security_headers(r), "a 16 KiB+ body (Content-Length) -> 413")
    chunked = b"".join(b"1000\r\n" + b"a" * 4096 + b"\r\n" for _ in range(6)) + b"0\r\n\r\n"
    r = exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + form.encode() +
                 b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    check(status(r) == 413 and has_security_headers(r), "a 24 KiB chunked body -> 413")

    for bad, what in ((b"a=%zz", "bad escape"), (b"a=%00", "NUL"), (b"a=%ff", "invalid UTF-8"),
                      (b"&".join(b"f%d=1" % i for i in range(65)), "65 fields"),
                      (b"password=%C3", "a bad secret field")):
        r = request(port, "POST", "/x", headers=[form], body=bad)
        check(status(r) == 400 and has_security_headers(r), f"malformed form ({what}) -> 400")
    r = request(port, "POST", "/x", headers=["Content-Type: text/plain"], body=b"a=1")
    check(status(r) == 415 and has_security_headers(r), "POST text/plain -> 415")
    r = request(port, "POST", "/x", body=b"a=1")
    check(status(r) == 415, "POST without Content-Type -> 415")
    for target in ("/%zz", "/a%00b", "/%ff", "/x?a=%zz", "*"):
        r = request(port, "GET", target)
        check(status(r) == 400 and has_security_headers(r), f"GET {target} -> 400")
    r = request(port, "GET", "/nothing-here")
    check(status(r) == 404 and has_security_headers(r), "an unknown page: 404 with the headers")

    # Slow clients: the timeout is 2 s; the watchdog looks every 0.25 s.
    t = closed_after(port, b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-Slow: aaaaaaaaaaaaaaaa\r\n", 10)
    check(t is not None and 1.5 <= t <= 4.5, f"slowloris (a header byte every 0.5 s) cut at {t}")
    t = closed_after(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                     b"x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n", b"a", 10)
    check(t is not None and 1.5 <= t <= 4.5, f"a slow body (a byte every 0.5 s) cut at {t}")
    t = closed_after(port, b"", b"", 10)
    check(t is not None and 1.5 <= t <= 4.5, f"an idle connection closed at {t}")
    # A keep-alive connection serves a second request in time.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    second = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        second += d
    s.close()
    check(status(first) == 200 and status(second) == 200, "keep-alive: two requests on one connection")
    # The next request's time starts at the previous response, also after the server's own
    # 400 for a malformed form (it keeps the connection): a first request taking 1.25 s,
    # then a second taking 1 s, complete at 2.25 s or later: past the first request's
    # deadline (2 s, where the old server cut it), within 2 s of the first answer.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\n" + form.encode() +
              b"\r\nContent-Length: 5\r\n\r\n")
    for byte in b"a=%zz":
        time.sleep(0.25)
        s.sendall(bytes([byte]))
    first = s.recv(65536)
    second = b""
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(1.0)
        s.sendall(b"Connection: close\r\n\r\n")
        while True:
            d = s.recv(65536)
            if not d:
                break
            second += d
    except OSError:
        pass
    s.close()
    check(status(first) == 400 and status(second) == 200,
          f"keep-alive after a 400: the next request has its full time ({status(second)})")


def start(cmd, port, env=None):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if not wait_port(port, proc):
        out, err = proc.communicate(timeout=5) if proc.poll() is not None else (b"", b"")
        print("server did not start:", err.decode(errors="replace"))
        proc.kill()
        return None
    return proc


def stop(proc, what):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    check(rc == 0, f"{what} exits 0 on SIGTERM")
    return proc.stderr.read().decode(errors="replace")


def echo_tests():
    proc = subprocess.Popen([WEB_ECHO, "--timeout", "2", "--trusted", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    port = int(proc.stdout.readline())
    form = "Content-Type: application/x-www-form-urlencoded"
    r = request(port, "GET", "/p%20q+r/%C3%A9?a=1&b=%C3%A9&c=x+y")
    b = body(r).decode()
    check("path=/p q+r/\u00e9\n" in b and "query:b=\u00e9\n" in b and "query:c=x y\n" in b,
          "path and query decoded ('+' a space in the query only)")
    r = request(port, "POST", "/f", headers=[form],
                body=b"user=alice&password=s3cr%21t&code=123456&scope=imap&scope=smtp")
    b = body(r).decode()
    check("form:user=alice\n" in b and "secret:password=6 bytes\n" in b and
          "secret:code=6 bytes\n" in b and "s3cr" not in b and "123456" not in b and
          b.count("form:scope=") == 2, "secret fields only as SecretBuffers, never values")

    r = request(port, "GET", "/?set=__Host-apppass-session%3Dabc&del=__Host-apppass-signin&set=apppass-lang%3Dro")
    cookies = [l for l in head_lines(r) if l.startswith(b"Set-Cookie: ")]
    check(b"Set-Cookie: __Host-apppass-session=abc; Path=/; HttpOnly; Secure; SameSite=Strict" in cookies and
          b"Set-Cookie: __Host-apppass-signin=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict" in cookies and
          b"Set-Cookie: apppass-lang=ro; Path=/; HttpOnly; Secure; SameSite=Strict" in cookies,
          "cookies: HttpOnly; Secure; SameSite=Strict; Path=/, __Host- kept")
    r = request(port, "GET", "/?set=evil%3Dx%3B+Domain%3Dexample.org")
    check(status(r) == 500 and not any(l.startswith(b"Set-Cookie") for l in head_lines(r))
          and has_security_headers(r), "a cookie value with '; Domain=' is not sent (500)")
    r = request(port, "GET", "/", headers=["Cookie: __Host-apppass-session=s1; apppass-lang=it",
                                           "Cookie: later=1"])
    b = body(r).decode()
    check("cookie:__Host-apppass-session=s1\n" in b and "cookie:apppass-lang=it\n" in b and
          "cookie:later=1\n" in b, "cookies read, repeated Cookie headers joined")

    # Client address: the peer 127.0.0.1 is trusted here.
    r = request(port, "GET", "/", headers=["X-Forwarded-For: 203.0.113.9, 198.51.100.7"])
    check("client=198.51.100.7\n" in body(r).decode(), "trusted proxy: the right-most untrusted hop")
    r = request(port, "GET", "/", headers=["X-Forwarded-For: 203.0.113.9", "X-Forwarded-For: 198.51.100.8"])
    check("client=198.51.100.8\n" in body(r).decode(), "repeated X-Forwarded-For headers joined in order")
    r = request(port, "GET", "/", headers=["X-Forwarded-For: nonsense"])
    check("client=127.0.0.1\n" in body(r).decode(), "a malformed X-Forwarded-For leaves the peer")

    r = request(port, "GET", "/?throw=1")
    check(status(r) == 500 and has_security_headers(r), "a throwing handler: 500 with the headers")
    r = request(port, "GET", "/?override=1")
    lines = head_lines(r)
    check(CSP in lines and b"Content-Security-Policy: default-src *" not in lines and
          b"Cache-Control: no-store" in lines and b"cache-control: public" not in lines and
          b"X-Echo: yes" in lines, "a handler cannot replace the security headers")
    r = request(port, "GET", "/?cache=1")
    check(b"Cache-Control: max-age=3600" in head_lines(r) and has_security_headers(r, no_store=False),
          "cacheable responses (static assets) may be cached")
    r = request(port, "GET", "/?secret=1&status=201")
    check(status(r) == 201 and has_security_headers(r), "a secret body is sent (and wiped after)")
    r = request(port, "HEAD", "/?a=1")
    check(status(r) == 200 and body(r) == b"", "HEAD through the handler: no body")
    stop(proc, "web_echo")

    # Untrusted peer (no trusted proxies) and insecure_http cookie names.
    proc = subprocess.Popen([WEB_ECHO, "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    port = int(proc.stdout.readline())
    r = request(port, "GET", "/", headers=["X-Forwarded-For: 198.51.100.7"])
    check("client=127.0.0.1\n" in body(r).decode(), "untrusted peer: X-Forwarded-For ignored")
    r = request(port, "GET", "/?set=__Host-apppass-session%3Dabc",
                headers=["Cookie: apppass-session=s2; __Host-apppass-pre=forged"])
    b = body(r).decode()
    check(b"Set-Cookie: apppass-session=abc; Path=/; HttpOnly; SameSite=Strict" in head_lines(r),
          "--insecure-http: no Secure, no __Host- prefix")
    check("cookie:__Host-apppass-session=s2\n" in b and "__Host-apppass-pre" not in b,
          "--insecure-http: cookies seen under their __Host- names; real __Host- ones ignored")
    stop(proc, "web_echo --insecure")


def program_rules(tmp):
    def run(args, as_root=False):
        cmd = ([] if as_root else DROP) + [APPPASS_WEB] + args
        return subprocess.run(cmd, capture_output=True, timeout=10)

    if AS_ROOT:
        r = run(["--listen", "127.0.0.1:1"], as_root=True)
        check(r.returncode == 2 and b"refusing to run as root" in r.stderr, "refuses to run as root")
    r = run(["--listen", "0.0.0.0:8088"])
    check(r.returncode == 2 and b"loopback" in r.stderr, "plain HTTP on 0.0.0.0 refused")
    r = run(["--listen", "192.0.2.1:8088", "--insecure-http"])
    check(r.returncode == 2 and b"--insecure-http" in r.stderr, "--insecure-http off loopback refused")
    r = run(["--listen", "localhost:8088"])
    check(r.returncode == 2 and b"ADDR:PORT" in r.stderr, "a host name as listen address refused")
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("# fine\nlisten = 127.0.0.1:8088\nmax_conections = 5\n")
    os.chmod(bad, 0o644)
    r = run(["--config", bad])
    check(r.returncode == 2 and b"bad.conf:3: unknown key \"max_conections\"" in r.stderr,
          "an unknown key in the config file names its line")
    r = run(["--config", os.path.join(tmp, "missing.conf")])
    check(r.returncode == 2 and b"no such file" in r.stderr, "a missing config file is an error")
    r = run(["--help"])
    check(r.returncode == 0 and b"--insecure-http" in r.stdout and b"--tls-key" in r.stdout, "--help")

    if shutil.which("openssl") is None:
        print("skip TLS: no openssl")
        return
    cert, key = os.path.join(tmp, "web.crt"), os.path.join(tmp, "web.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    port = free_port()
    r = run(["--listen", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key])
    check(r.returncode == 1 and b"web.key" in r.stderr, "a TLS key readable by everyone is refused")
    os.chmod(key, 0o640)
    if AS_ROOT:
        os.chown(key, 0, 65534)  # root:nogroup, as the package's root:apppass-web
    locale_conf = os.path.join(tmp, "locale.conf")
    with open(locale_conf, "w") as f:
        f.write(f"locale_dir = {LOCALE_DIR}\n")
    os.chmod(locale_conf, 0o644)
    proc = start(DROP + [APPPASS_WEB, "--config", locale_conf, "--listen", f"0.0.0.0:{port}",
                         "--tls-cert", cert, "--tls-key", key], port)
    check(proc is not None, "HTTPS on 0.0.0.0 with a certificate starts")
    if proc is None:
        return
    r = request(port, "GET", "/healthz", tls=True)
    check(status(r) == 200 and has_security_headers(r) and
          b"Strict-Transport-Security: max-age=31536000" in head_lines(r), "HTTPS: headers and HSTS")
    r = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    check(status(r) is None, "plain HTTP to the HTTPS port gets no page")
    stop(proc, "apppass-web (TLS)")


def main():
    global APPPASS_WEB, LOCALE_DIR
    tmp = tempfile.mkdtemp(prefix="apppass-web-test.")
    os.chmod(tmp, 0o755)
    try:
        # nobody runs a copy: the build tree may be unreachable (a clone in /root).
        APPPASS_WEB, libdir = stagelib.stage_program(os.path.join(tmp, "stage"), APPPASS_WEB)
        os.environ["LD_LIBRARY_PATH"] = libdir
        LOCALE_DIR = stagelib.stage_tree(LOCALE_DIR, os.path.join(tmp, "stage", "locale"))
        conf = os.path.join(tmp, "web.conf")
        with open(conf, "w") as f:
            f.write("# the test's settings\ntimeout = 2\nthreads = 4\nmax_connections = 64\n"
                    f"locale_dir = {LOCALE_DIR}\n")
        os.chmod(conf, 0o644)
        port = free_port()
        proc = start(DROP + [APPPASS_WEB, "--config", conf, "--listen", f"127.0.0.1:{port}",
                             "--broker", os.path.join(tmp, "none.sock")], port)
        check(proc is not None, "apppass-web starts on 127.0.0.1")
        if proc is not None:
            slowloris_and_limits(port)
            log = stop(proc, "apppass-web")
            check("listening on 127.0.0.1:" in log, "the start is logged")
        echo_tests()
        program_rules(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
