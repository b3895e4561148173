#!/usr/bin/env bash
# 06-conntrack-verdicts.sh - the Linux kernel's own conntrack verdict for every
# packet of a capture, to check pcapscan's conntrack emulation against.
#
# A router between a client and a server forwards everything and accepts
# everything. Its only rules log each packet, after conntrack has classified
# it, to NFLOG group 6 with the verdict (the --ctstate) as the log prefix:
# NEW, ESTABLISHED, RELATED or INVALID. Two captures run on the router at once:
#   - its client-side interface (eth0): every packet the router forwards, in
#     both directions, as any capture point on that link would see them;
#   - nflog:6: the same packets as conntrack saw them, each tagged with the
#     kernel's verdict.
# Each packet is in both, once. pcapscan reads the first; the second is the
# answer key (test/flows/kernel-conntrack.test.ts, through the TSV written
# from it here with tshark).
#
# Topology (namespaces pslab-s6-*):
#
#        +-----+ eth0 ---------- eth0 +----+ eth1 ---------- eth0 +-----+
#        | cli | 10.6.1.2   10.6.1.1  | fw |  10.6.2.1   10.6.2.2 | srv |
#        +-----+      [capture: fw eth0 and fw nflog:6]           +-----+
#
# The router keeps every conntrack default: nf_conntrack_tcp_loose=1,
# nf_conntrack_tcp_be_liberal=0, the default timeouts (the traffic lasts under
# 30 s, shorter than every timeout that could end an entry here).
#
# Traffic (client 10.6.1.2, server 10.6.2.2), all bounded:
#   ping           3 echo requests and their replies
#   tcp 41001-2    two sessions: request, 2000-byte reply, FIN both ways
#   tcp 41003      SYN to a closed port: the server's RST
#   tcp 41004      a session the client aborts with a RST (SO_LINGER 0)
#   tcp 41005      SYN to a port the server's firewall drops: SYN retransmissions
#   tcp 41013      SYN to a port the server's firewall rejects with an ICMP
#                  port unreachable (REJECT's default): RELATED to the connection
#   tcp 41014      the same with --reject-with tcp-reset
#   tcp 41015      a session whose first SYN+ACK the client's firewall drops:
#                  the client sends its SYN again, the server its SYN+ACK
#   tcp 41006      a connection held open and silent for 1.2 s, into which the
#                  client's namespace sends a hand-made RST with a sequence
#                  number far out of the window (the server ignores it;
#                  conntrack's window check); then the client closes
#   tcp 41007      the same RST after the server's reply and FIN (conntrack
#                  takes a RST in the closing states without that check)
#   tcp 41008      a 300 kB download with every 40th server packet dropped by
#                  the client's firewall, past the router: SACK,
#                  retransmissions, window scaling (conntrack's window
#                  tracking under real load)
#   tcp 41009      a 100 kB reply to a client with a 4 kB receive buffer that
#                  reads nothing for 2 s: zero window, the server's window probes
#   tcp 41012      a silent connection with keep-alives every second (the server
#                  gives up waiting after 2 s and closes), into which the
#                  client's namespace sends hand-made data at two sequence
#                  numbers 2^31 apart, far from the window
#   tcp 41001      again, while the server's side of the first 41001 session is
#                  in TIME_WAIT: the SYN reopens the connection
#   udp 41010      3 queries to an echo server, 3 answers
#   udp 41011      2 datagrams to a closed port: 2 ICMP port unreachable
#   hand-made segments from the client, for connections that do not exist:
#     41020 FIN+ACK, 41021 RST, 41022 ACK with data (mid-stream pickup),
#     41023 SYN+ACK (and what the server answers to each)
#   icmp           an echo reply nobody asked for (id 777)
#   icmp           from the server, a port unreachable quoting a UDP datagram
#                  41030 -> 5399 that never existed
#
# Segmentation offloads are off on every interface: each packet is wire-sized.
#
# With CT_LAB_VARIANT=log (07-conntrack-log.sh runs it so), the same traffic
# is recorded again with the router's nf_conntrack_log_invalid=255 and its
# netfilter logger set to nfnetlink_log: conntrack then logs the packets it
# finds INVALID (here: every TCP one, neither ICMP one), and every TCP packet
# it IGNORES (window checks, its table's ignore cases), with the reason, to
# NFLOG group 0. One more case then, after
# the others: a hand-made ACK into a connection still in SYN_SENT (a SYN to
# the dropped port 9, client port 41040), which conntrack's table rejects in
# that state. The NFLOG capture takes groups 0 and 6 in one file: a packet's
# log message (group 0, logged while conntrack classifies it) comes before its
# verdict (group 6). Published as captures/conntrack-log.nflog.pcap alone.
#
# Output: captures/conntrack-verdicts.pcap (the client-side capture),
#         captures/conntrack-verdicts.nflog.pcap (the kernel's verdicts),
#         captures/conntrack-verdicts.kernel.tsv (one line per logged packet),
#         captures/conntrack-verdicts.kernel-table.txt (the router's conntrack
#         table right after the last packet),
#         captures/lab/logs/06-conntrack-verdicts.log
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VARIANT=${CT_LAB_VARIANT:-verdicts}
case $VARIANT in
verdicts) lab_init s6 06-conntrack-verdicts ;;
log) lab_init s7 07-conntrack-log ;;
*) echo "CT_LAB_VARIANT must be verdicts or log, not $VARIANT" >&2; exit 2 ;;
esac
lab_require tcpdump:tcpdump ping:iputils-ping iptables:iptables ethtool:ethtool conntrack:conntrack

