#!/usr/bin/python3
"""Checks that the man pages say what the code does (used by test_manpages.sh).

Usage: manpage_check.py APPPASS SRC APPPASSD

Prints "ok - ..." / "not ok - ..." lines (details on "#   " lines) and nothing else.

apppass.8 against the tool itself: the commands found by walking `apppass --help` and
`apppass CMD [SUB] --help` are exactly the "apppass CMD [SUB]" .SS headings of the page;
each command's options (but -h/--help) are exactly the .TP tags of its .SS; its
positionals are exactly the upper-case words of the heading that are not an option's
value; the global options are exactly the tags of OPTIONS; the exit codes of
tools/apppass/cli.h are exactly the tags of EXIT STATUS, and each is in `apppass --help`.
pam_apppass.8 against pam_module/pam_options.cc (the option keys the parser compares with) and
the reasons the module logs (its own, the verifier's outcomes, the TOTP step's outcomes of
common/second_factor.cc and the account states of common/account.cc); sasl_apppass.8 against kSaslOptionKeys
(sasl_plugin/sasl_options.h) and the reasons the plugin logs. apppassd.8 against
`apppassd --help`: the options (and each default --help shows) are exactly the .TP tags
of OPTIONS (and the defaults they state) and those of SYNOPSIS; the request kinds of
common/broker_protocol.cc are exactly the kinds WHO MAY ASK WHAT names; the line limit
in LIMITS is kMaxLineLength; the exit codes of tools/apppassd/main.cc are exactly the
tags of EXIT STATUS. Each page's version is the project's.
"""
import os
import re
import subprocess
import sys

APPPASS, SRC, APPPASSD = sys.argv[1], sys.argv[2], sys.argv[3]
MAN = os.path.join(SRC, "packaging", "man")


def emit(good, desc, details=()):
    print(("ok - " if good else "not ok - ") + desc)
    if not good:
        for d in details:
            for line in str(d).splitlines():
                print("#   " + line)


def same(desc, from_code, from_man, code_name, man_name):
    """ok when the two sets are equal; the details name what is missing where."""
    missing = sorted(from_code - from_man)
    extra = sorted(from_man - from_code)
    details = []
    if missing:
        details.append(f"in {code_name} but not in {man_name}: {' '.join(missing)}")
    if extra:
        details.append(f"in {man_name} but not in {code_name}: {' '.join(extra)}")
    emit(not missing and not extra, desc, details)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_if_there(path):
    return read(path) if os.path.exists(path) else ""


def strip_cxx_comments(text):
    return re.sub(r"//[^\n]*", "", text)


# ---- roff ------------------------------------------------------------------------------

def clean(text):
    """Roff source text to plain words: fonts, escapes and quotes removed."""
    text = re.sub(r"\\f(\[[^\]]*\]|.)", "", text)
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\:", "")
    text = re.sub(r"\\\((..)", " ", text)
    text = re.sub(r"\\&", "", text)
    text = text.replace('"', " ")
    return text


class Page:
    """A man page split into .SH sections and .SS subsections, with .TP tags."""

    def __init__(self, path):
        self.path = path
        self.lines = [l for l in read(path).splitlines() if not l.startswith('.\\"')]
        self.th = next((l for l in self.lines if l.startswith(".TH ")), "")

    def section(self, name, level=".SH"):
        """Lines of the section whose heading (cleaned) is `name`."""
        out, inside = [], False
        for line in self.lines:
            if line.startswith(".SH ") or (level == ".SS" and line.startswith(".SS ")):
                inside = line.startswith(level + " ") and clean(line[4:]).split() == name.split()
                continue
            if inside:
                out.append(line)
        return out

    def subsections(self):
        """{cleaned .SS heading: lines} for every .SS."""
        out, cur = {}, None
        for line in self.lines:
            if line.startswith(".SS "):
                cur = " ".join(clean(line[4:]).split())
                out[cur] = []
            elif line.startswith(".SH "):
                cur = None
            elif cur is not None:
                out[cur].append(line)
        return out


def text_of(lines):
    """The running text of some lines: font macros reduced to their words, other
    requests dropped, escapes cleaned."""
    out = []
    for line in lines:
        if line.startswith("."):
            macro, _, rest = line.partition(" ")
            if macro not in (".B", ".I", ".BR", ".RB", ".IR", ".RI", ".BI", ".IB"):
                continue
            line = rest
        out.append(clean(line))
    return "\n".join(out)


