#!/usr/bin/env python3
"""ssh_kbdint.py PORT USER COMMAND: logs in to an SSH server on 127.0.0.1:PORT as USER with
keyboard-interactive authentication (python3-paramiko) and, once in, runs COMMAND.

The answers come on stdin, one a line (never in argv): the first answers the first prompt
the server sends, and so on; a prompt beyond the answers gets an empty answer. Prints, in
order:
  prompt<TAB>TEXT       each prompt the server sent (echo off or on alike)
  accepted | refused    the outcome of the authentication
  out<TAB>LINE          each line COMMAND wrote to stdout (only when accepted)
  status<TAB>N          COMMAND's exit status (only when accepted)
Exit: 0 accepted (and COMMAND ran), 1 refused (the server said no), 2 anything else
(no connection, a timeout, a protocol error): an error never passes for a refusal.
Used by tests/integration/sshd_totp.sh."""
import socket
import sys

import paramiko

TIMEOUT = 15


def main():
    port, user, command = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    answers = sys.stdin.read().splitlines()

    def handler(_title, _instructions, prompts):
        replies = []
        for text, _echo in prompts:
            print("prompt\t" + text, flush=True)
            replies.append(answers.pop(0) if answers else "")
        return replies

    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = TIMEOUT
        transport.auth_timeout = TIMEOUT
        transport.start_client(timeout=TIMEOUT)
    except Exception as e:  # pylint: disable=broad-except
        print("  client error before authentication:", repr(e), file=sys.stderr)
        return 2
    try:
        try:
            transport.auth_interactive(user, handler)
        except paramiko.BadAuthenticationType as e:
            print("  server does not offer keyboard-interactive:", e, file=sys.stderr)
            return 2
        except paramiko.AuthenticationException:
            print("refused", flush=True)
            return 1
        if not transport.is_authenticated():
            print("  not authenticated, and no refusal either", file=sys.stderr)
            return 2
        print("accepted", flush=True)
        channel = transport.open_session(timeout=TIMEOUT)
        channel.settimeout(TIMEOUT)
        channel.exec_command(command)
        data = channel.makefile("r").read()
        if isinstance(data, bytes):
            data = data.decode(errors="replace")
        for line in data.splitlines():
            print("out\t" + line)
        print("status\t%d" % channel.recv_exit_status())
        return 0
    except Exception as e:  # pylint: disable=broad-except
        print("  client error:", repr(e), file=sys.stderr)
        return 2
    finally:
        transport.close()


if __name__ == "__main__":
    sys.exit(main())