CLI_IP=10.6.1.2 SRV_IP=10.6.2.2

for n in cli fw srv; do ns_new "$n"; done
veth cli eth0 02:00:00:06:01:02 fw eth0 02:00:00:06:01:01
veth fw eth1 02:00:00:06:02:01 srv eth0 02:00:00:06:02:02
nsx cli ip addr add 10.6.1.2/24 dev eth0
nsx fw ip addr add 10.6.1.1/24 dev eth0
nsx fw ip addr add 10.6.2.1/24 dev eth1
nsx srv ip addr add 10.6.2.2/24 dev eth0
for n in cli fw srv; do
    nsx "$n" ip link set eth0 up
done
nsx fw ip link set eth1 up
# No segmentation offloads: every packet is wire-sized, as on a physical link
# (veths otherwise pass 64 KB super-packets, and conntrack judges those).
for ni in cli:eth0 fw:eth0 fw:eth1 srv:eth0; do
    nsx "${ni%%:*}" ethtool -K "${ni#*:}" tso off gso off gro off tx-checksumming off >/dev/null 2>&1 ||
        nsx "${ni%%:*}" ethtool -K "${ni#*:}" tso off gso off gro off >/dev/null
done
nsx fw sysctl -qw net.ipv4.ip_forward=1
nsx cli ip route add 10.6.2.0/24 via 10.6.1.1
nsx srv ip route add 10.6.1.0/24 via 10.6.2.1
# Static neighbours: no ARP in the middle of the traffic.
nsx cli ip neigh replace 10.6.1.1 lladdr 02:00:00:06:01:01 dev eth0 nud permanent
nsx fw ip neigh replace 10.6.1.2 lladdr 02:00:00:06:01:02 dev eth0 nud permanent
nsx fw ip neigh replace 10.6.2.2 lladdr 02:00:00:06:02:02 dev eth1 nud permanent
nsx srv ip neigh replace 10.6.2.1 lladdr 02:00:00:06:02:01 dev eth0 nud permanent

# The verdicts: mangle PREROUTING runs after conntrack (priority -150 against
# -200), so --ctstate is the kernel's classification of the packet. Nothing is
# dropped. The router itself sends nothing, so PREROUTING sees every packet.
for st in INVALID NEW ESTABLISHED RELATED; do
    nsx fw iptables -t mangle -A PREROUTING -m conntrack --ctstate "$st" \
        -j NFLOG --nflog-group 6 --nflog-prefix "$st"
done
nsx fw iptables -t mangle -A PREROUTING -m conntrack ! --ctstate INVALID,NEW,ESTABLISHED,RELATED \
    -j NFLOG --nflog-group 6 --nflog-prefix OTHER
