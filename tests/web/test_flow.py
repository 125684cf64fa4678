#!/usr/bin/python3
"""The self-service page in a real browser (issue 13): a new user's whole flow, in English
and in Romanian, with an Italian smoke check, against real servers (webenv.py): headless
chromium -> apppass-web (its own user) -> apppassd (root, pam_unix through pam_wrapper) ->
the store, and a real Dovecot authenticating IMAP through pam_apppass.so on that store.

For each language, a user made by the test (useradd, chpasswd):
  sign in (system password) -> /setup -> "Set it up now" -> the key read from #secret, the
  code computed with oathtool -> confirm -> 10 recovery codes -> "I saved them" ->
  /passwords -> create an IMAP password -> read #new-password -> IMAP LOGIN to Dovecot is
  accepted -> reloading (and going back to) the created page never shows it again -> revoke
  in the page, with its confirmation -> the same IMAP login is refused -> sign out -> the
  old pages send to /signin -> sign in again, with a TOTP code (English) or a recovery code
  (Romanian).
Romanian also changes the authenticator app on /security (old app's code, new key, new
app's code; then sign-in takes the new app's code and refuses the old one's).
Italian: a third user signs in and sees "Configura ora"; the page's language switch
(nav#lang) turns it into English and back; then Set it up now and new recovery codes
on /security.
Also: the console has no errors (CSP violations are SEVERE entries), Copy puts the password
on the clipboard, the created page fits 360 px (a phone), the sign-in and create pages have
a label for every field, a Tab order that follows the form and a visible focus.

A screenshot of each page goes to --screenshots (CTest: the build directory); with
APPPASS_WEB_DOCS_SCREENSHOTS=1 the English one of each page is also copied to
docs/screenshots/PAGE.png (the README shows the create pages).
Usage: test_flow.py --apppass A --apppassd D --web W --pam-apppass P [--screenshots DIR]
"""
import os
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webenv  # noqa: E402
from webenv import Checks, WebEnv, oathtool_code  # noqa: E402

WORDS = {
    "en": {"setup": "Set it up now", "copy": "Copy", "accept": "en-US,en"},
    "ro": {"setup": "Configurați-l acum", "copy": "Copiere", "accept": "ro-RO,ro"},
    "it": {"setup": "Configura ora", "copy": "Copia", "accept": "it-IT,it"},
}
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                    "screenshots")


def after(spent_at):
    """A time whose TOTP step is after the one spent at `spent_at` and still accepted now
    (a code is valid one step either side of now): the next step, or now if later."""
    return max(spent_at + 30, time.time())


def norm(pw):
    return "".join(pw.split())


