#!/usr/bin/env bash
# 02-syn-flood.sh - a SYN flood from spoofed sources against a server without
# SYN cookies, while a legitimate client tries to connect.
#
# Story (see /work/shared/seeds/001_*.txt, "Defending Against the SYN Flood"):
# each spoofed SYN creates a half-open connection (SYN_RECV). The server's
# SYN+ACKs go to addresses that never answer, so they are retransmitted until
# the request times out. With tcp_syncookies=0 and a small backlog the SYN
# queue is full all the time: further SYNs, including the real client's, are
# silently dropped; the client retransmits its SYN and is delayed or fails.
#
# Topology (namespaces pslab-s2-*):
#
#   att 192.0.2.66 ---- 192.0.2.1  +-----------+ 203.0.113.1 ---- 203.0.113.10 srv
#   (spoofs 198.18.0.0/15)         |    rtr    |                   tcp/80, no syncookies
#   cli 198.51.100.20 - 198.51.100.1+-----------+                   [capture: srv eth0]
#                                  blackhole 198.18.0.0/15
#
# The router forwards the spoofed SYNs (rp_filter off) and silently drops
# everything sent back to 198.18.0.0/15 (blackhole route): the SYN+ACKs leave
# the server and vanish, exactly like replies to forged addresses on the
# Internet.
#
# Parameters: server tcp_syncookies=0, tcp_max_syn_backlog=64, somaxconn=16,
# listen backlog 16, tcp_synack_retries 5 (default). Flood: 1500 SYNs in 10 s
# (150/s), 1500 distinct sources drawn with a fixed seed, no TCP options,
# window 1024. Client: 1 baseline attempt before the flood, 3 during it
# (3.5 s timeout each), 1 after it (15 s timeout).
#
# Output: captures/syn-flood.pcap (tcpdump, microsecond pcap, snaplen 96),
#         captures/lab/logs/02-syn-flood.log (client outcomes, SYN_RECV samples,
#         kernel counters)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_init s2 02-syn-flood
lab_require tcpdump:tcpdump ss:iproute2 nstat:iproute2 ping:iputils-ping

SRV_IP=203.0.113.10 SRV_MAC=02:00:00:02:00:10
CLI_IP=198.51.100.20 CLI_MAC=02:00:00:02:01:20
ATT_IP=192.0.2.66 ATT_MAC=02:00:00:02:02:66
SPOOF_NET=198.18.0.0/15
PORT=80
FLOOD_COUNT=1500 FLOOD_SECONDS=10

for n in srv rtr cli att; do ns_new "$n"; done
veth srv eth0 "$SRV_MAC" rtr r-srv 02:00:00:02:00:01
veth cli eth0 "$CLI_MAC" rtr r-cli 02:00:00:02:01:01
veth att eth0 "$ATT_MAC" rtr r-att 02:00:00:02:02:01

nsx rtr ip addr add 203.0.113.1/24 dev r-srv
nsx rtr ip addr add 198.51.100.1/24 dev r-cli
nsx rtr ip addr add 192.0.2.1/24 dev r-att
for i in r-srv r-cli r-att; do nsx rtr ip link set "$i" up; done
# The router forwards, does not check source addresses (spoofed SYNs pass)...
nsx rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.r-att.rp_filter=0
# ...and black-holes the spoofed range: SYN+ACKs to it are dropped silently
# (a blackhole route sends no ICMP back).
nsx rtr ip route add blackhole "$SPOOF_NET"

nsx srv ip addr add "$SRV_IP/24" dev eth0
nsx cli ip addr add "$CLI_IP/24" dev eth0
nsx att ip addr add "$ATT_IP/24" dev eth0
for n in srv cli att; do nsx "$n" ip link set eth0 up; done
nsx srv ip route add default via 203.0.113.1
nsx cli ip route add default via 198.51.100.1
nsx att ip route add default via 192.0.2.1

