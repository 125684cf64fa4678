#!/usr/bin/python3
"""The demo's web part (.ci/demo): one user's way through apppass-web, as a browser would
go (cookies, the CSRF field of each form, redirects), with Python's http.client and no
browser: sign in with the real password, "Set it up now" (the key read from the page, the
code from oathtool), the recovery codes shown once, a new app password for IMAP shown once;
later (`revoke`), revoke it in the page. Prints what the pages say, step by step.

Usage: demo-web.py PORT USER PASSWORD STATE_FILE (writes the new password, its id, the cookies)
       demo-web.py PORT revoke STATE_FILE          (revokes it, signed in from STATE_FILE)
"""
import html
import http.client
import json
import re
import subprocess
import sys
import urllib.parse


class Browser:
    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, form=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        text = r.read().decode()
        for name, value in r.getheaders():
            if name.lower() != "set-cookie":
                continue
            pair = value.split(";", 1)[0]
            k, _, v = pair.partition("=")
            if v and "Max-Age=0" not in value:
                self.cookies[k] = v
            else:
                self.cookies.pop(k, None)
        print(f"  {method} {path} -> {r.status}" +
              (f" (to {r.getheader('Location')})" if r.getheader("Location") else ""))
        conn.close()
        if r.status in (302, 303):
            return self.request("GET", r.getheader("Location"))
        return r.status, text


def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    if not m:
        sys.exit(f"demo-web: no field {name} on the page")
    return html.unescape(m.group(1))


def element(page, ident):
    m = re.search(r'id="%s"[^>]*>(.*?)</' % re.escape(ident), page, re.S)
    if not m:
        sys.exit(f"demo-web: no #{ident} on the page")
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()


def title(page):
    m = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip() if m else "?"


def step(text):
    print(f"\n\033[1m== {text}\033[0m")


def main():
    port = int(sys.argv[1])
    b = Browser(port)
    if sys.argv[2] == "revoke":
        state = json.load(open(sys.argv[3]))
        b.cookies = state["cookies"]
        step("In the page: App passwords, Revoke, confirm")
        _, page = b.request("GET", "/passwords")
        for row in re.findall(r'<tr data-id="[^"]+">(.*?)</tr>', page, re.S):
            cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                     for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            print("  the table: " + " | ".join(c for c in cells if c))
        _, page = b.request("GET", "/passwords/revoke?id=" + urllib.parse.quote(state["id"]))
        print(f"  page: {title(page)}")
        status, page = b.request("POST", "/passwords/revoke",
                                 {"id": state["id"], "csrf": field(page, "csrf")})
        print(f"  page: {title(page)}: {element(page, 'notice')}")
        _, page = b.request("GET", "/security")
        b.request("POST", "/signout", {"csrf": field(page, "csrf")})
        return 0

    user, password, out = sys.argv[2], sys.argv[3], sys.argv[4]
    step(f"In the page: sign in as {user} with the real password")
    _, page = b.request("GET", "/signin")
    _, page = b.request("POST", "/signin",
                        {"user": user, "password": password, "csrf": field(page, "csrf")})
    print(f"  page: {title(page)}")
    step('No MFA yet: "Set it up now", scan the QR code (here: read the key), enter a code')
    _, page = b.request("POST", "/setup/start", {"csrf": field(page, "csrf")})
    key = element(page, "secret")
    print(f"  page: {title(page)}: a QR code (inline SVG) and the key {key}")
    code = subprocess.run(["oathtool", "--totp", "-b", key.replace(" ", "")],
                          capture_output=True, text=True, check=True).stdout.strip()
    print("  (the code from the authenticator app, here from oathtool)")
    _, page = b.request("POST", "/setup/confirm", {"code": code, "csrf": field(page, "csrf")})
    codes = re.findall(r"<li><code>([^<]+)</code></li>", page)
    print(f"  page: {title(page)}: {len(codes)} recovery codes, shown once: {codes[0]} ...")
    _, page = b.request("POST", "/setup/done", {"saved": "yes", "csrf": field(page, "csrf")})
    print(f"  page: {title(page)}")
    step('In the page: create an app password for IMAP ("Phone mail")')
    _, page = b.request("GET", "/passwords/new")
    _, page = b.request("POST", "/passwords/new",
                        {"name": "Phone mail", "scope": "imap", "expiry": "",
                         "csrf": field(page, "csrf")})
    secret = element(page, "new-password")
    print(f"  page: {title(page)}: {secret}   [Copy]  [Done]")
    _, page = b.request("GET", "/passwords/created")
    print(f"  reloaded: {title(page)} (the password is not shown again)")
    _, page = b.request("GET", "/passwords")
    ids = re.findall(r'<tr data-id="([^"]+)"', page)
    with open(out, "w") as f:
        json.dump({"password": secret, "id": ids[0], "cookies": b.cookies}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
