"""The harness of the browser tests (issue 13): real users, a real store, apppassd as root
under pam_wrapper, apppass-web as its own unprivileged user, optionally a real Dovecot, and
headless chromium through selenium. Everything lives in a private temp dir and is removed
(users too) when the `with` block ends, whatever happened inside it.

    with WebEnv(args, dovecot=True) as env:
        alice = env.add_user("webalice")          # real user, known password (chpasswd)
        env.start()                               # apppassd, apppass-web (, Dovecot)
        d = env.browser()                         # one chromium for the whole file
        d.get(env.url("/signin")) ...
        env.imap_login(alice, pw)                 # 0 in, 1 refused, 2 error

The pieces, as in the other integration tests (tests/broker/test_broker.sh,
tests/integration/dovecot_lib.sh, tests/lib/users.sh, stage.sh):
  - users: `useradd --system` (names carry the pid), passwords through `chpasswd`;
  - the store: `apppass init`, `policy set self_enroll yes`;
  - PAM: a service dir read through pam_wrapper (LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
    PAM_WRAPPER_SERVICE_DIR), `apppass-web` = pam_unix (auth and account), `imap` =
    pam_apppass.so on the store; libpam is the real one, /etc/pam.d is never read;
  - apppassd as root with --portal-user, its socket below the temp dir (0711: every user
    reaches it, nobody lists it);
  - apppass-web copied with its private libraries to the temp dir (a build tree under
    /root is not reachable by other users) and run as the portal user (setpriv);
  - under the sanitizer build (APPPASS_TEST_PRELOAD, set by CTest) apppassd gets the ASan
    runtime and libcrypt before pam_wrapper (and PAM_WRAPPER_DISABLE_DEEPBIND), Dovecot the
    runtime; the portal keeps leak detection on and its exit status is checked at the end.

Output: TAP-like "ok - ..." / "not ok - ..." lines (Checks); exit 0, 1 on a failure, 77
when the test cannot run here (not root; no chromium outside CI).
Use /usr/bin/python3 (Debian's selenium).
"""
import argparse
import html.parser
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stage as stagelib  # noqa: E402 (tests/lib)

SKIP = 77
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAM_UNIX_DIRS = ("/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
                 "/lib/security", "/usr/lib/security")


def skip(reason):
    print(f"ok - # SKIP {reason}")
    sys.exit(SKIP)


