#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bulk: a real bulk transfer, both ways, with its bytes checked.

  bulk.py serve PORT            in a pod: per connection, a request line
                                "get N" is answered with N bytes, "put N"
                                reads N bytes and answers their SHA-256
  bulk.py get ADDR PORT N       N bytes from the server; prints "ok" when
                                their SHA-256 is that of the bytes sent
  bulk.py put ADDR PORT N       N bytes to the server; "ok" when the server
                                got exactly them

The bytes are the same pseudo-random stream on both sides (seeded), so each
side knows what the other must have seen. Every socket has a timeout; the
client exits 1 with a reason on any error.
"""
import hashlib
import random
import socket
import sys
import threading

CHUNK = 65536
TIMEOUT = 20


def stream(n):
    rnd = random.Random(4242)
    while n > 0:
        k = min(CHUNK, n)
        yield rnd.randbytes(k)
        n -= k


def digest(n):
    h = hashlib.sha256()
    for b in stream(n):
        h.update(b)
    return h.hexdigest()


def handle(c):
    with c:
        c.settimeout(TIMEOUT)
        line = b""
        while not line.endswith(b"\n") and len(line) < 64:
            b = c.recv(1)
            if not b:
                return
            line += b
        verb, n = line.split()
        n = int(n)
        if verb == b"get":
            for b in stream(n):
                c.sendall(b)
        elif verb == b"put":
            h, left = hashlib.sha256(), n
            while left > 0:
                b = c.recv(min(CHUNK, left))
                if not b:
                    break
                h.update(b)
                left -= len(b)
            c.sendall(h.hexdigest().encode() + b"\n")


def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def client(verb, addr, port, n):
    c = socket.create_connection((addr, port), timeout=TIMEOUT)
    c.settimeout(TIMEOUT)
    c.sendall(f"{verb} {n}\n".encode())
    if verb == "get":
        h, got = hashlib.sha256(), 0
        while True:
            b = c.recv(CHUNK)
            if not b:
                break
            h.update(b)
            got += len(b)
        ok = got == n and h.hexdigest() == digest(n)
        print("ok" if ok else f"got {got} bytes of {n}, sha256 {'matches' if h.hexdigest() == digest(n) else 'differs'}")
    else:
        for b in stream(n):
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
        answer = c.makefile().readline().strip()
        ok = answer == digest(n)
        print("ok" if ok else f"the server's sha256 of what it got differs: '{answer}'")
    return 0 if ok else 1


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "serve":
            serve(int(argv[2]))
        elif len(argv) == 5 and argv[1] in ("get", "put"):
            return client(argv[1], argv[2], int(argv[3]), int(argv[4]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, ValueError) as e:
        print(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