def tags(lines):
    """The tag lines (the line after each .TP), cleaned."""
    return [text_of([lines[i + 1]]) for i, l in enumerate(lines[:-1]) if l.strip() == ".TP"]


OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def options_in(texts):
    return {m for t in texts for m in OPTION.findall(t)}


# ---- apppass --help ----------------------------------------------------------------------

def run_help(path, program=None):
    program = program or APPPASS
    p = subprocess.run([program, *path, "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        name = os.path.basename(program)
        raise RuntimeError(f"{name} {' '.join(path)} --help exited {p.returncode}: {p.stderr}")
    return p.stdout


def parse_help(text):
    """(options, positionals, subcommands) of one CLI11 help text."""
    opts, pos, subs, where = set(), [], [], None
    for line in text.splitlines():
        if re.match(r"^(Options|Positionals|Subcommands):\s*$", line):
            where = line.split(":")[0]
            continue
        if line and not line.startswith(" "):
            where = None
            continue
        if where == "Options":
            m = re.match(r"^  (-[^\s]+)", line)
            if m:
                for name in m.group(1).split(","):
                    opts.add(re.match(r"-+[\w-]*", name).group(0))
        elif where == "Positionals":
            m = re.match(r"^  ([A-Z][A-Z0-9_]*)\b", line)
            if m:
                pos.append(m.group(1))
        elif where == "Subcommands":
            m = re.match(r"^  ([a-z][a-z0-9-]*)\b", line)
            if m:
                subs.append(m.group(1))
    return opts, pos, subs


def walk_help():
    """{command path tuple: (options, positionals, subcommands, help text)}."""
    out, todo = {}, [()]
    while todo:
        path = todo.pop()
        text = run_help(path)
        opts, pos, subs = parse_help(text)
        out[path] = (opts, pos, subs, text)
        todo.extend(path + (s,) for s in subs)
    return out


def heading_parts(heading):
    """Command path, options and positionals of an "apppass CMD ... ARGS" heading."""
    words = heading.split()
    path, i = [], 1
    while i < len(words) and re.fullmatch(r"[a-z][a-z0-9-]*", words[i]):
        path.append(words[i])
        i += 1
    opts, pos, prev_is_option = set(), set(), False
    for w in words[i:]:
        token = w.strip("[]().|,")
        if token.endswith("..."):
            token = token[:-3].strip("[]().|,")
        if not token:
            continue
        if token.startswith("-"):
            opts.add(token)
            prev_is_option = True
        elif re.fullmatch(r"[A-Z][A-Z0-9_]*", token):
            if not prev_is_option:
                pos.add(token)
            prev_is_option = False
        else:
            prev_is_option = False
    return tuple(path), opts, pos


def check_apppass():
    page = Page(os.path.join(MAN, "apppass.8"))
    try:
        tree = walk_help()
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        emit(False, "apppass --help and every command's --help run", [e])
        return
    emit(True, f"apppass --help and every command's --help run ({len(tree)} help texts)")

    help_only = {"-h", "--help"}
    leaves = {p for p, (_, _, subs, _) in tree.items() if p and not subs}
    groups = {p for p, (_, _, subs, _) in tree.items() if p and subs}
    sections = {}
    for heading, lines in page.subsections().items():
        if heading.startswith("apppass "):
            path, hopts, hpos = heading_parts(heading)
            sections[path] = (hopts, hpos, lines)
    same("apppass(8) has a COMMANDS subsection for exactly the commands of --help",
         {" ".join(p) for p in leaves}, {" ".join(p) for p in sections},
         "apppass --help", "apppass(8) .SS headings")

    for path in sorted(leaves | groups):
        opts, pos, _, _ = tree[path]
        name = " ".join(path)
        if path in groups:
            # A group (e.g. mfa) only dispatches; any option of its own would need a section.
            emit(opts - help_only == set() or path in sections,
                 f"apppass {name}: its own options are documented",
                 [f"options {' '.join(sorted(opts - help_only))} but no .SS 'apppass {name}'"])
            continue
        if path not in sections:
            continue  # reported above
        hopts, hpos, lines = sections[path]
        same(f"apppass {name}: the options of --help are the options in apppass(8)",
             opts - help_only, options_in(tags(lines)) - help_only,
             f"apppass {name} --help", f"its apppass(8) .TP tags")
        emit(hopts <= opts, f"apppass {name}: the options in its apppass(8) heading exist",
             [f"not in --help: {' '.join(sorted(hopts - opts))}"])
        same(f"apppass {name}: the positionals of --help are those of its apppass(8) heading",
             set(pos), hpos, f"apppass {name} --help", "its apppass(8) heading")

    root_opts = tree[()][0]
    same("apppass: the global options of --help are those of apppass(8) OPTIONS",
         root_opts, options_in(tags(page.section("OPTIONS"))), "apppass --help",
         "apppass(8) OPTIONS")

    cli_h = strip_cxx_comments(read(os.path.join(SRC, "tools", "apppass", "cli.h")))
    codes = set(re.findall(r"\bkExit\w+\s*=\s*(\d+)", cli_h))
    emit(len(codes) >= 7, f"tools/apppass/cli.h defines the exit codes ({len(codes)} found)")
    man_codes = {t.strip() for t in tags(page.section("EXIT STATUS")) if re.fullmatch(r"\s*\d+\s*", t)}
    same("apppass: the exit codes of tools/apppass/cli.h are those of apppass(8) EXIT STATUS",
         codes, man_codes, "tools/apppass/cli.h", "apppass(8) EXIT STATUS")
    root_help = " ".join(tree[()][3].split())
    m = re.search(r"Exit status:(.*?)(Usage:|$)", root_help)
    help_codes = set(re.findall(r"(?<![\w.-])(\d+) ", m.group(1))) if m else set()
    same("apppass: the exit codes of tools/apppass/cli.h are those listed by apppass --help",
         codes, help_codes, "tools/apppass/cli.h", "apppass --help 'Exit status:'")


# ---- pam_apppass.8 ---------------------------------------------------------------------------

def option_names(tag_lines, pattern):
    names = set()
    for t in tag_lines:
        words = t.split()
        if words:
            m = re.match(pattern, words[0])
            if m:
                names.add(m.group(1))
    return names


def logged_reasons(*paths):
    """Reasons a source logs: literal reason arguments and reason=... texts."""
    reasons = set()
    for p in paths:
        text = strip_cxx_comments(read(p))
        reasons |= set(re.findall(r'FormatEarlyRefusal\([^,]+,\s*"\w+",\s*"([a-z-]+)"', text))
        # pam_apppass.cc's EarlyLine(call, result, reason, detail)
        reasons |= set(re.findall(r'EarlyLine\([^,]+,\s*"\w+",\s*"([a-z-]+)"', text))
        reasons |= set(re.findall(r'"[^"\n]*\breason=([a-z][a-z-]*)', text))
        reasons |= set(re.findall(r'fail_reason\s*=\s*"([a-z-]+)"', text))
        reasons |= set(re.findall(r'MessageError\{"([a-z-]+)"', text))
        # A source that logs an account state as the reason logs every state but "ok".
        if "AccountStateName(" in text:
            reasons |= account_state_names()
        # The SASL plugin's password-check lines (sasl_plugin/pwcheck.cc).
        if "PwcheckOutcomeName(" in text:
            reasons |= set(re.findall(r'case PwcheckOutcome::\w+:\s*return "([a-z-]+)"', text)) - {"accepted"}
    return reasons


def account_state_names():
    text = strip_cxx_comments(read(os.path.join(SRC, "common", "account.cc")))
    return set(re.findall(r'case AccountState::\w+:\s*return "([a-z-]+)"', text)) - {"ok"}


def outcome_names():
    text = strip_cxx_comments(read(os.path.join(SRC, "common", "verifier.cc")))
    names = set(re.findall(r'case Outcome::\w+:\s*return "([a-z-]+)"', text))
    return names - {"accepted"}


def code_outcome_names():
    """The TOTP step's outcomes (second_factor.cc), logged by totp mode as reasons."""
    text = strip_cxx_comments(read_if_there(os.path.join(SRC, "common", "second_factor.cc")))
    names = set(re.findall(r'case CodeOutcome::\w+:\s*return "([a-z-]+)"', text))
    names |= set(re.findall(r'\{\s*CodeOutcome::\w+,\s*"([a-z-]+)"\s*\}', text))
    return names - {"accepted"}


def account_state_names():
    """The account states (account.cc), logged by account=nss as reasons."""
    text = strip_cxx_comments(read(os.path.join(SRC, "common", "account.cc")))
    return set(re.findall(r'case AccountState::\w+:\s*return "([a-z-]+)"', text)) - {"ok"}


def check_pam():
    page = Page(os.path.join(MAN, "pam_apppass.8"))
    src = strip_cxx_comments(read(os.path.join(SRC, "pam_module", "pam_options.cc")))
    keys = set(re.findall(r'\bkey == "([a-z_]+)"', src))
    emit(len(keys) >= 5, f"pam_module/pam_options.cc accepts options ({len(keys)} found)")
    same("pam_apppass: the options of pam_options.cc are those of pam_apppass(8) OPTIONS",
         keys, option_names(tags(page.section("OPTIONS")), r"([a-z_]+)(=|$)"),
         "pam_module/pam_options.cc", "pam_apppass(8) OPTIONS")
    pam_dir = os.path.join(SRC, "pam_module")
    codes, states = code_outcome_names(), account_state_names()
    emit(len(codes) >= 7, f"second_factor.cc names the TOTP step's outcomes ({len(codes)} found)")
    emit(len(states) >= 3, f"account.cc names the account states ({len(states)} found)")
    reasons = outcome_names() | codes | states | logged_reasons(
        *sorted(os.path.join(pam_dir, f) for f in os.listdir(pam_dir) if f.endswith(".cc")))
    emit(len(reasons) >= 8, f"the module logs reasons ({len(reasons)} found)")
    same("pam_apppass: the reasons the module logs are those of pam_apppass(8) LOGGING",
         reasons, {t.strip() for t in tags(page.section("LOGGING"))},
         "verifier.cc + second_factor.cc + account.cc + pam_module/*.cc",
         "pam_apppass(8) LOGGING")


def check_sasl():
    path = os.path.join(MAN, "sasl_apppass.8")
    page = Page(path)
    header = read(os.path.join(SRC, "sasl_plugin", "sasl_options.h"))
    m = re.search(r"kSaslOptionKeys\[\]\s*=\s*\{(.*?)\};", header, re.S)
    keys = set(re.findall(r'"([a-z_]+)"', m.group(1))) if m else set()
    emit(len(keys) >= 1, f"sasl_options.h lists the plugin's option keys ({len(keys)} found)")
    same("sasl_apppass: kSaslOptionKeys are the options of sasl_apppass(8) OPTIONS",
         keys, option_names(tags(page.section("OPTIONS")), r"(apppass_[a-z_]+):"),
         "sasl_plugin/sasl_options.h", "sasl_apppass(8) OPTIONS")
    sasl_dir = os.path.join(SRC, "sasl_plugin")
    reasons = outcome_names() | logged_reasons(
        *sorted(os.path.join(sasl_dir, f) for f in os.listdir(sasl_dir) if f.endswith(".cc")))
    logging = " ".join(text_of(page.section("LOGGING")).split())
    m = re.search(r"reason is one of those of pam_apppass ?\(8\) \( ?(.*?) ?\) or", logging)
    listed = {w.strip(" ,") for w in m.group(1).split(",")} if m else set()
    listed |= {t.strip() for t in tags(page.section("LOGGING"))}
    same("sasl_apppass: the reasons the plugin logs are those of sasl_apppass(8) LOGGING",
         reasons, listed, "verifier.cc + sasl_plugin/*.cc", "sasl_apppass(8) LOGGING")


# ---- apppassd.8 ------------------------------------------------------------------------

def help_defaults(text):
    """{option: (default, range)} from CLI11 --help lines such as
    "  --workers INT:INT in [1 - 1024]=16   ...": the default after the type's "=" and the
    range "1 to 1024" (None when absent)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^  (--?[\w-]+(?:,--?[\w-]+)*)(?: (.*?))?(?:\s{2,}|$)", line)
        if not m or not m.group(2):
            continue
        name = m.group(1).split(",")[-1]
        d = re.search(r"=(\S+)$", m.group(2))
        r = re.search(r"in \[(\d+) - (\d+)\]", m.group(2))
        if d:
            out[name] = (d.group(1), f"{r.group(1)} to {r.group(2)}" if r else None)
    return out


def tagged_paragraphs(lines):
    """{cleaned tag: running text of its paragraph} for each .TP of `lines`."""
    out, i = {}, 0
    while i < len(lines):
        if lines[i].strip() == ".TP" and i + 1 < len(lines):
            tag = text_of([lines[i + 1]]).strip()
            body, j = [], i + 2
            while j < len(lines) and lines[j].strip() not in (".TP", ".PP") and \
                    not lines[j].startswith((".SH", ".SS")):
                body.append(lines[j])
                j += 1
            # Alternating font macros (.IR x .) join their words: no space before punctuation.
            out[tag] = re.sub(r" ([.,;:])", r"\1", " ".join(text_of(body).split()))
            i = j
        else:
            i += 1
    return out


def check_apppassd():
    page = Page(os.path.join(MAN, "apppassd.8"))
    try:
        text = run_help([], APPPASSD)
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        emit(False, "apppassd --help runs", [e])
        return
    opts, pos, subs = parse_help(text)
    emit(len(opts) >= 5 and not pos and not subs,
         f"apppassd --help lists its options ({len(opts)}), no positionals or subcommands",
         [text])
    option_section = page.section("OPTIONS")
    same("apppassd: the options of --help are those of apppassd(8) OPTIONS",
         opts, options_in(tags(option_section)), "apppassd --help", "apppassd(8) OPTIONS")
    same("apppassd: the options of --help are those of apppassd(8) SYNOPSIS",
         opts, options_in([text_of(page.section("SYNOPSIS"))]), "apppassd --help",
         "apppassd(8) SYNOPSIS")
    paragraphs = {options_in([t]).pop() if options_in([t]) else t: body
                  for t, body in tagged_paragraphs(option_section).items()}
    defaults = help_defaults(text)
    wrong = []
    for o, (d, r) in sorted(defaults.items()):
        if f"Default: {d}." not in paragraphs.get(o, ""):
            wrong.append(f"{o}: --help says ={d}, apppassd(8) does not say 'Default: {d}.'")
        if r and r not in paragraphs.get(o, ""):
            wrong.append(f"{o}: --help says [{r}], apppassd(8) does not say '{r}'")
    emit(len(defaults) >= 6 and not wrong,
         f"apppassd: the defaults and ranges --help shows ({len(defaults)}) are those apppassd(8) "
         "OPTIONS states", wrong or [text])

    protocol = strip_cxx_comments(read(os.path.join(SRC, "common", "broker_protocol.cc")))
    m = re.search(r"kKindNames\s*=\s*\{(.*?)\};", protocol, re.S)
    kinds = set(re.findall(r'"([A-Z_]+)"', m.group(1))) if m else set()
    emit(len(kinds) >= 9, f"common/broker_protocol.cc names the request kinds ({len(kinds)})")
    who = {w for t in tags(page.section("WHO MAY ASK WHAT")) for w in re.findall(r"[A-Z_]{3,}", t)}
    same("apppassd: the request kinds are those of apppassd(8) WHO MAY ASK WHAT",
         kinds, who, "common/broker_protocol.cc", "apppassd(8) WHO MAY ASK WHAT")
    header = strip_cxx_comments(read(os.path.join(SRC, "common", "broker_protocol.h")))
    m = re.search(r"kMaxLineLength\s*=\s*([0-9']+)", header)
    limit = m.group(1).replace("'", "") if m else "?"
    limits = " ".join(text_of(page.section("LIMITS")).split())
    emit(f"at most {limit} bytes" in limits,
         f"apppassd(8) LIMITS states the line limit kMaxLineLength ({limit} bytes)", [limits])

    main = strip_cxx_comments(read(os.path.join(SRC, "tools", "apppassd", "main.cc")))
    codes = set(re.findall(r"\bkExit\w+\s*=\s*(\d+)", main))
    emit(len(codes) >= 2, f"tools/apppassd/main.cc defines the exit codes ({len(codes)} found)")
    same("apppassd: the exit codes of tools/apppassd/main.cc are those of apppassd(8) EXIT STATUS",
         codes, {t.strip() for t in tags(page.section("EXIT STATUS"))},
         "tools/apppassd/main.cc", "apppassd(8) EXIT STATUS")


def check_versions():
    cmake = read(os.path.join(SRC, "CMakeLists.txt"))
    m = re.search(r"project\(apppass VERSION ([0-9.]+)", cmake)
    version = m.group(1) if m else "?"
    for name in ("apppass.8", "apppassd.8", "pam_apppass.8", "sasl_apppass.8", "apppass-web.8"):
        th = Page(os.path.join(MAN, name)).th
        emit(f'"apppass {version}"' in th, f"{name} is for apppass {version} (.TH)", [th])


check_apppass()
check_pam()
check_sasl()
check_apppassd()
check_versions()
