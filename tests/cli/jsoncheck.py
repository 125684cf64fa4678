"""Checks one JSON document printed by apppass (used by lib.sh's jcheck).

Usage: jsoncheck.py FILE CODE [ARG...]

FILE must hold exactly one JSON document on one line. CODE is Python run with:
  j            the parsed document
  ARGS         the extra arguments
  NOW          time.time()
  keys(o, *k)  o is an object whose key set is exactly k
  iso(v)       v is an ISO 8601 UTC string YYYY-MM-DDTHH:MM:SSZ; returns unix seconds
  iso_or_null(v)
  near_now(v, slack=300)   iso(v) within slack seconds of now; returns unix seconds
  strs(v)      v is a list of strings
Assertions that fail make the exit status non-zero with the reason on stderr.
"""
import calendar
import json
import re
import sys
import time

ISO_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$")


def keys(o, *k):
    assert isinstance(o, dict), f"not an object: {o!r}"
    assert set(o) == set(k), f"keys {sorted(o)} != expected {sorted(k)}"


def iso(v):
    assert isinstance(v, str) and ISO_RE.match(v), f"not ISO 8601 UTC: {v!r}"
    return calendar.timegm(time.strptime(v, "%Y-%m-%dT%H:%M:%SZ"))


def iso_or_null(v):
    return None if v is None else iso(v)


def near_now(v, slack=300):
    t = iso(v)
    assert abs(t - time.time()) <= slack, f"{v} is not close to now"
    return t


def strs(v):
    assert isinstance(v, list) and all(isinstance(x, str) for x in v), f"not a list of strings: {v!r}"
    return v


def main():
    path, code = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text.endswith("\n") and text.count("\n") == 1, "output is not exactly one line"
    j = json.loads(text)
    env = {"j": j, "ARGS": sys.argv[3:], "NOW": time.time(), "keys": keys, "iso": iso,
           "iso_or_null": iso_or_null, "near_now": near_now, "strs": strs, "re": re}
    exec(code, env)  # noqa: S102 - test code written in the scripts


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"assertion failed: {e}", file=sys.stderr)
        sys.exit(1)
