#!/usr/bin/env python3
"""tty_prompt.py MODE INPUT COMMAND...: runs COMMAND on a new pseudo-terminal (its
controlling terminal, stdin, stdout and stderr) and plays a user at a verification-code
prompt, to test `apppass` reading a code from the terminal (tools/apppass/code_prompt.cc).

  MODE type       wait for "Verification code: " (or the prompt in $TTY_PROMPT), type
                  INPUT and Enter, read to the end
  MODE interrupt  wait for the prompt, then press Ctrl-C (the terminal sends SIGINT)

Prints one JSON object: {"prompted": bool, "echo_at_prompt": bool (ECHO was set while the
prompt waited), "echo_after": bool (ECHO set once COMMAND ended), "echoed": bool (INPUT
came back on the terminal), "status": exit status or -signal, "output": what COMMAND wrote
after the prompt}. Exits 0 unless something here failed (a timeout: exit 1)."""
import json
import os
import pty
import select
import sys
import termios
import time

PROMPT = os.environ.get("TTY_PROMPT", "Verification code: ").encode()
TIMEOUT = 20.0


def read_until(fd, want, deadline):
    """Reads from fd until `want` is in what was read (or EOF, or the deadline)."""
    data = b""
    while want is None or want not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        data += chunk
    return data


def main():
    mode, text, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    deadline = time.monotonic() + TIMEOUT
    before = read_until(master, PROMPT, deadline)
    prompted = PROMPT in before
    echo_at_prompt = None
    after = b""
    if prompted:
        time.sleep(0.2)  # the prompt is written just after echo is turned off
        echo_at_prompt = bool(termios.tcgetattr(master)[3] & termios.ECHO)
        if mode == "type":
            os.write(master, text.encode() + b"\r")
        else:
            os.write(master, b"\x03")
    # The terminal's modes once the program is done with it, read while it still exists.
    after = read_until(master, None, deadline)
    echo_after = bool(termios.tcgetattr(master)[3] & termios.ECHO)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    out = (before.split(PROMPT, 1)[1] if prompted else before) + after
    json.dump({"prompted": prompted, "echo_at_prompt": echo_at_prompt, "echo_after": echo_after,
               "echoed": bool(text) and text.encode() in out, "status": code,
               "output": out.decode("utf-8", "replace")}, sys.stdout)
    print()
    return 0 if time.monotonic() < deadline else 1


if __name__ == "__main__":
    sys.exit(main())