if [[ $VARIANT == log ]]; then
    # Conntrack logs the packets it calls INVALID (and the TCP packets it ignores)
    # through this namespace's IPv4 logger: nfnetlink_log, group 0. After the
    # rules above, which load nf_conntrack (the sysctl) and nfnetlink_log (the
    # logger: writing its name does not load it).
    nsx fw sysctl -qw net.netfilter.nf_conntrack_log_invalid=255
    nsx fw sh -c 'echo nfnetlink_log >/proc/sys/net/netfilter/nf_log/2'
fi
# The server's firewall silently drops one port (SYN retransmissions), and rejects two others:
# with an ICMP port unreachable (REJECT's default) and with a TCP reset.
nsx srv iptables -A INPUT -p tcp --dport 9 -j DROP
nsx srv iptables -A INPUT -p tcp --dport 10 -j REJECT
nsx srv iptables -A INPUT -p tcp --dport 11 -j REJECT --reject-with tcp-reset
# The client loses the server's first SYN+ACK on one port: SYN retransmitted in SYN_RECV.
nsx cli iptables -A INPUT -p tcp --sport 8093 --tcp-flags SYN,ACK SYN,ACK \
    -m statistic --mode nth --every 1000 --packet 0 -j DROP
{
    echo "fw sysctls:"
    nsx fw sysctl net.netfilter.nf_conntrack_tcp_loose net.netfilter.nf_conntrack_tcp_be_liberal \
        net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_udp_timeout
    echo "fw mangle rules:"; nsx fw iptables -t mangle -S
} >>"$LOG" 2>&1

bg_start http srv python3 "$LAB_TOOL" tcp-server --port 8080 --read-request \
    --reply-bytes 2000 --duration 40 --max-conns 8
bg_start echo srv python3 "$LAB_TOOL" udp-echo --port 5300 --duration 40 --max-datagrams 3
bg_start bulk srv python3 "$LAB_TOOL" tcp-server --port 8090 --read-request \
    --reply-bytes 300000 --duration 40 --max-conns 1
bg_start slow srv python3 "$LAB_TOOL" tcp-server --port 8091 --read-request \
    --reply-bytes 100000 --duration 40 --max-conns 1
bg_start late srv python3 "$LAB_TOOL" tcp-server --port 8093 --read-request \
    --reply-bytes 2000 --duration 40 --max-conns 1
# Waits for a request that never comes (2 s), then closes: the client's keep-alives meanwhile.
bg_start idle srv python3 "$LAB_TOOL" tcp-server --port 8092 --read-request --duration 40 --max-conns 1
sleep 1

capture_start wire fw eth0 pcap-ns
if [[ $VARIANT == log ]]; then
    capture_start verdicts fw nflog:0,6 pcap
else
    capture_start verdicts fw nflog:6 pcap
fi

