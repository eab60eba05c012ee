#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""udpsess: UDP sessions as real applications run them, for conntrack tests.

  udpsess.py two ADDR1 ADDR2 PORT LPORT
      one socket bound to LPORT asks ADDR1:PORT, ADDR2:PORT, then both
      again; prints the source address of each answer ("ADDR1 ADDR2 ADDR1
      ADDR2" when each came back from where it was sent)
  udpsess.py push-server PORT NAME
      in a pod: every datagram is answered with NAME, then NAME is pushed to
      its sender 12 more times, every 0.4 s (a server that streams), until
      the sender says "bye"
  udpsess.py push-client ADDR PORT LPORT WAIT
      from LPORT: one datagram, the pushes for WAIT seconds, then another
      datagram; prints "same NAME" when every answer came from the pod that
      answered first, "moved NAME1 NAME2" when the second one went elsewhere

  udpsess.py big-server PORT SIZE
      in a pod: every datagram is answered with SIZE bytes (larger than the
      MTU: the answer leaves in fragments, as a big DNS answer does)
  udpsess.py big-client ADDR PORT
      one question; prints the answer's length and the address it came from
  udpsess.py ttl ADDR PORT TTL
      one datagram with that TTL (a traceroute probe); prints the error
      the socket got and who sent it ("EHOSTUNREACH from A.B.C.D"), or
      what else came back
  udpsess.py tcp4 ADDR1 ADDR2 PORT
      four TCP connections held open together, two to ADDR1:PORT, then two
      to ADDR2:PORT (with a 2-port ip_local_port_range the second pair
      reuses the first pair's source ports), then an HTTP request on each;
      prints the answers' bodies in order

Every wait is bounded; exit 1 with a reason on a timeout or error.
"""
import socket
import sys
import threading
import time


def two(a1, a2, port, lport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", lport))
    s.settimeout(2)
    got = []
    for a in (a1, a2, a1, a2):
        s.sendto(b"q", (a, port))
        _, src = s.recvfrom(2048)
        got.append(src[0])
    print(" ".join(got))
    return 0


def push_server(port, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)

    done = set()  # peers that said "bye": no more pushes to a closed port

    def push(peer):
        for _ in range(12):
            time.sleep(0.4)
            if peer in done:
                return
            s.sendto(name.encode(), peer)

    while True:
        data, peer = s.recvfrom(2048)
        if data == b"bye":
            done.add(peer)
            continue
        done.discard(peer)
        s.sendto(name.encode(), peer)
        threading.Thread(target=push, args=(peer,), daemon=True).start()


def push_client(addr, port, lport, wait):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", lport))
    s.connect((addr, port))
    s.settimeout(2)
    s.send(b"hello")
    first = s.recv(2048).decode()
    names = {first}
    end = time.monotonic() + wait
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            names.add(s.recv(2048).decode())
        except socket.timeout:
            break
    s.send(b"again")
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            names.add(s.recv(2048).decode())
        except socket.timeout:
            break
    s.send(b"bye")  # the server stops pushing to a port about to close
    others = sorted(names - {first})
    print(f"same {first}" if not others else f"moved {first} {' '.join(others)}")
    return 0


def big_server(port, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        _, peer = s.recvfrom(2048)
        s.sendto(bytes(i % 251 for i in range(size)), peer)


def big_client(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((addr, port))
    s.send(b"q")
    data = s.recv(65536)
    ok = data == bytes(i % 251 for i in range(len(data)))
    print(f"{len(data)}{'' if ok else ' corrupt'}")
    return 0


def ttl(addr, port, hops):
    import errno
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hops)
    s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
    s.settimeout(2)
    s.connect((addr, port))
    s.send(b"probe")
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            _, anc, _, _ = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            time.sleep(0.05)
            continue
        except socket.timeout:
            break
        for level, typ, data in anc:
            if level == socket.IPPROTO_IP and typ == 11:  # IP_RECVERR: sock_extended_err + offender
                ee_errno = struct.unpack_from("I", data, 0)[0]
                off = socket.inet_ntoa(data[16 + 4:16 + 8])  # sockaddr_in after the 16-byte header
                print(f"{errno.errorcode.get(ee_errno, ee_errno)} from {off}")
                return 0
    try:
        s.setblocking(False)
        print(f"answer {s.recv(2048).decode()}")
    except OSError:
        print("nothing")
    return 0


def tcp4(a1, a2, port):
    conns = []
    for a in (a1, a1, a2, a2):
        c = socket.create_connection((a, port), timeout=2)
        conns.append(c)
    got = []
    for c in conns:
        c.settimeout(2)
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
        got.append(data.split(b"\r\n\r\n", 1)[-1].decode().strip() or "empty")
        c.close()
    print(" ".join(got))
    return 0


def main(a):
    try:
        if len(a) == 4 and a[1] == "big-server":
            return big_server(int(a[2]), int(a[3]))
        if len(a) == 4 and a[1] == "big-client":
            return big_client(a[2], int(a[3]))
        if len(a) == 5 and a[1] == "ttl":
            return ttl(a[2], int(a[3]), int(a[4]))
        if len(a) == 5 and a[1] == "tcp4":
            return tcp4(a[2], a[3], int(a[4]))
        if len(a) == 6 and a[1] == "two":
            return two(a[2], a[3], int(a[4]), int(a[5]))
        if len(a) == 4 and a[1] == "push-server":
            return push_server(int(a[2]), a[3])
        if len(a) == 6 and a[1] == "push-client":
            return push_client(a[2], int(a[3]), int(a[4]), float(a[5]))
        print(__doc__, file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
