#!/usr/bin/env bash
# 03-ethertype-fe68-stp.sh - unknown EtherType 0xfe68 frames, sent about once
# a second to 01:80:c2:ef:03:fe, on a segment that also carries STP BPDUs and
# ordinary traffic.
#
# Story (see /work/shared/seeds/002_*.txt): a Proxmox host's bridge counts
# RX drops; tcpdump shows "ethertype Unknown (0xfe68)" frames from the ISP box
# every second or so, next to 802.1D BPDUs. They are harmless noise that the
# host's stack drops (unknown protocol), hence the "dropped" counter; the fix
# in the story is an ebtables rule (`ebtables -A INPUT -p fe68 -j DROP`).
# 01:80:c2:ef:03:fe is a group (multicast) address outside the reserved
# 01:80:c2:00:00:0x block, so bridges flood it to every port.
#
# Topology (namespaces pslab-s3-*):
#
#   isp  02:00:00:03:00:fe  eth0 ---- p-isp +--------------------------+
#   (sends 0xfe68 frames)                   | sw: br0 02:00:00:03:00:01 |
#   a    02:00:00:03:00:0a  eth0 ---- p-a   |  STP on (802.1D), root    |
#        10.3.0.11/24  [capture]            |  prio 32768 hello 2 s     |
#   b    02:00:00:03:00:0b  eth0 ---- p-b   |  max_age 6 s fwd_delay 4 s|
#        10.3.0.12/24                       +--------------------------+
#
# a pings b (20 echo requests, 1 s apart) while isp sends 25 frames with
# EtherType 0xfe68, a fixed 50-byte payload, 1 s apart. The capture on a's
# interface sees all three: BPDUs from the switch (sent out of port p-a, with
# p-a's MAC as source), the flooded 0xfe68 frames, and the pings (+ ARP).
# STP timers are shortened (legal 802.1D minimums) so the ports reach
# forwarding quickly; the capture starts only once the topology-change period
# is over, so every BPDU in the file is a plain configuration BPDU.
#
# Output: captures/ethertype-fe68-stp.pcap (tcpdump, microsecond pcap)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_init s3 03-ethertype-fe68-stp
lab_require tcpdump:tcpdump ping:iputils-ping

FE68_COUNT=25 FE68_INTERVAL=1.0
FE68_DST=01:80:c2:ef:03:fe
# Fixed payload (50 bytes -> 64-byte frames): an opaque vendor header followed
# by zero padding; identical in every frame.
FE68_PAYLOAD=000100320a0b0c0d0e0f$(printf '00%.0s' $(seq 40))
PING_COUNT=20

for n in sw isp a b; do ns_new "$n"; done

# The switch: an 802.1D STP bridge with a fixed MAC (= bridge id), no
# multicast snooping (no IGMP queries from it). Timers in centiseconds.
nsx sw ip link add br0 address 02:00:00:03:00:01 type bridge stp_state 1 \
    priority 32768 hello_time 200 max_age 600 forward_delay 400 mcast_snooping 0
veth isp eth0 02:00:00:03:00:fe sw p-isp 02:00:00:03:01:01
veth a eth0 02:00:00:03:00:0a sw p-a 02:00:00:03:01:0a
veth b eth0 02:00:00:03:00:0b sw p-b 02:00:00:03:01:0b
for p in p-isp p-a p-b; do nsx sw ip link set "$p" master br0 up; done
nsx sw ip link set br0 up

nsx a ip addr add 10.3.0.11/24 dev eth0
nsx b ip addr add 10.3.0.12/24 dev eth0
for n in isp a b; do nsx "$n" ip link set eth0 up; done

# Wait for the STP ports to reach forwarding, then for the end of the
# topology-change period (max_age + forward_delay = 10 s here).
ports_forwarding() {
    local out
    out=$(nsx sw bridge link show)
    [[ $(grep -c 'state forwarding' <<<"$out") -eq 3 ]]
}
tc_over() {
    local out
    out=$(nsx sw ip -d link show br0)
    grep -q 'topology_change 0 topology_change_detected 0' <<<"$out"
}
wait_until 30 ports_forwarding || die "STP ports did not reach forwarding"
log "STP ports forwarding"
wait_until 40 tc_over || die "STP topology change did not end"
log "STP topology change period over"
{
    nsx sw ip -d link show br0 | grep -oE 'bridge_id [^ ]+|root_id [^ ]+|hello_time [^ ]+|max_age [^ ]+|forward_delay [^ ]+|stp_state [^ ]+|priority [^ ]+'
    nsx sw bridge -d link show
} >>"$LOG"

capture_start a a eth0 pcap

# Start both traffic sources together; each is bounded by count and timeout.
bg_start fe68 isp timeout 60 python3 "$LAB_TOOL" ether-send --iface eth0 \
    --dst "$FE68_DST" --ethertype 0xfe68 --payload-hex "$FE68_PAYLOAD" \
    --count "$FE68_COUNT" --interval "$FE68_INTERVAL"
sleep 0.5
bg_start ping a timeout 60 ping -n -c "$PING_COUNT" -i 1 10.3.0.12 >>"$LOG"
bg_wait ping 60
bg_wait fe68 60
# One more hello interval so the last BPDU before the end is in the file.
sleep 2
capture_stop a
capture_publish a ethertype-fe68-stp.pcap
lab_done