{
    echo "## ping"
    nsx cli ping -n -c 3 -i 0.3 "$SRV_IP"
    echo "## tcp sessions"
    for sport in 41001 41002; do
        labtool cli connect --dst "$SRV_IP" --port 8080 --sport "$sport" --timeout 3 \
            --send "GET /object HTTP/1.0\r\n\r\n" --read --label "session-$sport"
        sleep 0.3
    done
    labtool cli connect --dst "$SRV_IP" --port 8081 --sport 41003 --timeout 3 --label closed-port
    sleep 0.3
    labtool cli connect --dst "$SRV_IP" --port 8080 --sport 41004 --timeout 3 \
        --send 'GET /abort HTTP/1.0\r\n\r\n' --abort --label abort-rst
    sleep 0.3
    labtool cli connect --dst "$SRV_IP" --port 9 --sport 41005 --timeout 3.5 --label dropped-port
    echo "## rejected by the server's firewall: ICMP port unreachable, TCP reset"
    labtool cli connect --dst "$SRV_IP" --port 10 --sport 41013 --timeout 3 --label rejected-icmp
    labtool cli connect --dst "$SRV_IP" --port 11 --sport 41014 --timeout 3 --label rejected-rst
    echo "## the server's first SYN+ACK lost at the client: the SYN again, in SYN_RECV"
    labtool cli connect --dst "$SRV_IP" --port 8093 --sport 41015 --timeout 5 \
        --send "GET /late HTTP/1.0\r\n\r\n" --read --label synack-lost
    nsx cli iptables -L INPUT -v -n -x
    echo "## out-of-window RST into a live session"
    # Connected and silent for 1.2 s (the server waits up to 2 s for a request):
    # ESTABLISHED, where conntrack checks a RST's sequence number.
    labtool cli connect --dst "$SRV_IP" --port 8080 --sport 41006 --timeout 3 --hold 1.2 --label held &
    held=$!
    sleep 0.6
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41006 --dport 8080 \
        --flags R --seq 16909060
    wait "$held"
    sleep 0.3
    # The same RST once the server has closed its side (request, reply, the
    # server's FIN): in FIN_WAIT, CLOSE_WAIT and later states conntrack takes a
    # RST without looking at its sequence number.
    labtool cli connect --dst "$SRV_IP" --port 8080 --sport 41007 --timeout 3 \
        --send "GET /object HTTP/1.0\r\n\r\n" --read --hold 1.2 --label half-closed &
    held=$!
    sleep 0.6
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41007 --dport 8080 \
        --flags R --seq 16909060
    wait "$held"
    sleep 0.3
    echo "## bulk transfer, every 40th server packet lost (SACK, retransmissions, window scaling)"
    # Lost past the router, at the client's door: the capture sees each lost
    # packet and its retransmission, as one taken upstream of a lossy link.
    # (The server cannot drop single segments itself: its stack builds 64 KB
    # super-packets, cut into segments only after its firewall.)
    drop=(INPUT -p tcp --sport 8090 -m statistic --mode nth --every 40 --packet 20 -j DROP)
    nsx cli iptables -A "${drop[@]}"
    labtool cli connect --dst "$SRV_IP" --port 8090 --sport 41008 --timeout 5 \
        --send "GET /bulk HTTP/1.0\r\n\r\n" --read --label bulk
    nsx cli iptables -L INPUT -v -n -x
    nsx cli iptables -D "${drop[@]}"
    sleep 0.3
    echo "## a zero window: a 100 kB reply to a client with a small receive buffer that reads nothing for 2 s"
    labtool cli connect --dst "$SRV_IP" --port 8091 --sport 41009 --timeout 5 --rcvbuf 4096 \
        --send "GET /slow-reader HTTP/1.0\r\n\r\n" --read-delay 2 --read --label zero-window
    sleep 0.3
    echo "## keep-alives, and hand-made data at a sequence number far from the window"
    labtool cli connect --dst "$SRV_IP" --port 8092 --sport 41012 --timeout 5 --keepalive --hold 3.5 --label keepalive &
    held=$!
    sleep 2.2
    # Two, 2^31 apart: whatever the connection's sequence numbers, one lies beyond the window
    # (INVALID) and the other behind it (an old retransmission to conntrack: ignored).
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41012 --dport 8092 \
        --flags PA --seq 16909060 --ack 33818120 --payload stray
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41012 --dport 8092 \
        --flags PA --seq 2164392708 --ack 33818120 --payload stray
    wait "$held"
    sleep 0.3
    echo "## a new connection from the same port while the server's side is in TIME_WAIT"
    labtool cli connect --dst "$SRV_IP" --port 8080 --sport 41001 --timeout 3 \
        --send "GET /again HTTP/1.0\r\n\r\n" --read --label session-41001-again
    sleep 0.3
    echo "## udp"
    labtool cli udp-send --sport 41010 --dst "$SRV_IP" --dport 5300 --count 3 --interval 0.3 --payload query
    labtool cli udp-send --sport 41011 --dst "$SRV_IP" --dport 5301 --count 2 --interval 1.0 --payload closed
    echo "## hand-made segments for connections that do not exist"
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41020 --dport 8080 --flags FA --seq 5000 --ack 7000
    sleep 0.3
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41021 --dport 8080 --flags R --seq 5000
    sleep 0.3
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41022 --dport 8080 --flags PA --seq 5000 --ack 7000 \
        --payload midstream --count 2 --interval 0.3
    sleep 0.3
    labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41023 --dport 8080 --flags SA --seq 5000 --ack 7000
    sleep 0.3
    echo "## icmp"
    labtool cli icmp-raw --src "$CLI_IP" --dst "$SRV_IP" --kind echo-reply --id 777 --seq 1
    sleep 0.3
    labtool srv icmp-raw --src "$SRV_IP" --dst "$CLI_IP" --kind port-unreachable \
        --quote-src "$CLI_IP" --quote-dst "$SRV_IP" --quote-sport 41030 --quote-dport 5399
    sleep 0.3
    if [[ $VARIANT == log ]]; then
        echo "## an ACK into a connection in SYN_SENT (the SYN to the dropped port is never answered)"
        labtool cli connect --dst "$SRV_IP" --port 9 --sport 41040 --timeout 2 --label syn-sent &
        held=$!
        sleep 0.5
        labtool cli tcp-raw --src "$CLI_IP" --dst "$SRV_IP" --sport 41040 --dport 9 --flags A --seq 5000 --ack 7000
        wait "$held" || true
        sleep 0.3
    fi
} >>"$LOG" 2>&1
# The router's conntrack table right after the last packet: every entry still alive, its TCP
# state and flags, as `conntrack -L` lists them (read through netlink: complete).
table="$LAB_TMP/ct-table.txt"
nsx fw conntrack -L >"$table" 2>>"$LOG"

