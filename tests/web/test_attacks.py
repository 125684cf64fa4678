#!/usr/bin/python3
"""Attacks on the self-service page (issue 13), each a group of checks against the real
servers of webenv.py (apppass-web as its own user, apppassd as root with pam_unix under
pam_wrapper, a real Dovecot), through raw HTTP (http.client: every header as sent) and,
where only a browser can tell, headless chromium:

  cookies      every cookie of a sign-in is __Host-, HttpOnly, Secure, SameSite=Strict,
               Path=/, no Domain; every page carries the security headers (CSP with
               frame-ancestors 'none', X-Frame-Options, nosniff, no-referrer, no-store)
  fixation     a session cookie planted before sign-in is not the session after it; the
               session id is new (not the pre-sign-in or sign-in cookie)
  csrf         POSTs (create, revoke, sign out; sign in when signed out) without the csrf
               field, with a wrong one, or with another session's: 403 and nothing changed
               (the store's list; no sign-in reaches the broker's log); the right one works
  other id     user A revoking user B's password by id (the confirmation page and the
               POST): 404 like an unknown id; B's password still logs in over IMAP
  ended        after sign-out the old session cookie (and a made-up one) sends to /signin
               and changes nothing; an admin's `mfa reset` ends the user's session, a
               restart of apppassd every session (seen in the browser). (The 15 min idle
               and 8 h limits: apppassd's unit tests, with injected time.)
  throttle     5 wrong passwords for a user, then the right one: refused, logged
               (reason=throttled, the fail2ban line); a wrong password and an unknown
               user read the same, and an unknown name is throttled alike; another user
               still signs in
  guessing     3 wrong codes drop the pending sign-in: a right code after them gets nothing
               (and a recovery code is not spent)
  xss          a label <script>alert(1)</script> created through the page is shown as text
               (the created page and the table), no alert dialog, no such script element
  framing      a page of another origin (a tiny http.server) framing the portal: the frame
               stays empty (frame-ancestors 'none' / X-Frame-Options: DENY), while a
               same-origin control frame loads

Oversized and malformed HTTP requests (431, 413, 400, 415, 405, slow clients) are
tests/web_server's (test_server.py), against the same server code: not repeated here.
Usage: test_attacks.py --apppass A --apppassd D --web W --pam-apppass P [--screenshots DIR]
"""
import http.server
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webenv  # noqa: E402
from webenv import Checks, HttpUser, WebEnv, forms_of, header_values  # noqa: E402

SESSION = "__Host-apppass-session"
SIGNIN = "__Host-apppass-signin"
PRE = "__Host-apppass-pre"
XSS = "<script>alert(1)</script>"


def loc(hdrs):
    return HttpUser.location(hdrs)


def ids_of(env, user):
    return sorted(r["id"] for r in env.list_pw(user))


