#!/usr/bin/env python3
"""Raw-socket HTTP probes for http_hardening_test.sh: requests curl will not send.

  http_probe.py status HOST PORT REQUEST_FILE   send the bytes, print the status or "closed"
  http_probe.py stall HOST PORT N               open N connections that send half a request
                                                line and stop; print the time until each
                                                server close, once all are closed
  http_probe.py halfsent HOST PORT              send a request without its blank line, print
                                                the seconds until the answer's status line
                                                (or "-" if none) and until the server closes
"""
import socket
import sys
import time


def connect(host, port):
    return socket.create_connection((host, int(port)), timeout=30)


def read_status(s):
    """The status code of the first response, or "closed" if none came."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    parts = data.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/"):
        return parts[1].decode()
    return "closed"


def wait_closed(s, started):
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    return time.monotonic() - started


def main():
    cmd, host, port = sys.argv[1:4]
    if cmd == "status":
        with open(sys.argv[4], "rb") as f:
            req = f.read()
        with connect(host, port) as s:
            try:
                s.sendall(req)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused mid-send: what came back still tells
            print(read_status(s))
    elif cmd == "stall":
        conns = []
        for _ in range(int(sys.argv[4])):
            s = connect(host, port)
            s.sendall(b"GET /met")
            conns.append((s, time.monotonic()))
        print(" ".join("%.1f" % wait_closed(s, t) for s, t in conns))
    elif cmd == "halfsent":
        with connect(host, port) as s:
            started = time.monotonic()
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            status = read_status(s)
            answered = time.monotonic() - started
            closed = wait_closed(s, started)
            print(status, "%.1f" % answered, "%.1f" % closed)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
