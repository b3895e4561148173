#!/usr/bin/env bash
# 05-arp.sh - two ARP incidents, each recorded from a mirror of the switch.
#
# (a) Duplicate IP. Two hosts are configured with the same address
#     10.5.0.10 on one segment. The second one even probes first (RFC 5227
#     style `arping -D`), gets an answer from the first, and is configured
#     anyway. From then on every ARP request for 10.5.0.10 gets TWO replies,
#     with different MACs; which host a client talks to depends on which reply
#     it kept.
# (b) An IP that moves. A service address (VIP) 10.5.1.100 moves between two
#     nodes, as a VRRP/keepalived failover would; each new owner announces it
#     with gratuitous ARP (iputils `arping -U`: GARP requests, `arping -A`:
#     GARP replies). An observer pinging the VIP sees the replies change MAC.
#
# Topology, the same shape for both parts (namespaces pslab-s5-*):
#
#                        +--------------------------+
#   host-1 eth0 -------- | sw: br0 (no STP, no IP)  | -------- host-2 eth0
#                        |  [capture: br0, promisc =|
#                        |   sees every frame that  |
#                        |   enters the switch]     |
#                        +--------------------------+
#                                     |
#                                client eth0
#
# (a) 10.5.0.0/24: dupa 10.5.0.10 02:00:00:05:00:0a, dupb 10.5.0.10
#     02:00:00:05:00:0b, asker 10.5.0.20 02:00:00:05:00:20; br0 02:00:00:05:00:01,
#     switch ports p-a/p-b/p-c 02:00:00:05:00:e1/e2/e3
#     Steps: asker pings (only dupa owns the IP) -> dupb probes with
#     `arping -D` and gets dupa's reply -> dupb adds 10.5.0.10 anyway ->
#     asker flushes its ARP cache and pings (2 replies per request) -> asker
#     `arping -b -c 3` (6 replies) -> flush, ping again.
# (b) 10.5.1.0/24: node1 10.5.1.11 02:00:00:05:01:01, node2 10.5.1.12
#     02:00:00:05:01:02, observer 10.5.1.50 02:00:00:05:01:50, VIP 10.5.1.100,
#     br0 02:00:00:05:01:ff, switch ports p-n1/p-n2/p-obs 02:00:00:05:01:e1/e2/e3.
#     observer pings the VIP every 0.5 s (44 requests).
#     VIP on node1 -> node2 (3x arping -U) -> node1 (3x arping -A) -> node2
#     (3x arping -U), about 5 s apart.
#
# Outputs: captures/arp-duplicate-ip.pcap (tcpdump, microsecond pcap),
#          captures/arp-ip-moves.pcapng (dumpcap, pcapng),
#          captures/lab/logs/05-arp.log
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_init s5 05-arp
lab_require tcpdump:tcpdump dumpcap:wireshark-common ping:iputils-ping
lab_require_iputils_arping


# switch BR_MAC PORT:NS:MAC ... : one bridge namespace "sw" with a veth port
# to each host namespace (interface eth0 there).
switch() {
    local br_mac=$1 spec port ns mac i=0
    shift
    ns_new sw
    nsx sw ip link add br0 address "$br_mac" type bridge stp_state 0 mcast_snooping 0
    for spec in "$@"; do
        IFS=: read -r port ns mac <<<"$spec"
        i=$((i + 1))
        ns_new "$ns"
        # switch-side port MAC: bridge MAC with the last byte = 0xe0 + port
        # number (must not collide with a host MAC: the bridge would keep
        # frames for its own port MACs instead of forwarding them)
        veth "$ns" eth0 "$mac" sw "$port" "${br_mac%:*}:$(printf '%02x' $((0xe0 + i)))"
        nsx sw ip link set "$port" master br0 up
        nsx "$ns" ip link set eth0 up
    done
    nsx sw ip link set br0 up
}

# ===========================================================================
# (a) duplicate IP
# ===========================================================================
log "=== (a) duplicate IP"
echo "=== (a) duplicate IP" >>"$LOG"
switch 02:00:00:05:00:01 p-a:dupa:02:00:00:05:00:0a p-b:dupb:02:00:00:05:00:0b \
    p-c:asker:02:00:00:05:00:20