class Attacks:
    def __init__(self, env, T, a, b, c, codes_a, codes_b):
        self.env, self.T = env, T
        self.a, self.b, self.c = a, b, c
        self.codes_a = list(codes_a)
        self.codes_b = list(codes_b)

    def code_a(self):
        return self.codes_a.pop(0)

    def signed_in(self, user, code):
        u = HttpUser(self.env)
        ok = u.sign_in(user, self.env.password_of(user), code)
        if not ok:
            raise RuntimeError(f"{user} could not sign in: {u.last[0]} {u.last[1]} "
                               f"{u.last[2][:500]}")
        return u

    # --- cookies and headers ---------------------------------------------------------------
    def cookies(self):
        T, env = self.T, self.env
        u = HttpUser(env)
        seen = []  # every Set-Cookie line of a sign-in
        st, hdrs, body = u.get("/signin")
        seen += header_values(hdrs, "Set-Cookie")
        T.check("GET /signin sets the pre-sign-in CSRF cookie (__Host-apppass-pre)",
                st == 200 and PRE in u.cookies, header_values(hdrs, "Set-Cookie"))
        self.security_headers("/signin", hdrs)
        csrf = forms_of(body).get("signin", {}).get("csrf")
        T.check("the sign-in form's csrf field is the pre-sign-in cookie (double submit)",
                csrf and csrf == u.cookies.get(PRE))
        st, hdrs, _ = u.post("/signin", {"user": self.a, "password": env.password_of(self.a),
                                         "csrf": csrf})
        seen += header_values(hdrs, "Set-Cookie")
        T.check("the right password: 303 /signin/code with the sign-in cookie",
                st == 303 and loc(hdrs) == "/signin/code" and SIGNIN in u.cookies,
                (st, hdrs))
        csrf = u.csrf("/signin/code", "code")
        st, hdrs, _ = u.post("/signin/code", {"code": self.code_a(), "csrf": csrf})
        seen += header_values(hdrs, "Set-Cookie")
        T.check("a recovery code: 303 /passwords with the session cookie, the sign-in "
                "cookie cleared", st == 303 and loc(hdrs) == "/passwords" and SESSION in
                u.cookies and SIGNIN not in u.cookies, (st, hdrs))
        st, hdrs, _ = u.get("/passwords?lang=it")
        seen += header_values(hdrs, "Set-Cookie")
        self.security_headers("/passwords", hdrs)
        names = {line.split("=", 1)[0].strip() for line in seen}
        T.check("the cookies seen: pre, sign-in, session and language",
                {PRE, SIGNIN, SESSION, "apppass-lang"} <= names, names)
        for line in seen:
            name = line.split("=", 1)[0].strip()
            attrs = {p.strip().split("=", 1)[0].lower(): p.strip() for p in line.split(";")[1:]}
            ok = ("httponly" in attrs and "secure" in attrs
                  and attrs.get("samesite", "").lower() == "samesite=strict"
                  and attrs.get("path") == "Path=/" and "domain" not in attrs)
            T.check(f"cookie {name}: HttpOnly; Secure; SameSite=Strict; Path=/; no Domain",
                    ok, line)
        for name in (PRE, SIGNIN, SESSION):
            T.check(f"{name} carries the __Host- prefix (no Domain, Secure, Path=/ forced)",
                    name.startswith("__Host-"))
        return u

    def security_headers(self, path, hdrs):
        h = {k.lower(): v for k, v in hdrs}
        csp = h.get("content-security-policy", "")
        self.T.check(f"{path}: CSP default-src 'self', frame-ancestors 'none', no inline "
                     "script; X-Frame-Options DENY; nosniff; no-referrer; no-store",
                     "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
                     and "unsafe-inline" not in csp
                     and h.get("x-frame-options", "").upper() == "DENY"
                     and h.get("x-content-type-options") == "nosniff"
                     and h.get("referrer-policy") == "no-referrer"
                     and "no-store" in h.get("cache-control", ""), h)

    # --- session fixation ---------------------------------------------------------------------
    def fixation(self):
        T, env = self.T, self.env
        planted = "ab" * 32
        u = HttpUser(env)
        u.cookies[SESSION] = planted
        st, hdrs, _ = u.get("/passwords")
        T.check("a planted (unknown) session cookie is no session: /passwords sends to "
                "/signin", st == 303 and loc(hdrs) == "/signin", (st, hdrs))
        u.get("/signin")
        pre = u.cookies.get(PRE)
        u.cookies[SESSION] = planted  # kept, whatever the answers did with it
        ok = u.sign_in(self.a, env.password_of(self.a), self.code_a())
        sess = u.cookies.get(SESSION)
        T.check("signing in with a planted session cookie: a NEW session id is set",
                ok and sess and sess != planted and sess != pre, (ok, sess))
        T.check("the new session id is 256 bits (64 hex) and not the pre-sign-in cookie",
                bool(re.fullmatch(r"[0-9a-f]{64}", sess or "")), sess)
        v = HttpUser(env)
        v.cookies[SESSION] = planted
        st, hdrs, _ = v.get("/passwords")
        T.check("after that sign-in the planted cookie is still no session (the attacker "
                "gets nothing)", st == 303 and loc(hdrs) == "/signin", (st, hdrs))
        st, _, body = u.get("/passwords")
        T.check("the new session works", st == 200 and "passwords" in body, st)
        return u

    # --- CSRF --------------------------------------------------------------------------------
    def csrf(self, ua, ub):
        T, env = self.T, self.env
        before = ids_of(env, self.a)
        good = ua.csrf("/passwords/new", "create")
        other = ub.csrf("/passwords/new", "create")
        T.check("two sessions have different csrf tokens", good != other)
        form = forms_of(ua.last[2])["create"]
        base = {"name": "csrf-test", "scope": "imap"}
        if "expiry" in form:
            base["expiry"] = form["expiry"]
        for what, token in (("no csrf field", None), ("a wrong csrf", "0" * 32),
                            ("an empty csrf", ""), ("another session's csrf", other)):
            f = dict(base)
            if token is not None:
                f["csrf"] = token
            st, _, _ = ua.post("/passwords/new", f)
            T.check(f"create with {what}: 403", st == 403, st)
        T.check("... and nothing was created", ids_of(env, self.a) == before,
                (before, ids_of(env, self.a)))
        victim = before[0]
        for what, token in (("no csrf field", None), ("a wrong csrf", "f" * 32)):
            f = {"id": victim}
            if token is not None:
                f["csrf"] = token
            st, _, _ = ua.post("/passwords/revoke", f)
            T.check(f"revoke with {what}: 403", st == 403, st)
        T.check("... and nothing was revoked", victim in ids_of(env, self.a))
        st, _, _ = ua.post("/signout", {})
        st2, _, _ = ua.get("/passwords")
        T.check("sign out without csrf: 403, the session goes on", st == 403 and st2 == 200,
                (st, st2))
        # Signed out: the sign-in form's double submit. A right password must not reach
        # the broker (no decision line for that user) without the matching token.
        log_before = env.daemon_log_text().count(f"user={self.c} ")
        s = HttpUser(env)
        s.get("/signin")
        for what, token in (("no csrf field", None), ("a csrf not matching the cookie",
                                                      "0" * 32)):
            f = {"user": self.c, "password": env.password_of(self.c)}
            if token is not None:
                f["csrf"] = token
            st, hdrs, _ = s.post("/signin", f)
            T.check(f"sign in with {what}: 403, no sign-in cookie", st == 403
                    and SIGNIN not in s.cookies, (st, hdrs))
        t = HttpUser(env)
        st, _, _ = t.post("/signin", {"user": self.c, "password": env.password_of(self.c),
                                      "csrf": "a" * 32})
        T.check("sign in without the pre-sign-in cookie at all: 403", st == 403, st)
        time.sleep(0.3)
        T.check("... and none of them reached the broker (no line for the user in its log)",
                env.daemon_log_text().count(f"user={self.c} ") == log_before)
        f = dict(base, csrf=good, name="csrf-control")
        st, hdrs, _ = ua.post("/passwords/new", f)
        T.check("control: the same create with the right csrf works (303 /passwords/created)",
                st == 303 and loc(hdrs) == "/passwords/created"
                and len(ids_of(env, self.a)) == len(before) + 1, (st, hdrs))
        ua.get("/passwords/created")  # picked up (once), like a browser would

    # --- another user's id ------------------------------------------------------------------
    def other_id(self, ua, b_id, b_pw):
        T, env = self.T, self.env
        st, _, body = ua.get("/passwords")
        T.check("A's list does not show B's password", st == 200 and b_id not in body)
        st, _, _ = ua.get(f"/passwords/revoke?id={b_id}")
        st_unknown, _, _ = ua.get("/passwords/revoke?id=ffffffff")
        T.check("A opens the revoke page of B's id: 404, as for an unknown id",
                st == 404 and st_unknown == 404, (st, st_unknown))
        csrf = ua.csrf("/passwords/new", "create")
        st, _, _ = ua.post("/passwords/revoke", {"id": b_id, "csrf": csrf})
        T.check("A posts the revoke of B's id with A's valid csrf: 404", st == 404, st)
        T.check("B's password is still active in the store", b_id in ids_of(env, self.b))
        T.check("B's password still logs in over IMAP", env.imap_login(self.b, b_pw) == 0)

    # --- an ended session ---------------------------------------------------------------------
    def ended(self, ua):
        T, env = self.T, self.env
        old = dict(ua.cookies)
        csrf = ua.csrf("/passwords/new", "create")
        st, hdrs, _ = ua.post("/signout", {"csrf": ua.csrf("/security", "signout")})
        T.check("sign out: 303 /signin, the session cookie removed",
                st == 303 and loc(hdrs) == "/signin" and SESSION not in ua.cookies,
                (st, hdrs))
        before = ids_of(env, self.a)
        replay = HttpUser(env)
        replay.cookies = dict(old)
        st, hdrs, _ = replay.get("/passwords")
        T.check("the old session cookie after sign-out: /passwords sends to /signin",
                st == 303 and loc(hdrs) == "/signin", (st, hdrs))
        st, hdrs, _ = replay.post("/passwords/new", {"name": "after-signout", "scope": "imap",
                                                     "csrf": csrf})
        T.check("... and a create with it (and its old csrf) changes nothing",
                st in (303, 403) and loc(hdrs) != "/passwords/created"
                and ids_of(env, self.a) == before, (st, hdrs))
        made_up = HttpUser(env)
        made_up.cookies[SESSION] = "0" * 64
        st, hdrs, _ = made_up.get("/security")
        T.check("a made-up session cookie: /security sends to /signin",
                st == 303 and loc(hdrs) == "/signin", (st, hdrs))

    # --- throttling --------------------------------------------------------------------------
    def throttle(self):
        T, env = self.T, self.env
        u = HttpUser(env)
        errors = []
        for i in range(5):
            csrf = u.csrf("/signin", "signin")
            st, hdrs, body = u.post("/signin", {"user": self.c, "password": f"wrong-{i}",
                                                "csrf": csrf})
            errors.append((st, loc(hdrs), self.error_text(body)))
        T.check("5 wrong passwords: each refused on the page (#error), none signed in",
                all(e[1] is None or e[1] == "/signin" for e in errors)
                and all(e[2] for e in errors), errors)
        csrf = u.csrf("/signin", "signin")
        st, hdrs, body = u.post("/signin", {"user": f"nosuch{os.getpid()}",
                                            "password": "wrong", "csrf": csrf})
        T.check("an unknown user reads the same as a wrong password (no enumeration)",
                self.error_text(body) == errors[0][2], (self.error_text(body), errors[0][2]))
        csrf = u.csrf("/signin", "signin")
        st, hdrs, body = u.post("/signin", {"user": self.c, "password": env.password_of(self.c),
                                            "csrf": csrf})
        print(f"  (the page said: {self.error_text(body)!r})")
        T.check("the 6th attempt, with the RIGHT password: refused (throttled)",
                loc(hdrs) not in ("/signin/code", "/setup") and SIGNIN not in u.cookies
                and self.error_text(body), (st, hdrs, self.error_text(body)))
        throttled = self.error_text(body)
        # An unknown name is throttled alike: the throttle tells nobody which names exist.
        ghost = f"nosuchuser{os.getpid()}"
        for i in range(6):
            csrf = u.csrf("/signin", "signin")
            st, hdrs, body = u.post("/signin", {"user": ghost, "password": f"guess-{i}",
                                                "csrf": csrf})
        T.check("an unknown name, 6 times: throttled with the same words as a real user",
                self.error_text(body) == throttled, (self.error_text(body), throttled))
        time.sleep(0.3)
        log = env.daemon_log_text()
        T.check("apppassd logs the refusals in the fail2ban format (wrong-password, throttled)",
                re.search(rf"refused service=apppass-web user={self.c} rhost=127\.0\.0\.1 "
                          r"reason=wrong-password", log) is not None and
                re.search(rf"refused service=apppass-web user={self.c} rhost=127\.0\.0\.1 "
                          r"reason=throttled", log) is not None,
                [ln for ln in log.splitlines() if self.c in ln][-3:])
        v = HttpUser(env)
        T.check("another user still signs in from the same address (per-user throttle)",
                v.sign_in(self.b, env.password_of(self.b), self.codes_b.pop(0)))
        return v

    # --- sessions ended by the server ------------------------------------------------------------
    def ended_by_server(self, ub):
        """An admin's `apppass mfa reset` ends the user's sessions; a restart of apppassd
        ends every session (they live in its memory), seen in the browser."""
        T, env = self.T, self.env
        st, _, _ = ub.get("/passwords")
        env.ap("mfa", "reset", self.b)
        st2, hdrs, _ = ub.get("/passwords")
        T.check("root resets B's MFA (apppass mfa reset): B's session ends (/signin)",
                st == 200 and st2 == 303 and loc(hdrs) == "/signin", (st, st2, hdrs))
        d = env.driver
        d.get(env.url("/passwords"))
        before = urllib.parse.urlparse(d.current_url).path
        env.stop_daemon()
        env.start_daemon()
        d.get(env.url("/passwords"))
        after = urllib.parse.urlparse(d.current_url).path
        T.check("apppassd restarted: the browser's session is gone (/passwords -> /signin)",
                before == "/passwords" and after == "/signin", (before, after))

    def code_guessing(self):
        """A sign-in allows 3 wrong codes; then it is dropped, and even a right code
        (here a recovery code) gets nothing and is not spent."""
        T, env = self.T, self.env
        u = HttpUser(env)
        csrf = u.csrf("/signin", "signin")
        st, hdrs, _ = u.post("/signin", {"user": self.a, "password": env.password_of(self.a),
                                         "csrf": csrf})
        left = env.ap("mfa", "status", self.a, json_out=True).get("recovery_codes_left")
        answers = []
        for guess in ("000000", "111111", "222222"):
            csrf = u.csrf("/signin/code", "code") if u.get("/signin/code")[0] == 200 else ""
            st, hdrs, body = u.post("/signin/code", {"code": guess, "csrf": csrf})
            answers.append((st, loc(hdrs), self.error_text(body)))
        T.check("3 wrong codes after the right password: each refused, no session",
                all(a[1] != "/passwords" for a in answers) and SESSION not in u.cookies,
                answers)
        st, hdrs, body = u.get("/signin/code")
        code = self.codes_a[-1]
        csrf = forms_of(body).get("code", {}).get("csrf", "") if st == 200 else ""
        st, hdrs, _ = u.post("/signin/code", {"code": code, "csrf": csrf})
        now_left = env.ap("mfa", "status", self.a, json_out=True).get("recovery_codes_left")
        T.check("... then that sign-in is dropped: a right recovery code gets no session and "
                "is not spent", loc(hdrs) != "/passwords" and SESSION not in u.cookies
                and isinstance(left, int) and now_left == left, (st, hdrs, left, now_left))

    @staticmethod
    def error_text(body):
        m = re.search(r'id="error"[^>]*>(.*?)</', body or "", re.S)
        return re.sub(r"\s+", " ", m.group(1)).strip() if m else ""

    # --- the browser: a script label, framing --------------------------------------------------
    def browser(self):
        T, env = self.T, self.env
        from selenium.common.exceptions import NoAlertPresentException
        from selenium.webdriver.common.by import By
        d = env.browser()
        d.get(env.url("/signin"))
        d.find_element(By.CSS_SELECTOR, "form#signin [name=user]").send_keys(self.a)
        d.find_element(By.CSS_SELECTOR, "form#signin [name=password]").send_keys(
            env.password_of(self.a))
        webenv.submit(d, "form#signin")
        d.find_element(By.CSS_SELECTOR, "form#code [name=code]").send_keys(self.code_a())
        webenv.submit(d, "form#code")
        d.get(env.url("/passwords/new"))
        d.find_element(By.CSS_SELECTOR, "form#create [name=name]").send_keys(XSS)
        for box in d.find_elements(By.CSS_SELECTOR, "form#create input[name=scope]"):
            if box.is_selected() != (box.get_attribute("value") == "imap"):
                box.click()
        webenv.submit(d, "form#create")

        def no_alert():
            try:
                text = d.switch_to.alert.text
                d.switch_to.alert.dismiss()
                return f"alert: {text}"
            except NoAlertPresentException:
                return None

        env.screenshot("xss-created")
        alert = no_alert()
        T.check("the label <script>alert(1)</script>: the created page shows it as text, "
                "no dialog", alert is None and XSS in d.find_element(By.TAG_NAME, "body").text,
                alert)
        d.get(env.url("/passwords"))
        time.sleep(0.3)
        alert = no_alert()
        rows = [r for r in d.find_elements(By.CSS_SELECTOR, "tr[data-id]") if XSS in r.text]
        T.check("... /passwords shows it as text in its row, no dialog",
                alert is None and len(rows) == 1, (alert, [r.text for r in rows]))
        scripts = d.execute_script(
            "return Array.from(document.scripts).map(s => s.text + (s.src || ''))")
        T.check("... and no script element of it is in the document",
                not any("alert(1)" in s for s in scripts), scripts)
        env.screenshot("xss-passwords")

        # Framing: another origin (another port) frames the portal; a control frame of
        # its own origin shows that a frame that is allowed does load.
        other = OtherOrigin(env.url("/signin"))
        try:
            d.get_log("browser")
            d.get(other.url("/"))
            time.sleep(1.0)
            d.switch_to.frame("control")
            control = d.find_elements(By.ID, "inner")
            d.switch_to.default_content()
            d.switch_to.frame("portal")
            framed = d.find_elements(By.CSS_SELECTOR, "form, nav#lang")
            doc = d.execute_script("return document.URL + ' ' + "
                                   "(document.body ? document.body.innerText : '')")
            d.switch_to.default_content()
            env.screenshot("framed")
            T.check("control: a frame of the framing page's own origin loads",
                    len(control) == 1)
            T.check("the portal in a frame of another origin: refused, the frame is empty",
                    not framed and "signin" not in doc.split(" ", 1)[0], doc[:200])
            log = [e["message"] for e in d.get_log("browser")]
            T.check("... and the browser says why (frame-ancestors / X-Frame-Options)",
                    any("frame-ancestors" in m or "X-Frame-Options" in m for m in log), log)
        finally:
            other.close()


