#!/usr/bin/env python3
"""wait_greeting.py PORT PREFIX SECONDS: wait until a server on 127.0.0.1:PORT greets with
a line that starts with PREFIX ("* OK" for IMAP, "220" for SMTP); exit 0 then, 1 when
SECONDS pass first. Ready means a greeting, not just an open socket. Used by the tests
that start their own Dovecot and Postfix."""
import socket
import sys
import time

port, prefix, seconds = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3])
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            if s.recv(64).startswith(prefix):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