def skip_or_fail(reason):
    """A missing browser skips the test on a developer's machine, but fails under CI
    (.ci/install-deps installs it there)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        print(f"not ok - {reason} (CI is set: the browser tests must run)")
        sys.exit(1)
    skip(reason)


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--apppass", required=True)
    p.add_argument("--apppassd", required=True)
    p.add_argument("--web", required=True, help="the apppass-web program")
    p.add_argument("--pam-apppass", help="pam_apppass.so (for Dovecot)")
    p.add_argument("--screenshots", help="directory for a screenshot of each page")
    p.add_argument("--locale-dir", help="the build's translations (<lang>/LC_MESSAGES/*.mo)")
    p.add_argument("--web-arg", action="append", default=[],
                   help="one more argument for apppass-web (repeatable)")
    return p.parse_args()


def require_root_and_browser():
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        skip("needs root, useradd and setpriv")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        skip_or_fail("not installed: " + ", ".join(missing))
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip_or_fail("python3-selenium is not installed")
    for tool in ("oathtool", "dovecot", "chpasswd"):
        if not shutil.which(tool):  # the rest of the suite needs them too
            print(f"not ok - {tool} is not installed (.ci/install-deps test installs it)")
            sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oathtool_code(secret_b32, at=None):
    """The code as `oathtool --totp -b` computes it (at `at`, a unix time; default now)."""
    cmd = ["oathtool", "--totp", "-b"]
    if at is not None:
        cmd += ["-N", "@%d" % int(at)]
    return subprocess.run(cmd + [secret_b32], check=True, capture_output=True,
                          text=True).stdout.strip()


class Checks:
    """ok / not ok lines; `failed` counts the failures."""

    def __init__(self):
        self.failed = 0
        self.count = 0

    def check(self, desc, cond, detail=""):
        self.count += 1
        if cond:
            print(f"ok - {desc}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {desc}" + (f" ({detail})" if detail else ""), flush=True)
        return bool(cond)

    def finish(self):
        if self.failed:
            print(f"FAIL - {self.failed} of {self.count} check(s) failed", flush=True)
            return 1
        print(f"PASS - all {self.count} checks passed", flush=True)
        return 0


class WebEnv:
    def __init__(self, args, name="web", dovecot=False):
        self.args = args
        self.name = name
        self.want_dovecot = dovecot
        self.apppass = os.path.realpath(args.apppass)
        self.apppassd = os.path.realpath(args.apppassd)
        self.web = os.path.realpath(args.web)
        self.pam_apppass = os.path.realpath(args.pam_apppass) if args.pam_apppass else None
        self.preload = os.environ.get("APPPASS_TEST_PRELOAD", "")
        self.users = []       # made here, removed at the end
        self.groups = []
        self.passwords = {}   # user -> system password
        self.web_proc = None
        self.daemon_proc = None
        self.dovecot_pid = None
        self.driver = None
        self.tmp = None
        self.shots = 0
        self.portal_user = None

    # --- set-up and tear-down -----------------------------------------------------------
    def __enter__(self):
        # Under /tmp: Dovecot's sockets below base_dir must fit in sun_path (108 bytes).
        self.tmp = tempfile.mkdtemp(prefix=f"apppass-{self.name}.", dir="/tmp")
        os.chmod(self.tmp, 0o755)  # Dovecot's imap (65534) and the portal user traverse it
        self.store = os.path.join(self.tmp, "store")
        self.pamdir = os.path.join(self.tmp, "pam.d")
        self.rundir = os.path.join(self.tmp, "run")
        self.sock = os.path.join(self.rundir, "apppassd.sock")
        self.daemon_log = os.path.join(self.tmp, "apppassd.log")
        self.web_log = os.path.join(self.tmp, "apppass-web.log")
        os.mkdir(self.rundir, 0o711)
        os.chmod(self.rundir, 0o711)
        self.port = free_port()
        self.imap_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        try:
            self.portal_user = self._useradd("webportal")
            self.verify_group = self._groupadd("webvrf")
            self.ap("init")
            self.ap("policy", "set", "self_enroll", "yes")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None and exc_type is not SystemExit
        if failed:
            print("not ok - the test stopped on an exception:", flush=True)
            traceback.print_exception(exc_type, exc, tb)
            self.screenshot("failure")
        if failed or os.environ.get("APPPASS_WEB_SHOW_LOGS"):
            self.show_logs()
        self.close()
        if failed:
            sys.exit(1)
        return False

    def close(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:
                pass
            self.driver = None
        self.stop_dovecot()
        self.stop_web()
        self.stop_daemon()
        for u in self.users:  # their only process, the portal, is stopped above
            subprocess.run(["userdel", u], capture_output=True)
        for g in self.groups:
            subprocess.run(["groupdel", g], capture_output=True)
        self.users, self.groups = [], []
        self._remove_pam_copies()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def _remove_pam_copies(self):
        """pam_wrapper copies the service dir to /tmp/pam.? in each process it is loaded
        into; Dovecot's children exit without its destructor. Only our own copies go (the
        file names the store, which is unique)."""
        mine = os.path.join(self.pamdir, "apppass-web")
        if not os.path.exists(mine):
            return
        with open(mine, "rb") as f:
            ours = f.read()
        for d in os.listdir("/tmp"):
            path = os.path.join("/tmp", d)
            if re.fullmatch(r"pam\..", d) and os.path.isdir(path):
                try:
                    with open(os.path.join(path, "apppass-web"), "rb") as f:
                        if f.read() == ours:
                            shutil.rmtree(path, ignore_errors=True)
                except OSError:
                    pass

    def show_logs(self):
        for title, path in (("apppassd", self.daemon_log), ("apppass-web", self.web_log),
                            ("dovecot", os.path.join(self.tmp or "", "dovecot.log"))):
            if self.tmp and os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines = [ln for ln in f if "PWRAP_" not in ln]
                print(f"---- {title} log (last 30 lines) ----")
                sys.stdout.write("".join(lines[-30:]))
        print("----", flush=True)

    # --- users ---------------------------------------------------------------------------
    def _groupadd(self, base):
        name = f"{base}{os.getpid()}"
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
        self.groups.append(name)
        return name

    def _useradd(self, base):
        name = f"{base}{os.getpid()}"
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        self.users.append(name)
        return name

    def add_user(self, base, password=None):
        """A real user BASE<pid> with a known password (returned by password_of)."""
        name = self._useradd(base)
        pw = password or f"Web-{base}-{os.getpid()}-{os.urandom(4).hex()}"
        subprocess.run(["chpasswd"], input=f"{name}:{pw}\n", text=True, check=True,
                       capture_output=True)
        self.passwords[name] = pw
        return name

    def password_of(self, user):
        return self.passwords[user]

    # --- the store (root's admin tool) ---------------------------------------------------
    def ap(self, *args, json_out=False):
        cmd = [self.apppass, "--db", self.store, "--hooks-dir", os.path.join(self.tmp, "hooks")]
        cmd += list(args) + (["--json"] if json_out else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"apppass {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return json.loads(r.stdout) if json_out else r.stdout

    def enroll(self, user):
        """Enrolls and confirms `user` with the admin tool; returns (secret, recovery codes).
        The confirmation spends the current TOTP step."""
        secret = self.ap("mfa", "enroll", user, json_out=True)["secret"]
        out = self.ap("mfa", "confirm", user, oathtool_code(secret), json_out=True)
        return secret, list(out["recovery_codes"])

    def create_pw(self, user, name, *scopes):
        out = self.ap("create", user, "--name", name,
                      *sum((["--scope", s] for s in scopes), []), json_out=True)
        return out["id"], out["password"]

    def list_pw(self, user):
        return self.ap("list", user, json_out=True)

    # --- PAM services --------------------------------------------------------------------
    def _write_pam(self):
        pam_unix = next((os.path.join(d, "pam_unix.so") for d in PAM_UNIX_DIRS
                         if os.path.exists(os.path.join(d, "pam_unix.so"))), None)
        if pam_unix is None:
            raise RuntimeError("pam_unix.so not found")
        os.makedirs(self.pamdir, exist_ok=True)
        os.chmod(self.pamdir, 0o755)
        # The portal's stack (the packaged one includes common-auth and common-account);
        # nodelay: a wrong password is answered at once (the throttle test makes several).
        # The comment names the store: our copies in /tmp/pam.? are told apart by it.
        with open(os.path.join(self.pamdir, "apppass-web"), "w") as f:
            f.write(f"# apppass web test {self.store}\n"
                    f"auth    required {pam_unix} nodelay\n"
                    f"account required {pam_unix}\n")
        if self.pam_apppass:
            with open(os.path.join(self.pamdir, "imap"), "w") as f:
                f.write(f"auth    required {self.pam_apppass} db={self.store}\n"
                        f"account required {self.pam_apppass} db={self.store}\n")
        open(os.path.join(self.pamdir, "other"), "w").close()

    def _pam_env(self):
        """apppassd's environment for PAM: pam_wrapper; under the sanitizer build the ASan
        runtime first, and libcrypt: ASan intercepts crypt() but resolves the real one only
        from the libraries loaded at start-up, and pam_unix dlopens libcrypt (apppassd does
        not link it), so pam_unix's crypt() would call address 0."""
        env = {"PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": self.pamdir,
               "LD_PRELOAD": "libpam_wrapper.so"}
        if self.preload:
            libcrypt = next((line.split()[-1] for line in subprocess.run(
                ["ldconfig", "-p"], capture_output=True, text=True).stdout.splitlines()
                if line.strip().startswith("libcrypt.so.1 ")), None)
            if libcrypt is None:
                raise RuntimeError("libcrypt.so.1 not found for the sanitizer preload")
            env["LD_PRELOAD"] = f"{self.preload}:{libcrypt}:libpam_wrapper.so"
            env["PAM_WRAPPER_DISABLE_DEEPBIND"] = "1"
        return env

    # --- apppassd --------------------------------------------------------------------------
    def start_daemon(self, *extra):
        self._write_pam()
        env = dict(os.environ)
        env.update(self._pam_env())
        if self.preload:
            # pam_unix and libpam are not ours: no leak reports from them.
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
        log = open(self.daemon_log, "ab")
        self.daemon_proc = subprocess.Popen(
            [self.apppassd, "--db", self.store, "--socket", self.sock, "--group",
             self.verify_group, "--portal-user", self.portal_user, *extra],
            stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.daemon_proc.poll() is not None:
                raise RuntimeError(f"apppassd exited with {self.daemon_proc.returncode}")
            if os.path.exists(self.sock):
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.settimeout(2)
                        s.connect(self.sock)
                        if s.recv(64).startswith(b"VERSION\t"):
                            return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("apppassd did not answer within 10 s")

    def stop_daemon(self):
        if self.daemon_proc is not None:
            self.daemon_proc.send_signal(signal.SIGTERM)
            try:
                self.daemon_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon_proc.kill()
                self.daemon_proc.wait()
            self.daemon_proc = None

    def daemon_log_text(self):
        with open(self.daemon_log, errors="replace") as f:
            return f.read()

    # --- apppass-web -----------------------------------------------------------------------
    def _stage(self, program):
        """Copies `program` and its private libraries into TMP/stage (readable by
        everyone: tests/lib/stage.py); returns (copy, its library dir)."""
        return stagelib.stage_program(os.path.join(self.tmp, "stage"), program)

    def _web_conf(self):
        """web.conf (apppass-web's config file): the staged translations and the mail
        settings the created page shows (the test's Dovecot)."""
        lines = ["# apppass-web, the browser tests' settings",
                 "imap_host = 127.0.0.1", f"imap_port = {self.imap_port}",
                 "smtp_host = 127.0.0.1", "smtp_port = 587"]
        if self.args.locale_dir:
            # The build tree may be unreachable for the portal user: a copy beside it.
            locale = stagelib.stage_tree(self.args.locale_dir,
                                         os.path.join(self.tmp, "stage", "locale"))
            lines.append(f"locale_dir = {locale}")
        path = os.path.join(self.tmp, "web.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o644)
        return path

    def start_web(self, *extra):
        copy, libdir = self._stage(self.web)
        conf = self._web_conf()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH": libdir,
               "LANG": "C.UTF-8", "TZ": "UTC"}
        for var in ("UBSAN_OPTIONS",):
            if var in os.environ:
                env[var] = os.environ[var]
        if self.preload:
            env["ASAN_OPTIONS"] = "abort_on_error=1"  # our own program: leaks reported
        log = open(self.web_log, "ab")
        cmd = ["setpriv", f"--reuid={self.portal_user}", f"--regid={self.portal_user}",
               "--init-groups", "--", copy, "--config", conf, "--broker", self.sock,
               "--listen", f"127.0.0.1:{self.port}", *self.args.web_arg, *extra]
        self.web_proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.web_proc.poll() is not None:
                raise RuntimeError(f"apppass-web exited with {self.web_proc.returncode}")
            try:
                self.http("GET", "/healthz")  # any answer: it serves
                return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError("apppass-web did not answer within 15 s")

    def stop_web(self):
        """Stops the portal (SIGTERM); returns its exit status (None if not running)."""
        if self.web_proc is None:
            return None
        self.web_proc.send_signal(signal.SIGTERM)
        try:
            rc = self.web_proc.wait(10)
        except subprocess.TimeoutExpired:
            self.web_proc.kill()
            rc = self.web_proc.wait()
        self.web_proc = None
        return rc

    def url(self, path):
        return self.base + path

    # --- Dovecot (as tests/integration/dovecot_lib.sh) ---------------------------------------
    def start_dovecot(self):
        if not self.pam_apppass:
            raise RuntimeError("Dovecot needs --pam-apppass")
        base_dir = os.path.join(self.tmp, "dovecot")
        home = os.path.join(self.tmp, "home")
        state = os.path.join(self.tmp, "state")
        for d in (home, state):
            os.makedirs(d, exist_ok=True)
        os.chown(home, 65534, 65534)
        env = "LD_PRELOAD=libpam_wrapper.so"
        vsz = ""
        if self.preload:
            env = f"LD_PRELOAD={self.preload}:libpam_wrapper.so"
            for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if os.environ.get(var):
                    env += f" {var}={os.environ[var]}"
            vsz = "default_vsz_limit = 0"
        self.dovecot_conf = os.path.join(self.tmp, "dovecot.conf")
        with open(self.dovecot_conf, "w") as f:
            f.write(f"""base_dir = {base_dir}
state_dir = {state}
instance_name = apppass-web-test-{os.getpid()}
log_path = {self.tmp}/dovecot.log
auth_verbose = yes
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
auth_cache_size = 0
passdb {{
  driver = pam
  args = %s
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={home}/%u
}}
mail_location = maildir:~/Maildir
import_environment = TZ {env} PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR={self.pamdir}
{vsz}
""")
        # The daemonized master keeps its stdout and stderr: a file, never a pipe.
        err_path = os.path.join(self.tmp, "dovecot.start")
        with open(err_path, "wb") as err:
            rc = subprocess.run(["dovecot", "-c", self.dovecot_conf], stdout=err,
                                stderr=err).returncode
        if rc != 0:
            with open(err_path, errors="replace") as f:
                raise RuntimeError("dovecot did not start: " + f.read()[-2000:])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(os.path.join(base_dir, "master.pid")) as f:
                    self.dovecot_pid = int(f.read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=2) as s:
                    if s.recv(256).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("dovecot did not greet within 10 s")

    def stop_dovecot(self):
        if self.dovecot_pid is None:
            return
        try:
            os.kill(self.dovecot_pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(self.dovecot_pid, 0)
                time.sleep(0.1)
            os.kill(self.dovecot_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.dovecot_pid = None

    def imap_login(self, user, password):
        """0: logged in; 1: refused ([AUTHENTICATIONFAILED]); 2: anything else."""
        import imaplib
        try:
            conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        except OSError as e:
            print(f"  imap: {e!r}")
            return 2
        try:
            conn.login(user, password)
        except imaplib.IMAP4.error as e:
            if "[AUTHENTICATIONFAILED]" in str(e):
                return 1
            print(f"  imap server said: {e}")
            return 2
        finally:
            try:
                conn.logout()
            except Exception:
                pass
        return 0

    # --- starting everything ----------------------------------------------------------------
    def start(self, daemon_args=(), web_args=()):
        self.start_daemon(*daemon_args)
        self.start_web(*web_args)
        if self.want_dovecot:
            self.start_dovecot()

    # --- raw HTTP (http.client: every header as sent) ---------------------------------------
    def http(self, method, path, body=None, headers=None, cookies=None):
        """One request; returns (status, headers as a list of (name, value), body text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if isinstance(body, dict) or isinstance(body, list):
            body = urllib.parse.urlencode(body, doseq=True)
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    # --- the browser -----------------------------------------------------------------------
    def browser(self, accept_language="en-US,en", width=1024, height=900):
        """Headless chromium (one per test file: start-up costs ~2 s)."""
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  "--disable-gpu", f"--window-size={width},{height}"):
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {"intl.accept_languages": accept_language})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(20)
        return self.driver

    def set_language(self, accept_language):
        """Changes the browser's Accept-Language without a new browser (what the pref
        intl.accept_languages sets at start-up)."""
        ua = self.driver.execute_script("return navigator.userAgent")
        self.driver.execute_cdp_cmd("Network.setUserAgentOverride",
                                    {"userAgent": ua, "acceptLanguage": accept_language})

    def screenshot(self, name):
        """Saves the page as NN-name.png in --screenshots (when given); returns the path."""
        if self.driver is None or not self.args.screenshots:
            return None
        os.makedirs(self.args.screenshots, exist_ok=True)
        self.shots += 1
        path = os.path.join(self.args.screenshots, f"{self.name}-{self.shots:02d}-{name}.png")
        try:
            # No focus ring from the test's own clicks in the picture.
            self.driver.execute_script(
                "if (document.activeElement) document.activeElement.blur()")
            # The whole page, not only the window: set the window to the document's height.
            h = self.driver.execute_script(
                "return Math.max(document.body ? document.body.scrollHeight : 0, 600)")
            size = self.driver.get_window_size()
            self.driver.set_window_size(size["width"], min(int(h) + 140, 4000))
            self.driver.save_screenshot(path)
            self.driver.set_window_size(size["width"], size["height"])
        except Exception as e:
            print(f"  (screenshot {name} failed: {e!r})")
            return None
        return path


def navigate(driver, element):
    """Clicks `element` (a link or a submit button) and waits for the next page: the old
    document gone and the new one loaded (a click may return before either)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def gone(_):
        try:
            old.is_enabled()
            return False
        except WebDriverException:  # stale, or "does not belong to the document"
            return True

    WebDriverWait(driver, 10).until(gone)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def submit(driver, form_css):
    """Clicks the form's submit button (as a person would) and waits for the answer."""
    from selenium.webdriver.common.by import By
    navigate(driver, driver.find_element(
        By.CSS_SELECTOR, f"{form_css} button:not([type=button]), {form_css} input[type=submit]"))


class FormParser(html.parser.HTMLParser):
    """The forms of a page: {form id: {field name: value}} (inputs with a value; the
    first of a repeated name), and the text of elements by id (`texts`)."""

    def __init__(self):
        super().__init__()
        self.forms = {}
        self.actions = {}
        self._form = None
        self._select = None
        self._chosen = set()  # selects whose value came from a `selected` option

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = a.get("id", "")
            self.forms.setdefault(self._form, {})
            self.actions[self._form] = a.get("action", "")
        elif self._form is None:
            return
        elif tag in ("input", "button", "textarea"):
            name = a.get("name")
            if name and name not in self.forms[self._form]:
                self.forms[self._form][name] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            fields, key = self.forms[self._form], (self._form, self._select)
            if self._select not in fields or ("selected" in a and key not in self._chosen):
                fields[self._select] = a.get("value", "")
                if "selected" in a:
                    self._chosen.add(key)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_of(page):
    p = FormParser()
    p.feed(page)
    return p.forms


def header_values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def set_cookies(headers):
    """{cookie name: (value, the whole Set-Cookie line)} of a response."""
    out = {}
    for line in header_values(headers, "Set-Cookie"):
        name, _, rest = line.partition("=")
        out[name.strip()] = (rest.split(";", 1)[0], line)
    return out


class HttpUser:
    """A signed-in (or signing-in) client speaking raw HTTP to the portal: keeps its
    cookies like a browser, reads the csrf field from the forms, follows nothing by itself
    (every answer is checked by the caller)."""

    def __init__(self, env):
        self.env = env
        self.cookies = {}
        self.last = None

    def request(self, method, path, form=None, headers=None):
        status, hdrs, body = self.env.http(method, path, body=form, headers=headers,
                                           cookies=self.cookies)
        for name, (value, _) in set_cookies(hdrs).items():
            if value == "" or re.search(r"max-age=0\b", _, re.I):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        self.last = (status, hdrs, body)
        return status, hdrs, body

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form):
        return self.request("POST", path, form=form)

    @staticmethod
    def location(hdrs):
        loc = header_values(hdrs, "Location")
        return urllib.parse.urlparse(loc[0]).path if loc else None

    def csrf(self, path, form_id):
        """The csrf value of `form_id` on the page at `path`."""
        status, _, body = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return forms_of(body)[form_id]["csrf"]

    def sign_in(self, user, password, code):
        """Password, then `code` (TOTP or recovery code): True when /passwords is reached."""
        csrf = self.csrf("/signin", "signin")
        status, hdrs, _ = self.post("/signin", {"user": user, "password": password,
                                                "csrf": csrf})
        if status != 303 or self.location(hdrs) != "/signin/code":
            return False
        csrf = self.csrf("/signin/code", "code")
        status, hdrs, _ = self.post("/signin/code", {"code": code, "csrf": csrf})
        return status == 303 and self.location(hdrs) == "/passwords"
