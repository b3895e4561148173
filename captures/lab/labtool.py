#!/usr/bin/env python3
"""labtool.py - traffic helpers for the pcapscan capture lab.

Standard library only (no scapy): plain sockets, raw IPv4 sockets and
AF_PACKET sockets. Every loop here is bounded twice: by an explicit count
and by a wall-clock deadline, so a helper can never flood or hang.

Run inside a lab namespace, e.g.:
    ip netns exec pslab-s1-cli python3 labtool.py connect --dst 192.0.2.20 --port 22

Sub-commands:
    tcp-server   listening TCP server (accepts, optional banner/reply, closes)
    connect      one TCP connection attempt; prints a JSON line with the outcome
    synflood     bounded SYN flood from spoofed sources (raw IPv4 socket)
    ether-send   raw Ethernet frames with an arbitrary EtherType (AF_PACKET)
    udp-send     a few UDP datagrams from a fixed source port
    udp-echo     UDP echo server (bounded)
    tcp-raw      hand-made TCP segments (any flags, seq, ack) from a raw IPv4 socket
    icmp-raw     an ICMP echo reply, or a port-unreachable error quoting a UDP
                 datagram, from a raw IPv4 socket
"""

import argparse
import ipaddress
import json
import random
import socket
import struct
import sys
import time

HARD_CAP_SECONDS = 120  # no helper ever runs longer than this


