#!/usr/bin/python3
"""syscall_filter.py UNIT TRACE: which system calls of an strace log the unit's
SystemCallFilter= would refuse (used by test_units.sh).

The filter is evaluated as systemd.exec(5) says: the first SystemCallFilter= line decides
whether the list is an allow list (no "~") or a deny list ("~"); each later line adds to
or removes from it, in order. Groups (@name) are expanded with `systemd-analyze
syscall-filter`, nested groups included, so the set is the one this systemd has.
The trace is `strace -f -o TRACE` output: one "PID name(args...) = result" line per call
(resumed and signal lines are skipped).

Prints "used N: name name ..." then "refused M: name name ..." and exits 0; exits 2 when
the unit has no SystemCallFilter= or the trace has no call.
"""
import re
import subprocess
import sys

_groups = {}


def expand(name):
    """The system calls of a group (recursively) or of a single name."""
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                             text=True, check=True).stdout.splitlines()
        calls = set()
        for line in out[1:]:  # the first line is the group's own name
            line = line.strip()
            if line and not line.startswith("#"):
                calls |= expand(line)
        _groups[name] = calls
    return _groups[name]


def filter_of(unit_path):
    """(allow_list: bool, set of calls) after every SystemCallFilter= line of the unit."""
    lines = [l.strip()[len("SystemCallFilter="):] for l in open(unit_path, encoding="utf-8")
             if l.strip().startswith("SystemCallFilter=")]
    if not lines:
        sys.exit(2)
    allow_list = not lines[0].startswith("~")
    calls = set()
    for value in lines:
        deny = value.startswith("~")
        names = set()
        for word in value.lstrip("~").split():
            names |= expand(word)
        # In an allow list "~" removes; in a deny list a plain line removes from the denied.
        if deny == (not allow_list):
            calls |= names
        else:
            calls -= names
    return allow_list, calls


def used_calls(trace_path):
    call = re.compile(r"^\d+\s+([a-z_0-9]+)\(")
    used = set()
    for line in open(trace_path, encoding="utf-8", errors="replace"):
        m = call.match(line)
        if m:
            used.add(m.group(1))
    return used


def main():
    allow_list, calls = filter_of(sys.argv[1])
    used = used_calls(sys.argv[2])
    if not used:
        sys.exit(2)
    refused = sorted(u for u in used if (u not in calls) == allow_list)
    print(f"used {len(used)}: {' '.join(sorted(used))}")
    print(f"refused {len(refused)}: {' '.join(refused)}")


main()