# The vulnerable server: no SYN cookies, small SYN backlog, small accept
# backlog (all per-namespace sysctls).
nsx srv sysctl -qw net.ipv4.tcp_syncookies=0 net.ipv4.tcp_max_syn_backlog=64 \
    net.core.somaxconn=16
{
    echo "server sysctls:"
    nsx srv sysctl net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog \
        net.core.somaxconn net.ipv4.tcp_synack_retries net.ipv4.tcp_syn_retries
    echo "client: net.ipv4.tcp_syn_retries = $(nsx cli sysctl -n net.ipv4.tcp_syn_retries)"
} >>"$LOG"

bg_start server srv python3 "$LAB_TOOL" tcp-server --port "$PORT" --backlog 16 \
    --read-request --reply 'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n' \
    --duration 90 --max-conns 50

# Resolve neighbours before the capture (server<->router, client<->router)
# so the capture starts with the incident, not with ARP.
nsx cli ping -c 1 -W 2 "$SRV_IP" >/dev/null
nsx att ping -c 1 -W 2 "$SRV_IP" >/dev/null
sleep 1

# snaplen 96 keeps Ethernet+IP+TCP headers with options (74 bytes for a SYN)
# and keeps the file small.
capture_start server srv eth0 pcap 96

attempt() {
    local num=$1 label=$2 timeout=$3 out
    out=$(labtool cli connect --dst "$SRV_IP" --port "$PORT" --sport $((41000 + num)) \
        --timeout "$timeout" --send 'GET / HTTP/1.0\r\n\r\n' --read --label "$num-$label")
    log "attempt $num ($label): $out"
    echo "attempt $num $label $out" >>"$LOG"
}

# Half-open connections, sampled from the server's point of view every 0.2 s
# (400 samples = 80 s, bounded; stopped when the capture ends).
bg_start sampler srv bash -c '
    for i in $(seq 400); do
        printf "%s %s\n" "$(date +%s.%N)" "$(ss -Htn state syn-recv "( sport = :80 )" | wc -l)"
        sleep 0.2
    done' >"$LAB_TMP/synrecv.txt"

attempt 1 baseline 3.5
sleep 1

log "flood: $FLOOD_COUNT SYNs in $FLOOD_SECONDS s from $SPOOF_NET"
echo "flood start $(date +%s.%N)" >>"$LOG"
bg_start flood att timeout 40 python3 "$LAB_TOOL" synflood --dst "$SRV_IP" --dport "$PORT" \
    --count "$FLOOD_COUNT" --duration "$FLOOD_SECONDS" --src-net "$SPOOF_NET" --seed 42
sleep 1
attempt 2 during-flood 3.5
attempt 3 during-flood 3.5
attempt 4 during-flood 3.5
bg_wait flood 30
echo "flood end $(date +%s.%N)" >>"$LOG"
sleep 1
attempt 5 after-flood 15

# Keep capturing until the last half-open connection has given up, so every
# spoofed source's SYN+ACK retransmission series is complete in the file.
syn_queue_empty() { [[ $(nsx srv ss -Htn state syn-recv "( sport = :$PORT )" | wc -l) -eq 0 ]]; }
wait_until 60 syn_queue_empty || die "SYN queue did not drain"
echo "SYN queue drained $(date +%s.%N)" >>"$LOG"

capture_stop server
bg_stop sampler

{
    echo "SYN_RECV samples (epoch count), peak = $(awk '$2>m{m=$2}END{print m+0}' "$LAB_TMP/synrecv.txt")"
    cat "$LAB_TMP/synrecv.txt"
    echo "server kernel counters (nstat, namespace pslab-s2-srv):"
    nsx srv nstat -asz TcpExtListenDrops TcpExtListenOverflows TcpExtTCPReqQFullDrop \
        TcpExtTCPReqQFullDoCookies TcpExtTCPSynRetrans TcpPassiveOpens TcpAttemptFails
} >>"$LOG"
log "SYN_RECV peak: $(awk '$2>m{m=$2}END{print m+0}' "$LAB_TMP/synrecv.txt")"

capture_publish server syn-flood.pcap
lab_done