nsx dupa ip addr add 10.5.0.10/24 dev eth0
nsx asker ip addr add 10.5.0.20/24 dev eth0
# dupb's interface is up but not yet addressed (it "boots" during the capture)
sleep 1

capture_start dup sw br0 pcap
{
    echo "## 1. asker -> 10.5.0.10 while only dupa owns it"
    nsx asker ping -n -c 2 -i 0.5 10.5.0.10
    sleep 1
    echo "## 2. dupb probes for 10.5.0.10 before configuring it (arping -D)"
    # exit status 1 = somebody answered = address in use; dupb ignores it
    nsx dupb arping -D -c 2 -w 3 -I eth0 10.5.0.10 || echo "(arping -D exit $?: address already in use)"
    echo "## 3. dupb configures 10.5.0.10 anyway"
    nsx dupb ip addr add 10.5.0.10/24 dev eth0
    sleep 1
    echo "## 4. asker flushes its ARP cache and pings again: two owners answer"
    nsx asker ip neigh flush dev eth0
    nsx asker ping -n -c 3 -i 0.5 10.5.0.10
    echo "asker neighbour table: $(nsx asker ip neigh show dev eth0)"
    sleep 1
    echo "## 5. asker arping -b (broadcast only): each request answered twice"
    # (iputils arping exits non-zero here although it got 6 replies for 3
    # requests; its exit status is not what this step is about)
    nsx asker arping -b -c 3 -I eth0 10.5.0.10 || echo "(arping exit $?)"
    sleep 1
    echo "## 6. flush and ping once more"
    nsx asker ip neigh flush dev eth0
    nsx asker ping -n -c 2 -i 0.5 10.5.0.10
    echo "asker neighbour table: $(nsx asker ip neigh show dev eth0)"
} >>"$LOG" 2>&1
capture_stop dup
ns_del_all

# ===========================================================================
# (b) IP moving between two MACs, announced by gratuitous ARP
# ===========================================================================
log "=== (b) IP moves between two MACs"
echo "=== (b) IP moves between two MACs" >>"$LOG"
VIP=10.5.1.100
switch 02:00:00:05:01:ff p-n1:node1:02:00:00:05:01:01 p-n2:node2:02:00:00:05:01:02 \
    p-obs:observer:02:00:00:05:01:50
nsx node1 ip addr add 10.5.1.11/24 dev eth0
nsx node2 ip addr add 10.5.1.12/24 dev eth0
nsx observer ip addr add 10.5.1.50/24 dev eth0
nsx node1 ip addr add "$VIP/24" dev eth0
sleep 1

capture_start moves sw br0 pcapng
# The observer's pings: 44 requests, 0.5 s apart (about 22 s), bounded.
# (a lost reply during a move makes ping exit 1: that is data, not a failure)
bg_start ping observer sh -c "timeout 40 ping -n -c 44 -i 0.5 -W 1 $VIP || true" >>"$LOG"

# move_vip FROM TO MODE : the VIP leaves FROM, arrives on TO, TO announces it.
move_vip() {
    local from=$1 to=$2 mode=$3
    log "VIP $VIP: $from -> $to (arping $mode)"
    echo "## $(date +%s.%N) VIP $from -> $to, announced with arping $mode x3" >>"$LOG"
    nsx "$from" ip addr del "$VIP/24" dev eth0
    nsx "$to" ip addr add "$VIP/24" dev eth0
    nsx "$to" arping "$mode" -c 3 -I eth0 -s "$VIP" "$VIP" >>"$LOG" 2>&1
}
sleep 4.8
move_vip node1 node2 -U
sleep 3
move_vip node2 node1 -A
sleep 3
move_vip node1 node2 -U
bg_wait ping 40
echo "observer neighbour table: $(nsx observer ip neigh show dev eth0)" >>"$LOG"
capture_stop moves
# Both parts passed: publish both captures.
capture_publish dup arp-duplicate-ip.pcap
capture_publish moves arp-ip-moves.pcapng
lab_done