class OtherOrigin:
    """A tiny web server of another origin (another port) whose page frames `target`."""

    def __init__(self, target):
        page = (f'<!doctype html><title>other</title><iframe id="portal" name="portal" '
                f'src="{target}" width="600" height="400"></iframe>'
                f'<iframe id="control" name="control" src="/inner"></iframe>').encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = page if self.path == "/" else b'<p id="inner">inner</p>'
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        # "localhost": another host as well as another port.
        return f"http://localhost:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    args = webenv.parse_args(__doc__)
    webenv.require_root_and_browser()
    T = Checks()
    with WebEnv(args, name="attacks", dovecot=True) as env:
        a = env.add_user("webatka")
        b = env.add_user("webatkb")
        c = env.add_user("webatkc")
        _, codes_a = env.enroll(a)
        _, codes_b = env.enroll(b)
        env.create_pw(a, "keep", "imap")
        b_id, b_pw = env.create_pw(b, "bobs-phone", "imap")
        env.start()
        t = Attacks(env, T, a, b, c, codes_a, codes_b)
        ua = t.cookies()
        ub = t.signed_in(b, t.codes_b.pop(0))
        t.fixation()
        t.csrf(ua, ub)
        t.other_id(ua, b_id, b_pw)
        t.ended(ua)
        ub2 = t.throttle()
        t.code_guessing()
        t.browser()
        t.ended_by_server(ub2)
        rc = env.stop_web()
        T.check("apppass-web stops on SIGTERM with status 0 (sanitizer build: no leak)",
                rc == 0, f"exit {rc}")
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