class Flow:
    def __init__(self, env, T):
        from selenium.webdriver.common.by import By
        self.By = By
        self.env = env
        self.T = T
        self.d = env.driver
        self.docs_copied = set()
        self.usable_checked = False

    # --- helpers ---------------------------------------------------------------------------
    def path(self):
        return urllib.parse.urlparse(self.d.current_url).path

    def wait_path(self, want, timeout=8):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.path() == want:
                return True
            time.sleep(0.05)
        return False

    def find(self, css):
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.d.find_elements(self.By.CSS_SELECTOR, css)

    def navigate(self, element):
        webenv.navigate(self.d, element)

    def submit(self, form_css):
        webenv.submit(self.d, form_css)

    def fill(self, css, text):
        el = self.find(css)
        el.clear()
        el.send_keys(text)

    def lang(self):
        return self.find("html").get_attribute("lang")

    def shot(self, name):
        """A screenshot in --screenshots; with APPPASS_WEB_DOCS_SCREENSHOTS=1 the first
        English one of each page is also copied to docs/screenshots/PAGE.png."""
        path = self.env.screenshot(name)
        if path and name.startswith("en-") and \
                os.environ.get("APPPASS_WEB_DOCS_SCREENSHOTS") == "1":
            os.makedirs(DOCS, exist_ok=True)
            dst = os.path.join(DOCS, name[3:] + ".png")
            if dst not in self.docs_copied:
                shutil.copy(path, dst)
                self.docs_copied.add(dst)
                print(f"  (copied to {os.path.normpath(dst)})")
        return path

    def console_errors(self):
        """SEVERE console entries (CSP violations, script errors, a missing asset), but for
        what the flow causes on purpose: the 410 of the created page reloaded, and the
        favicon the browser asks for by itself."""
        expected = ("/favicon.ico - ", "/passwords/created - ")
        return [e["message"] for e in self.d.get_log("browser")
                if e.get("level") == "SEVERE" and not any(x in e["message"] for x in expected)]

    def go(self, path):
        self.d.get(self.env.url(path))

    # --- the steps -------------------------------------------------------------------------
    def sign_in_password(self, user, lang):
        T = self.T
        self.go("/")
        T.check(f"[{lang}] / sends a signed-out browser to /signin", self.wait_path("/signin"),
                self.d.current_url)
        T.check(f"[{lang}] the sign-in page is in {lang} (<html lang>)",
                (self.lang() or "").startswith(lang), self.lang())
        T.check(f"[{lang}] the page has the language switch (nav#lang: en, ro, it)",
                all(self.finds(f"nav#lang a[href*='lang={x}']") for x in ("en", "ro", "it")))
        self.shot(f"{lang}-signin")
        if lang == "en" and not self.usable_checked:
            self.usable_checked = True
            self.check_usable(lang, "/signin", "form#signin [name=user]", ["password", "button"])
        self.fill("form#signin [name=user]", user)
        self.fill("form#signin [name=password]", self.env.password_of(user))
        self.submit("form#signin")

    def setup(self, user, lang):
        """From /setup to /passwords; returns the recovery codes and the TOTP secret."""
        T, w = self.T, WORDS[lang]
        T.check(f"[{lang}] a user without MFA goes from the password to /setup",
                self.wait_path("/setup"), self.d.current_url)
        button = self.find("button#setup-start")
        T.check(f"[{lang}] /setup offers \"{w['setup']}\"", w["setup"] in button.text,
                button.text)
        self.shot(f"{lang}-setup")
        self.navigate(button)
        secret_el = self.find("#secret")
        secret = norm(secret_el.text)
        T.check(f"[{lang}] Set it up now: a QR code (inline SVG) and the key in groups",
                bool(self.finds("#qr svg")) and len(secret) >= 16 and " " in secret_el.text,
                secret_el.text)
        self.shot(f"{lang}-setup-key")
        self.code_at = time.time()
        code = oathtool_code(secret, self.code_at)
        self.fill("form#confirm [name=code]", code)
        self.submit("form#confirm")
        codes = [li.text.strip() for li in self.finds("#recovery-codes li")]
        T.check(f"[{lang}] the code from oathtool confirms it: 10 recovery codes shown",
                len(codes) == 10 and all(codes), codes)
        self.shot(f"{lang}-recovery-codes")
        saved = self.find("form#saved input[name=saved]")
        if not saved.is_selected():
            saved.click()
        self.submit("form#saved")
        T.check(f"[{lang}] \"I saved them\" leads to /passwords", self.wait_path("/passwords"),
                self.d.current_url)
        st = self.env.ap("mfa", "status", user, json_out=True)
        T.check(f"[{lang}] the store has the user's confirmed enrollment",
                st.get("state") == "confirmed", st)
        return secret, codes

    def create(self, user, lang, label):
        """Creates an IMAP password through the pages; returns (id, password)."""
        T, w = self.T, WORDS[lang]
        T.check(f"[{lang}] /passwords: an empty table#passwords",
                bool(self.finds("table#passwords")) and not self.finds("tr[data-id]"))
        self.shot(f"{lang}-passwords-empty")
        self.navigate(self.find("a#create"))
        T.check(f"[{lang}] a#create opens /passwords/new", self.wait_path("/passwords/new"))
        if lang == "en":
            self.check_usable(lang, "/passwords/new", "form#create [name=name]", ["scope"])
        self.fill("form#create [name=name]", label)
        for box in self.finds("form#create input[name=scope]"):
            if box.is_selected() != (box.get_attribute("value") == "imap"):
                box.click()
        T.check(f"[{lang}] the create form offers the policy's services as checkboxes",
                {b.get_attribute("value") for b in self.finds("form#create input[name=scope]")}
                >= {"imap", "smtp"})
        self.shot(f"{lang}-create")
        self.submit("form#create")
        T.check(f"[{lang}] creating redirects to /passwords/created (PRG)",
                self.wait_path("/passwords/created"), self.d.current_url)
        pw_el = self.find("#new-password")
        shown = pw_el.text
        pw = norm(shown)
        copy = self.find("button#copy")
        T.check(f"[{lang}] the new password is shown in groups, with \"{w['copy']}\"",
                len(pw) >= 16 and (" " in shown or "-" in shown) and w["copy"] in copy.text,
                f"{shown!r} / {copy.text!r}")
        T.check(f"[{lang}] the created page has the mail settings and Done",
                bool(self.finds("#mail-settings")) and bool(self.finds("a#done")))
        self.shot(f"{lang}-created")
        if lang == "en":
            self.check_copy(pw)
            self.check_phone_width(lang)
        rows = [r for r in self.env.list_pw(user) if r.get("name") == label]
        T.check(f"[{lang}] the store has it, for imap only",
                len(rows) == 1 and rows[0].get("scopes") == ["imap"], rows)
        return (rows[0]["id"] if rows else None), pw

    def check_usable(self, lang, page, first, order):
        """Every field has a label; Tab from `first` visits the names in `order` (then the
        submit button); the focused element is visibly marked (outline or shadow)."""
        from selenium.webdriver.common.keys import Keys
        unlabelled = self.d.execute_script(
            "return Array.from(document.querySelectorAll("
            "'input:not([type=hidden]), select, textarea')).filter(e => !(e.labels && "
            "e.labels.length) && !e.getAttribute('aria-label') && "
            "!e.getAttribute('aria-labelledby')).map(e => e.name || e.id)")
        self.T.check(f"[{lang}] {page}: every field has a label", not unlabelled, unlabelled)
        el = self.find(first)
        el.click()
        seen = []
        for _ in order:
            self.d.switch_to.active_element.send_keys(Keys.TAB)
            a = self.d.switch_to.active_element
            seen.append(a.get_attribute("name") or a.tag_name)
        focus = self.d.execute_script(
            "const s = getComputedStyle(document.activeElement);"
            "return [s.outlineStyle, s.outlineWidth, s.boxShadow]")
        self.T.check(f"[{lang}] {page}: the keyboard (Tab) goes {' -> '.join(order)}",
                     seen == list(order), seen)
        self.T.check(f"[{lang}] {page}: the focused element is visibly marked",
                     (focus[0] != "none" and focus[1] != "0px") or focus[2] != "none", focus)

    def check_copy(self, pw):
        """Copy (copy.js) puts the password on the clipboard."""
        try:
            self.d.execute_cdp_cmd("Browser.grantPermissions", {
                "origin": self.env.base,
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
            self.find("button#copy").click()
            time.sleep(0.2)
            got = self.d.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "navigator.clipboard.readText().then(done, e => done('ERR ' + e));")
        except Exception as e:  # noqa: BLE001 - reported as the check's detail
            got = f"ERR {e!r}"
        self.T.check("[en] Copy puts the app password on the clipboard",
                     norm(got).replace("-", "") == pw.replace("-", ""), got)

    def check_phone_width(self, lang):
        size = self.d.get_window_size()
        self.d.set_window_size(360, 800)
        try:
            time.sleep(0.2)
            wide = self.d.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            self.shot(f"{lang}-created-phone")
        finally:
            self.d.set_window_size(size["width"], size["height"])
        self.T.check(f"[{lang}] the created page fits a 360 px wide phone (no sideways scroll)",
                     wide[0] <= wide[1], wide)

    def never_again(self, lang, pw):
        T = self.T
        self.d.refresh()
        page = norm(self.d.page_source)
        T.check(f"[{lang}] reloading /passwords/created never shows the password again",
                not self.finds("#new-password") and pw not in page
                and pw.replace("-", "") not in page.replace("-", ""))
        self.shot(f"{lang}-created-reloaded")
        self.go("/passwords")
        self.d.back()
        page = norm(self.d.page_source)
        T.check(f"[{lang}] nor does going back to it",
                not self.finds("#new-password") and pw not in page)

    def revoke(self, user, lang, pw_id):
        T = self.T
        self.go("/passwords")
        rows = self.finds(f"tr[data-id='{pw_id}']")
        T.check(f"[{lang}] /passwords lists it (tr[data-id], name and services)",
                len(rows) == 1 and "imap" in rows[0].text.lower(), [r.text for r in rows])
        T.check(f"[{lang}] ... with its last use: the IMAP login from 127.0.0.1",
                len(rows) == 1 and "127.0.0.1" in rows[0].text, [r.text for r in rows])
        self.shot(f"{lang}-passwords")
        self.navigate(rows[0].find_element(self.By.CSS_SELECTOR, "a.revoke"))
        T.check(f"[{lang}] Revoke asks for a confirmation first (form#revoke)",
                self.wait_path("/passwords/revoke") and bool(self.finds("form#revoke")))
        self.shot(f"{lang}-revoke")
        T.check(f"[{lang}] ... and nothing is revoked before it",
                any(r["id"] == pw_id for r in self.env.list_pw(user)))
        self.submit("form#revoke")
        T.check(f"[{lang}] confirming goes back to /passwords with a notice",
                self.wait_path("/passwords") and bool(self.finds("#notice")), self.d.current_url)
        T.check(f"[{lang}] the row is gone and the store has no active password",
                not self.finds(f"tr[data-id='{pw_id}']")
                and not any(r["id"] == pw_id for r in self.env.list_pw(user)))
        self.shot(f"{lang}-revoked")

    def sign_out(self, lang):
        T = self.T
        self.go("/security")
        T.check(f"[{lang}] /security: new recovery codes, change of app, sign out",
                all(self.finds(f"form#{f}") for f in ("recovery", "authenticator", "signout")))
        self.shot(f"{lang}-security")
        self.submit("form#signout")
        T.check(f"[{lang}] signing out leads to /signin", self.wait_path("/signin"))
        self.go("/passwords")
        T.check(f"[{lang}] after signing out, /passwords sends to /signin",
                self.wait_path("/signin"), self.d.current_url)

    def sign_in_again(self, user, lang, code, what):
        T = self.T
        self.sign_in_password(user, lang)
        T.check(f"[{lang}] an enrolled user goes from the password to /signin/code",
                self.wait_path("/signin/code"), self.d.current_url)
        self.shot(f"{lang}-signin-code")
        self.fill("form#code [name=code]", code)
        self.submit("form#code")
        T.check(f"[{lang}] signing in again with {what}: /passwords",
                self.wait_path("/passwords"), self.d.current_url)

    def full(self, user, lang, label):
        T, env = self.T, self.env
        self.d.delete_all_cookies()
        env.set_language(WORDS[lang]["accept"])
        self.d.get_log("browser")  # start a clean console
        self.sign_in_password(user, lang)
        secret, codes = self.setup(user, lang)
        confirmed_at = self.code_at
        pw_id, pw = self.create(user, lang, label)
        T.check(f"[{lang}] IMAP LOGIN to Dovecot with the password from the page: accepted",
                env.imap_login(user, pw) == 0)
        self.never_again(lang, pw)
        self.revoke(user, lang, pw_id)
        T.check(f"[{lang}] the same IMAP LOGIN after the revoke: refused",
                env.imap_login(user, pw) == 1)
        self.sign_out(lang)
        if lang == "en":
            # The confirmation spent the step of `confirmed_at`: a later step's code (the
            # next one is accepted already), no waiting for the clock.
            self.sign_in_again(user, lang, oathtool_code(secret, after(confirmed_at)),
                               "the next TOTP code (oathtool)")
        else:
            self.sign_in_again(user, lang, codes[0], "a recovery code")
        self.shot(f"{lang}-signed-in-again")
        errors = self.console_errors()
        T.check(f"[{lang}] the browser console has no errors (no CSP violation)", not errors,
                errors)
        if lang == "ro":
            # The recovery code spent no step: the old app's next step is still new.
            self.change_authenticator(user, lang, secret, after(confirmed_at))
        self.submit_signout_quietly()

    def change_authenticator(self, user, lang, old_secret, code_at):
        """Security -> change authenticator app: a current code of the old app (at
        `code_at`, a step not spent yet), the new key, a code of the new app; then sign-in
        takes the new app's codes and refuses the old app's. Returns the new secret."""
        T = self.T
        self.go("/security")
        self.fill("form#authenticator [name=code]", oathtool_code(old_secret, code_at))
        self.submit("form#authenticator")
        secret_el = self.finds("#secret")
        new_secret = norm(secret_el[0].text) if secret_el else ""
        T.check(f"[{lang}] change of app: the old app's code gives a new QR code and key",
                bool(self.finds("#qr svg")) and len(new_secret) >= 16
                and new_secret != old_secret and bool(self.finds("form#authenticator-confirm")),
                new_secret)
        self.shot(f"{lang}-authenticator-new")
        confirm_at = time.time()
        self.fill("form#authenticator-confirm [name=code]", oathtool_code(new_secret, confirm_at))
        self.submit("form#authenticator-confirm")
        T.check(f"[{lang}] ... the new app's code confirms it (/security with a notice)",
                self.wait_path("/security") and bool(self.finds("#notice")), self.d.current_url)
        self.shot(f"{lang}-authenticator-changed")
        self.submit("form#signout")
        self.wait_path("/signin")
        # The old app: refused (its next step would otherwise be new).
        self.sign_in_password(user, lang)
        self.wait_path("/signin/code")
        self.fill("form#code [name=code]", oathtool_code(old_secret, after(code_at)))
        self.submit("form#code")
        T.check(f"[{lang}] signing in with the OLD app's code: refused, with the reason "
                "beside the field", self.path() != "/passwords" and bool(self.finds("form#code"))
                and bool(self.finds("[role=alert]")), self.d.current_url)
        self.fill("form#code [name=code]", oathtool_code(new_secret, after(confirm_at)))
        self.submit("form#code")
        T.check(f"[{lang}] ... and with the NEW app's next code: /passwords",
                self.wait_path("/passwords"), self.d.current_url)
        return new_secret

    def new_recovery_codes(self, lang, secret, code_at, old_codes):
        T = self.T
        self.go("/security")
        self.fill("form#recovery [name=code]", oathtool_code(secret, code_at))
        self.submit("form#recovery")
        codes = [li.text.strip() for li in self.finds("#recovery-codes li")]
        T.check(f"[{lang}] Security -> new recovery codes (a current code): 10 new ones",
                len(codes) == 10 and not set(codes) & set(old_codes), codes)
        self.shot(f"{lang}-recovery-new")

    def submit_signout_quietly(self):
        self.go("/security")
        if self.finds("form#signout"):
            self.submit("form#signout")
            self.wait_path("/signin")

    def italian(self, user):
        T = self.T
        self.d.delete_all_cookies()
        self.env.set_language(WORDS["it"]["accept"])
        self.sign_in_password(user, "it")
        T.check("[it] the password leads to /setup", self.wait_path("/setup"))
        text = self.find("button#setup-start").text
        T.check("[it] /setup offers \"Configura ora\"", "Configura ora" in text, text)
        self.shot("it-setup")
        self.navigate(self.find("nav#lang a[href*='lang=en']"))
        text = self.find("button#setup-start").text
        T.check("[it] the language switch (nav#lang, ?lang=en) turns the page into English",
                self.lang().startswith("en") and "Set it up now" in text, (self.lang(), text))
        self.navigate(self.find("nav#lang a[href*='lang=it']"))
        secret, codes = self.setup(user, "it")
        self.new_recovery_codes("it", secret, after(self.code_at), codes)
        self.submit_signout_quietly()
        self.d.delete_all_cookies()


def main():
    args = webenv.parse_args(__doc__)
    webenv.require_root_and_browser()
    T = Checks()
    with WebEnv(args, name="flow", dovecot=True) as env:
        alice = env.add_user("webalice")
        dana = env.add_user("webdana")
        carla = env.add_user("webcarla")
        env.start()
        env.browser()
        flow = Flow(env, T)
        flow.full(alice, "en", "Mail on my phone")
        flow.full(dana, "ro", "Telefonul meu")
        flow.italian(carla)
        rc = env.stop_web()
        T.check("apppass-web stops on SIGTERM with status 0 (sanitizer build: no leak)",
                rc == 0, f"exit {rc}")
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