def log(msg):
    print(f"[labtool {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def deadline_after(seconds):
    return time.monotonic() + min(seconds, HARD_CAP_SECONDS)


# --------------------------------------------------------------------------
# TCP server / client
# --------------------------------------------------------------------------
def cmd_tcp_server(a):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.bind, a.port))
    # The listen backlog matters for the SYN-flood scenario (the kernel caps
    # it at net.core.somaxconn of the namespace).
    srv.listen(a.backlog)
    log(f"tcp-server listening on {a.bind}:{a.port} backlog={a.backlog}")
    end = deadline_after(a.duration)
    served = 0
    while time.monotonic() < end and served < a.max_conns:
        srv.settimeout(max(0.05, end - time.monotonic()))
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            break
        served += 1
        conn.settimeout(2.0)
        try:
            if a.banner:
                conn.sendall(a.banner.encode().decode("unicode_escape").encode("latin-1"))
            if a.read_request:
                try:
                    conn.recv(4096)
                except socket.timeout:
                    pass
            if a.reply:
                conn.sendall(a.reply.encode().decode("unicode_escape").encode("latin-1"))
            if a.reply_bytes:
                body = (b"0123456789abcdef" * (a.reply_bytes // 16 + 1))[: a.reply_bytes]
                conn.sendall(body)
        except OSError as e:
            log(f"tcp-server: {peer}: {e}")
        finally:
            conn.close()
    srv.close()
    log(f"tcp-server done, served {served} connection(s)")


def cmd_connect(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if a.sport:
        # Fixed source ports make the captures easy to describe frame by frame.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", a.sport))
    if a.rcvbuf:
        # Before connect: the window scale is chosen from it at the SYN.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    if a.keepalive:
        # Keep-alive probes every second after one idle second.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    wall = time.time()
    result = {"label": a.label, "dst": f"{a.dst}:{a.port}", "sport": None,
              "start": round(wall, 6)}
    try:
        s.connect((a.dst, a.port))
        result["sport"] = s.getsockname()[1]
        result["result"] = "connected"
        result["connect_ms"] = round((time.monotonic() - t0) * 1000, 3)
        if a.send:
            s.sendall(a.send.encode().decode("unicode_escape").encode("latin-1"))
        if a.read_delay > 0:
            # Not reading for a while: the receive buffer fills and the window closes.
            time.sleep(min(a.read_delay, 30))
        if a.read:
            got = 0
            rend = time.monotonic() + a.timeout
            while time.monotonic() < rend:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += len(chunk)
            result["received_bytes"] = got
        if a.hold > 0:
            # Keep the connection open a while (for hand-made segments to land in it).
            time.sleep(min(a.hold, 30))
        if a.abort:
            # SO_LINGER on with a zero timeout: close() sends a RST instead of FIN.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            result["closed_with"] = "RST (SO_LINGER 0)"
        else:
            result["closed_with"] = "FIN"
    except ConnectionRefusedError:
        result["result"] = "refused"
        result["connect_ms"] = round((time.monotonic() - t0) * 1000, 3)
    except (socket.timeout, TimeoutError):
        result["result"] = "timeout"
        result["connect_ms"] = round((time.monotonic() - t0) * 1000, 3)
    except OSError as e:
        result["result"] = f"error: {e}"
        result["connect_ms"] = round((time.monotonic() - t0) * 1000, 3)
    finally:
        if result["sport"] is None:
            try:
                result["sport"] = s.getsockname()[1]
            except OSError:
                pass
        s.close()
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------
# Raw packet helpers
# --------------------------------------------------------------------------
def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return (~total) & 0xFFFF


def build_ipv4(src, dst, proto, payload, ident, ttl):
    total_len = 20 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total_len, ident, 0, ttl,
                     proto, 0, src.packed, dst.packed)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + payload


def build_tcp(src, dst, sport, dport, seq, ack, flags, window, ident, ttl, payload=b""):
    # TCP header without options (20 bytes).
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0) + payload
    pseudo = struct.pack("!4s4sBBH", src.packed, dst.packed, 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    return build_ipv4(src, dst, socket.IPPROTO_TCP, tcp, ident, ttl)


def build_syn(src, dst, sport, dport, seq, ident, window, ttl):
    # Flags = SYN only, no options, like classic flood tools (hping3 -S): easy
    # to tell apart from a real stack's SYN.
    return build_tcp(src, dst, sport, dport, seq, 0, 0x02, window, ident, ttl)


TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


def cmd_tcp_raw(a):
    src = ipaddress.IPv4Address(a.src)
    dst = ipaddress.IPv4Address(a.dst)
    flags = 0
    for ch in a.flags:
        flags |= TCP_FLAG_BITS[ch]
    payload = a.payload.encode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    count = min(a.count, 100)
    end = deadline_after(count * a.interval + 5)
    sent = 0
    for i in range(count):
        if time.monotonic() > end:
            break
        pkt = build_tcp(src, dst, a.sport, a.dport, (a.seq + i * len(payload)) & 0xFFFFFFFF,
                        a.ack, flags, a.window, (a.ident + i) & 0xFFFF, 64, payload)
        sock.sendto(pkt, (str(dst), 0))
        sent += 1
        if i + 1 < count:
            time.sleep(a.interval)
    sock.close()
    log(f"tcp-raw: {sent} segment(s) {src}:{a.sport} -> {dst}:{a.dport} flags {a.flags} "
        f"seq {a.seq} ack {a.ack}, {len(payload)} payload bytes each")


def cmd_icmp_raw(a):
    src = ipaddress.IPv4Address(a.src)
    dst = ipaddress.IPv4Address(a.dst)
    if a.kind == "echo-reply":
        body = struct.pack("!BBHHH", 0, 0, 0, a.id, a.seq) + b"pcapscan-lab"
        what = f"echo reply id {a.id} seq {a.seq}"
    else:
        # Destination unreachable, port unreachable (3/3), quoting the IPv4
        # header and the first 8 bytes of a UDP datagram quote-src -> quote-dst.
        qsrc = ipaddress.IPv4Address(a.quote_src)
        qdst = ipaddress.IPv4Address(a.quote_dst)
        udp = struct.pack("!HHHH", a.quote_sport, a.quote_dport, 8 + 5, 0) + b"probe"
        quoted = build_ipv4(qsrc, qdst, socket.IPPROTO_UDP, udp, 0x4242, 63)[:28]
        body = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
        what = f"port unreachable quoting UDP {qsrc}:{a.quote_sport} -> {qdst}:{a.quote_dport}"
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.sendto(build_ipv4(src, dst, socket.IPPROTO_ICMP, body, 0x4343, 64), (str(dst), 0))
    sock.close()
    log(f"icmp-raw: {src} -> {dst}: {what}")


def cmd_synflood(a):
    dst = ipaddress.IPv4Address(a.dst)
    net = ipaddress.IPv4Network(a.src_net)
    rng = random.Random(a.seed)  # fixed seed: same spoofed sources every run
    count = min(a.count, 100000)
    # Distinct spoofed sources, drawn without replacement from the range.
    hosts = rng.sample(range(1, net.num_addresses - 1), count)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    interval = a.duration / count
    start = time.monotonic()
    end = deadline_after(a.duration * 2 + 5)
    sent = 0
    for i in range(count):
        target = start + i * interval
        now = time.monotonic()
        if now > end:
            break
        if target > now:
            time.sleep(target - now)
        src = net.network_address + hosts[i]
        pkt = build_syn(src, dst, rng.randint(1024, 65535), a.dport,
                        rng.getrandbits(32), rng.getrandbits(16), a.window, a.ttl)
        sock.sendto(pkt, (str(dst), 0))
        sent += 1
    sock.close()
    log(f"synflood: sent {sent} SYNs to {dst}:{a.dport} from {count} distinct "
        f"sources in {a.src_net} in {time.monotonic() - start:.2f}s")


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def cmd_ether_send(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    src = mac_bytes(a.src) if a.src else s.getsockname()[4][:6]
    payload = bytes.fromhex(a.payload_hex)
    frame = mac_bytes(a.dst) + src + struct.pack("!H", int(a.ethertype, 0)) + payload
    end = deadline_after(a.count * a.interval + 5)
    sent = 0
    start = time.monotonic()
    for i in range(a.count):
        target = start + i * a.interval
        now = time.monotonic()
        if now > end:
            break
        if target > now:
            time.sleep(target - now)
        s.send(frame)
        sent += 1
    s.close()
    log(f"ether-send: {sent} frames of {len(frame)} bytes, ethertype {a.ethertype} "
        f"to {a.dst} on {a.iface}")


def cmd_udp_send(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.sport))
    s.settimeout(0.2)
    end = deadline_after(a.count * a.interval + 5)
    replies = 0
    for i in range(a.count):
        if time.monotonic() > end:
            break
        s.sendto(f"{a.payload} {i + 1}".encode(), (a.dst, a.dport))
        t_next = time.monotonic() + a.interval
        while time.monotonic() < t_next:
            try:
                s.recv(2048)
                replies += 1
            except socket.timeout:
                pass
            except ConnectionRefusedError:
                # ICMP port unreachable reported on the connected-less socket
                pass
    s.close()
    log(f"udp-send: {a.count} datagrams {a.bind}:{a.sport} -> {a.dst}:{a.dport}, "
        f"{replies} replies received")


def cmd_udp_echo(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    end = deadline_after(a.duration)
    n = 0
    while time.monotonic() < end and n < a.max_datagrams:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            break
        s.sendto(b"echo: " + data, peer)
        n += 1
    s.close()
    log(f"udp-echo: echoed {n} datagram(s)")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("tcp-server")
    q.add_argument("--bind", default="0.0.0.0")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--backlog", type=int, default=128)
    q.add_argument("--duration", type=float, default=60)
    q.add_argument("--max-conns", type=int, default=100)
    q.add_argument("--banner", default="")
    q.add_argument("--read-request", action="store_true")
    q.add_argument("--reply", default="")
    q.add_argument("--reply-bytes", type=int, default=0)
    q.set_defaults(func=cmd_tcp_server)

    q = sub.add_parser("connect")
    q.add_argument("--dst", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--sport", type=int, default=0)
    q.add_argument("--timeout", type=float, default=3)
    q.add_argument("--send", default="")
    q.add_argument("--read", action="store_true")
    q.add_argument("--abort", action="store_true")
    q.add_argument("--hold", type=float, default=0, help="seconds to keep the connection open before closing")
    q.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF in bytes, set before connecting")
    q.add_argument("--read-delay", type=float, default=0, help="seconds to wait after sending before reading")
    q.add_argument("--keepalive", action="store_true", help="TCP keep-alive after 1 s idle, every 1 s")
    q.add_argument("--label", default="")
    q.set_defaults(func=cmd_connect)

    q = sub.add_parser("synflood")
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--duration", type=float, required=True)
    q.add_argument("--src-net", required=True)
    q.add_argument("--seed", type=int, default=42)
    q.add_argument("--window", type=int, default=1024)
    q.add_argument("--ttl", type=int, default=64)
    q.set_defaults(func=cmd_synflood)

    q = sub.add_parser("ether-send")
    q.add_argument("--iface", required=True)
    q.add_argument("--dst", required=True)
    q.add_argument("--src", default="")
    q.add_argument("--ethertype", required=True)
    q.add_argument("--payload-hex", required=True)
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--interval", type=float, default=1.0)
    q.set_defaults(func=cmd_ether_send)

    q = sub.add_parser("udp-send")
    q.add_argument("--bind", default="0.0.0.0")
    q.add_argument("--sport", type=int, required=True)
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--count", type=int, default=3)
    q.add_argument("--interval", type=float, default=1.0)
    q.add_argument("--payload", default="probe")
    q.set_defaults(func=cmd_udp_send)

    q = sub.add_parser("tcp-raw")
    q.add_argument("--src", required=True)
    q.add_argument("--dst", required=True)
    q.add_argument("--sport", type=int, required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--flags", required=True, help="letters among F S R P A U, e.g. FA")
    q.add_argument("--seq", type=int, default=1000)
    q.add_argument("--ack", type=int, default=0)
    q.add_argument("--window", type=int, default=29200)
    q.add_argument("--ident", type=int, default=0x3000)
    q.add_argument("--payload", default="")
    q.add_argument("--count", type=int, default=1)
    q.add_argument("--interval", type=float, default=0.2)
    q.set_defaults(func=cmd_tcp_raw)

    q = sub.add_parser("icmp-raw")
    q.add_argument("--src", required=True)
    q.add_argument("--dst", required=True)
    q.add_argument("--kind", choices=["echo-reply", "port-unreachable"], required=True)
    q.add_argument("--id", type=int, default=777)
    q.add_argument("--seq", type=int, default=1)
    q.add_argument("--quote-src", default="")
    q.add_argument("--quote-dst", default="")
    q.add_argument("--quote-sport", type=int, default=0)
    q.add_argument("--quote-dport", type=int, default=0)
    q.set_defaults(func=cmd_icmp_raw)

    q = sub.add_parser("udp-echo")
    q.add_argument("--bind", default="0.0.0.0")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--duration", type=float, default=30)
    q.add_argument("--max-datagrams", type=int, default=100)
    q.set_defaults(func=cmd_udp_echo)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
