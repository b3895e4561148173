#!/usr/bin/env bash
# 04-asymmetric-oneway.sh - asymmetric routing: a capture point that sees only
# one direction of every conversation.
#
# Story (see /work/shared/seeds/003_*.txt, LVS-DR behind conntrack): the
# forward path goes through one box, the return path through another. A
# stateful filter or a capture on the forward box sees handshakes that never
# complete (SYN, then ACKs without any SYN+ACK), data that is never answered,
# FIN/RST and ICMP errors about flows it never saw leave - a conntrack-based
# firewall there classifies such packets INVALID and drops them.
#
# Topology (namespaces pslab-s4-*), each link its own /24:
#
#                    10.4.1.0/24           10.4.2.0/24
#        +-----+ eth0 ---------- eth0 +----+ eth1 ---------- eth0 +-----+
#        | cli | 10.4.1.2   10.4.1.1  | rA |  10.4.2.1   10.4.2.2 | srv |
#        +-----+   [capture here: rA eth0]+----+                  +-----+
#        eth1 10.4.4.2                                       eth1 10.4.3.2
#          |               +----+                                 |
#          +-------------- | rB | --------------------------------+
#        10.4.4.0/24  10.4.4.1  10.4.3.1            10.4.3.0/24
#
#   client -> server : via rA (client route 10.4.2.0/24 via 10.4.1.1)
#   server -> client : via rB (server route 10.4.1.0/24 via 10.4.3.1,
#                      rB route 10.4.1.0/24 via 10.4.4.2)
#   rp_filter is off everywhere (the client receives, on eth1, packets for
#   its eth0 address; strict reverse-path filtering would drop them).
#
# Traffic, all bounded (client address 10.4.1.2, server 10.4.2.2):
#   3 ICMP echo requests client->server (replies return via rB)
#   4 TCP sessions cli:40001-40004 -> srv:8080, request + 3000-byte reply, FIN
#   1 TCP session  cli:40005 -> srv:8080 aborted by the client (SO_LINGER 0: RST)
#   1 TCP SYN      cli:40006 -> srv:8081 (closed port; the server's RST returns via rB)
#   3 UDP queries  cli:40010 -> srv:5300 (echoed back via rB)
#   3 UDP datagrams srv:33434 -> cli:9999 (closed): the client's 3 ICMP port
#     unreachable errors go back via rA, so rA sees errors for flows it never saw
#
# Output: captures/asymmetric-oneway.pcap (tcpdump, NANOSECOND pcap),
#         captures/lab/logs/04-asymmetric-oneway.log
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_init s4 04-asymmetric-oneway
lab_require tcpdump:tcpdump ping:iputils-ping

CLI_IP=10.4.1.2 SRV_IP=10.4.2.2

for n in cli ra rb srv; do ns_new "$n"; done
veth cli eth0 02:00:00:04:01:02 ra eth0 02:00:00:04:01:01
veth ra eth1 02:00:00:04:02:01 srv eth0 02:00:00:04:02:02
veth srv eth1 02:00:00:04:03:02 rb eth0 02:00:00:04:03:01
veth rb eth1 02:00:00:04:04:01 cli eth1 02:00:00:04:04:02

nsx cli ip addr add 10.4.1.2/24 dev eth0
nsx cli ip addr add 10.4.4.2/24 dev eth1
nsx ra ip addr add 10.4.1.1/24 dev eth0
nsx ra ip addr add 10.4.2.1/24 dev eth1
nsx srv ip addr add 10.4.2.2/24 dev eth0
nsx srv ip addr add 10.4.3.2/24 dev eth1
nsx rb ip addr add 10.4.3.1/24 dev eth0
nsx rb ip addr add 10.4.4.1/24 dev eth1
for n in cli ra rb srv; do
    for i in eth0 eth1; do nsx "$n" ip link set "$i" up; done
    nsx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0
done
nsx ra sysctl -qw net.ipv4.ip_forward=1
nsx rb sysctl -qw net.ipv4.ip_forward=1

# The asymmetry.
nsx cli ip route add 10.4.2.0/24 via 10.4.1.1   # to the server: via rA
nsx srv ip route add 10.4.1.0/24 via 10.4.3.1   # back to the client: via rB
nsx rb ip route add 10.4.1.0/24 via 10.4.4.2    # rB delivers to the client's eth1
{
    echo "client routes:"; nsx cli ip route
    echo "server routes:"; nsx srv ip route
    echo "rA routes:"; nsx ra ip route
    echo "rB routes:"; nsx rb ip route
} >>"$LOG"

# Servers, bounded in time and in number of connections/datagrams.
bg_start http srv python3 "$LAB_TOOL" tcp-server --port 8080 --read-request \
    --reply-bytes 3000 --duration 40 --max-conns 5
bg_start echo srv python3 "$LAB_TOOL" udp-echo --port 5300 --duration 40 --max-datagrams 3
sleep 1

# Nanosecond timestamps for this one.
capture_start ra ra eth0 pcap-ns

{
    echo "## ping"
    nsx cli ping -n -c 3 -i 0.5 "$SRV_IP"
    echo "## tcp"
    for i in 1 2 3 4; do
        labtool cli connect --dst "$SRV_IP" --port 8080 --sport $((40000 + i)) --timeout 3 \
            --send "GET /object-$i HTTP/1.0\r\n\r\n" --read --label "session-$i"
        sleep 0.5
    done
    labtool cli connect --dst "$SRV_IP" --port 8080 --sport 40005 --timeout 3 \
        --send 'GET /slow HTTP/1.0\r\n\r\n' --abort --label abort-rst
    sleep 0.5
    labtool cli connect --dst "$SRV_IP" --port 8081 --sport 40006 --timeout 3 --label closed-port
    sleep 0.5
    echo "## udp queries"
    labtool cli udp-send --sport 40010 --dst "$SRV_IP" --dport 5300 --count 3 --interval 0.5 \
        --payload query
    echo "## udp to a closed client port (ICMP errors)"
    # 1 s apart: the client's ICMP error rate limit is not the subject here.
    labtool srv udp-send --bind "$SRV_IP" --sport 33434 --dst "$CLI_IP" --dport 9999 \
        --count 3 --interval 1.0 --payload trace
} >>"$LOG" 2>&1

capture_stop ra
capture_publish ra asymmetric-oneway.pcap
lab_done