capture_stop wire
capture_stop verdicts

# Every packet must be in both captures, once.
wire_ip=$(tsk -r "$(capture_file wire)" -Y ip | wc -l)
logged=$(tsk -r "$(capture_file verdicts)" -Y 'nflog.res_id == 6' | wc -l)
log "client-side capture: $wire_ip IPv4 packets; NFLOG: $logged verdicts"
((wire_ip == logged)) || die "the two captures disagree: $wire_ip IPv4 packets against $logged verdicts"
if tsk -r "$(capture_file verdicts)" -Y 'nflog.res_id == 6' -T fields -e nflog.prefix | grep -qx OTHER; then
    die "a packet matched no --ctstate (prefix OTHER)"
fi

if [[ $VARIANT == log ]]; then
    log "conntrack's messages (group 0):"
    tsk -r "$(capture_file verdicts)" -Y 'nflog.res_id == 0' -T fields -e nflog.prefix |
        sed -E 's/[0-9]{4,}/N/g' | sort | uniq -c >&2
    capture_publish verdicts conntrack-log.nflog.pcap
    lab_done
    exit 0
fi

capture_publish wire conntrack-verdicts.pcap
capture_publish verdicts conntrack-verdicts.nflog.pcap

# The answer key, one line per packet in the order conntrack saw them
# (nflog-verdicts.sh; verify-ground-truth.sh derives it again from the file).
tsv="$LAB_CAPTURES_DIR/conntrack-verdicts.kernel.tsv"
{
    printf '# The Linux kernel'"'"'s conntrack verdict for each packet of conntrack-verdicts.pcap,\n'
    printf '# from conntrack-verdicts.nflog.pcap by captures/lab/nflog-verdicts.sh (06-conntrack-verdicts.sh); kernel %s.\n' "$(uname -r)"
    bash "$LAB_DIR/nflog-verdicts.sh" "$LAB_CAPTURES_DIR/conntrack-verdicts.nflog.pcap"
} >"$tsv.tmp"
mv -f "$tsv.tmp" "$tsv"
log "wrote $tsv ($(grep -vc '^#' "$tsv") lines)"
{
    printf '# The Linux kernel'"'"'s conntrack table on the router of conntrack-verdicts.pcap right after its\n'
    printf '# last packet (conntrack -L, sorted; captures/lab/06-conntrack-verdicts.sh); kernel %s.\n' "$(uname -r)"
    sort "$table"
} >"$LAB_CAPTURES_DIR/conntrack-verdicts.kernel-table.txt"
log "wrote $LAB_CAPTURES_DIR/conntrack-verdicts.kernel-table.txt ($(wc -l <"$table") entries)"
awk -F'\t' 'NR > 3 { n[$1]++ } END { for (v in n) printf "  %s %d\n", v, n[v] }' "$tsv" | sort >&2
lab_done
