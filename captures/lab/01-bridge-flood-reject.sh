#!/usr/bin/env bash
# 01-bridge-flood-reject.sh - "One SYN, two answers": a flooded SYN is answered
# by a forged RST *and* by the real server's SYN+ACK.
#
# Story (see /work/shared/seeds/000_*.txt): a quiet VM behind a Linux bridge on
# a hypervisor. Its MAC ages out of the bridge forwarding table (FDB) long
# before the client's ARP entry for it expires, so the next SYN to it is
# FLOODED to every bridge port. A REJECT firewall guarding ANOTHER port answers
# that copy with a TCP RST, which reaches the client before the legitimate
# SYN+ACK: the client reports "connection refused" although the server is up.
#
# Topology (one namespace per box, all pslab-s1-*):
#
#        cli 192.0.2.10                 hv ("hypervisor")
#   02:00:00:01:00:10  eth0 ---- p-cli +------------------+
#                                      |  br0 192.0.2.1   | p-srv ---- eth0  srv 192.0.2.20
#                                      |  02:00:00:01:00:01|            02:00:00:01:00:20
#                                      |  ageing_time 10 s | p-vm2 ---- eth0  vm2 192.0.2.30
#                                      +------------------+            02:00:00:01:00:30
#
# Two variants are recorded, each in fresh namespaces:
#   hv-iptables  the hypervisor filters with br_netfilter + iptables
#                `FORWARD -m physdev --physdev-out p-vm2 -p tcp -j REJECT
#                --reject-with tcp-reset`. On this kernel the bridged REJECT
#                sends the RST straight out of the client's port with the
#                ORIGINAL destination MAC as source: RST and SYN+ACK share the
#                server's MAC ("samemac").
#   vm2-firewall vm2 is a routing firewall appliance whose NIC hands every
#                frame up (nft netdev ingress `meta pkttype set host`, like a
#                promiscuous/virtio NIC feeding a router): it routes the flooded
#                SYN and its forward chain rejects it; the RST leaves with vm2's
#                OWN MAC ("diffmac"). Also captured at vm2's port, where the
#                flooded SYN (destination = server's MAC) is visible.
# The output name (samemac/diffmac) is decided from the capture with tshark,
# not assumed.
#
# Connection attempts from cli to srv:22, each with the FDB state asserted
# beforehand: 1 cold (empty FDB), 2 warm, 3 after `fdb_flush`, 4 warm,
# 5 after the server's MAC aged out (server silent > ageing_time), 6 warm.
#
# The server never speaks unless spoken to: IPv6 off (no ND/MLD), permanent
# ARP entries on both ends (no ARP), br0 multicast snooping off (no IGMP).
#
# Outputs: captures/bridge-flood-reject-<samemac|diffmac>.pcapng|.pcap,
#          captures/bridge-flood-reject-diffmac-vm2port.pcap,
#          captures/lab/logs/01-bridge-flood-reject.log
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_init s1 01-bridge-flood-reject
lab_require tcpdump:tcpdump dumpcap:wireshark-common iptables:iptables nft:nftables

AGEING_CS=1000 # bridge ageing_time in centiseconds: 10 s (kernel default 300 s)
PORT=22
BANNER='SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'
CLI_IP=192.0.2.10 CLI_MAC=02:00:00:01:00:10
SRV_IP=192.0.2.20 SRV_MAC=02:00:00:01:00:20
VM2_IP=192.0.2.30 VM2_MAC=02:00:00:01:00:30
BR_IP=192.0.2.1 BR_MAC=02:00:00:01:00:01

# ---------------------------------------------------------------------------
build_topology() {
    local variant=$1 n
    for n in hv cli srv vm2; do ns_new "$n"; done

    # The bridge: fixed MAC, short ageing so an idle server is forgotten
    # quickly, no STP (no BPDUs), no multicast snooping (otherwise br0 joins
    # 224.0.0.106 and sends IGMP reports that would reach the client).
    nsx hv ip link add br0 address "$BR_MAC" type bridge \
        ageing_time "$AGEING_CS" stp_state 0 mcast_snooping 0
    # Ports are enslaved in this order; the order is the same in both variants.
    veth cli eth0 "$CLI_MAC" hv p-cli 02:00:00:01:01:10
    veth srv eth0 "$SRV_MAC" hv p-srv 02:00:00:01:01:20
    veth vm2 eth0 "$VM2_MAC" hv p-vm2 02:00:00:01:01:30
    for n in p-cli p-srv p-vm2; do nsx hv ip link set "$n" master br0 up; done
    nsx hv ip link set br0 up
    # The hypervisor's own management address: gives the host a route back to
    # the client, which the bridged REJECT needs to build its RST.
    nsx hv ip addr add "$BR_IP/24" dev br0

    nsx cli ip addr add "$CLI_IP/24" dev eth0
    nsx srv ip addr add "$SRV_IP/24" dev eth0
    nsx vm2 ip addr add "$VM2_IP/24" dev eth0
    for n in cli srv vm2; do nsx "$n" ip link set eth0 up; done

    # Permanent neighbour entries: the client never ARPs for the server (its
    # ARP entry outlives the bridge's FDB entry, the root of the incident) and
    # the server never ARPs for the client (it stays silent between attempts).
    nsx cli ip neigh replace "$SRV_IP" lladdr "$SRV_MAC" dev eth0 nud permanent
    nsx srv ip neigh replace "$CLI_IP" lladdr "$CLI_MAC" dev eth0 nud permanent

    case $variant in
    hv-iptables)
        # br_netfilter: bridged IPv4 goes through iptables (per-namespace
        # sysctl; set explicitly rather than trusting the default).
        nsx hv sysctl -qw net.bridge.bridge-nf-call-iptables=1
        # Proxmox-style per-VM filtering on the hypervisor: anything TCP that
        # the bridge forwards OUT of vm2's port and no rule accepts is REJECTed.
        nsx hv iptables -A FORWARD -m physdev --physdev-is-bridged \
            --physdev-out p-vm2 -p tcp -j REJECT --reject-with tcp-reset
        ;;
    vm2-firewall)
        # No firewall on the hypervisor at all.
        nsx hv sysctl -qw net.bridge.bridge-nf-call-iptables=0
        # vm2 routes (a firewall appliance); no ICMP redirects (they would be
        # sent before the forward chain runs).
        nsx vm2 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
            net.ipv4.conf.eth0.send_redirects=0
        # It knows the client (no ARP before its RST, like the client itself).
        nsx vm2 ip neigh replace "$CLI_IP" lladdr "$CLI_MAC" dev eth0 nud permanent
        nsx vm2 nft -f - <<'EOF'
table netdev promisc {
    # Frames flooded by the bridge carry the server's MAC; a normal NIC/stack
    # drops them (PACKET_OTHERHOST). This appliance takes them as its own.
    chain ingress {
        type filter hook ingress device "eth0" priority 0; policy accept;
        meta pkttype other meta pkttype set host
    }
}
table inet fw {
    # Default REJECT policy for transit TCP, as on the hypervisor variant.
    chain forward {
        type filter hook forward priority 0; policy accept;
        meta l4proto tcp reject with tcp reset
    }
}
EOF
        ;;
    esac
}

# (output captured first: `cmd | grep -q` can fail under pipefail when grep
# exits early and cmd gets SIGPIPE)
fdb_has_server() {
    local fdb
    fdb=$(nsx hv bridge fdb show br br0)
    grep -qi "^$SRV_MAC dev" <<<"$fdb"
}
fdb_lacks_server() { ! fdb_has_server; }
fdb_state() {
    local s
    s=$(nsx hv bridge fdb show br br0 | grep -v permanent | awk '{print $1"@"$3}' | tr '\n' ' ')
    printf 'fdb: %s' "${s:-(empty)}"
}

# attempt NUM LABEL : one connection attempt from the client, outcome logged.
attempt() {
    local num=$1 label=$2 out
    out=$(labtool cli connect --dst "$SRV_IP" --port "$PORT" --sport $((40000 + num)) \
        --timeout 3 --read --label "$num-$label")
    log "attempt $num ($label): $out"
    RESULT[$num]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"])' "$out")
    printf 'attempt %s %s %s | %s\n' "$num" "$label" "$out" "$(fdb_state)" >>"$LOG"
    # let the server's SYN+ACK retransmission and the client's RST to it
    # (flooded case) happen before the next step
    sleep 2
}

run_variant() {
    local variant=$1 fmt=$2 ext=$3
    log "=== variant $variant"
    printf '=== variant %s (ageing_time %s cs)\n' "$variant" "$AGEING_CS" >>"$LOG"
    build_topology "$variant"
    nsx hv ip -d link show br0 | grep -o 'ageing_time [0-9]*' >>"$LOG"

    # The quiet server VM: SSH-like banner, then the server closes.
    bg_start server srv python3 "$LAB_TOOL" tcp-server --port "$PORT" \
        --banner "$BANNER" --duration 110 --max-conns 20
    sleep 1

    # Capture where "connection refused" is seen: the client's interface.
    capture_start "client-$variant" cli eth0 "$fmt"
    if [[ $variant == vm2-firewall ]]; then capture_start vm2port vm2 eth0 pcap; fi

    fdb_has_server && die "server MAC already in the FDB before the cold attempt"
    attempt 1 cold
    fdb_has_server || die "server MAC not learned after attempt 1"
    attempt 2 warm

    # Flush the whole forwarding table (what `brctl`-era admins did by hand).
    nsx hv ip link set br0 type bridge fdb_flush
    fdb_has_server && die "server MAC still in the FDB after fdb_flush"
    printf 'fdb_flush done | %s\n' "$(fdb_state)" >>"$LOG"
    attempt 3 flushed
    attempt 4 warm

    # Leave the server silent until the bridge ages its MAC out (the kernel's
    # FDB garbage collector runs periodically, so poll rather than guess).
    local t0=$SECONDS
    sleep $((AGEING_CS / 100))
    wait_until 40 fdb_lacks_server || die "server MAC did not age out"
    log "server MAC aged out after $((SECONDS - t0)) s of silence"
    printf 'aged out after %s s of server silence | %s\n' "$((SECONDS - t0))" "$(fdb_state)" >>"$LOG"
    attempt 5 aged
    attempt 6 warm

    capture_stop "client-$variant"
    if [[ $variant == vm2-firewall ]]; then capture_stop vm2port; fi

    # Which kind of forged RST did we actually get? Compare, in the capture,
    # the source MAC of the RSTs from the server's address with that of the
    # SYN+ACKs.
    local f rst_macs synack_macs kind
    f=$(capture_file "client-$variant")
    rst_macs=$(tsk -r "$f" -Y "ip.src==$SRV_IP && tcp.flags.reset==1" -T fields -e eth.src | sort -u | tr '\n' ' ')
    synack_macs=$(tsk -r "$f" -Y "ip.src==$SRV_IP && tcp.flags.syn==1 && tcp.flags.ack==1" -T fields -e eth.src | sort -u | tr '\n' ' ')
    log "RST source MACs: $rst_macs; SYN+ACK source MACs: $synack_macs"
    [[ -n $rst_macs ]] || die "no forged RST in the capture: the scenario did not reproduce"
    # Per attempt (client source port 4000N): a flooded SYN must get BOTH a
    # RST and a SYN+ACK from the server's address, a warm one only a SYN+ACK.
    local num sport nrst nsa want
    for num in 1 2 3 4 5 6; do
        sport=$((40000 + num))
        nrst=$(tsk -r "$f" -Y "ip.src==$SRV_IP && tcp.dstport==$sport && tcp.flags.reset==1" | wc -l)
        nsa=$(tsk -r "$f" -Y "ip.src==$SRV_IP && tcp.dstport==$sport && tcp.flags.syn==1 && tcp.flags.ack==1" | wc -l)
        case $num in 1 | 3 | 5) want=flooded ;; *) want=warm ;; esac
        printf 'check attempt %s (%s): %s RST, %s SYN+ACK (incl. retransmissions)\n' \
            "$num" "$want" "$nrst" "$nsa" >>"$LOG"
        if [[ $want == flooded ]]; then
            ((nrst == 1 && nsa >= 1)) || die "attempt $num: expected RST + SYN+ACK, got $nrst RST / $nsa SYN+ACK"
        else
            ((nrst == 0 && nsa == 1)) || die "attempt $num: expected only a SYN+ACK, got $nrst RST / $nsa SYN+ACK"
        fi
    done
    # The symptom: flooded attempts end in "connection refused" when the RST
    # wins the race (it does here); warn rather than fail if it did not.
    for num in 1 3 5; do
        [[ ${RESULT[$num]} == refused ]] ||
            log "WARNING: flooded attempt $num was ${RESULT[$num]}, not refused (the SYN+ACK won the race)"
    done
    for num in 2 4 6; do
        [[ ${RESULT[$num]} == connected ]] || die "warm attempt $num was ${RESULT[$num]}"
    done
    if [[ $rst_macs == "$synack_macs" ]]; then kind=samemac; else kind=diffmac; fi
    printf 'variant %s -> %s (RST src MAC %s, SYN+ACK src MAC %s)\n' \
        "$variant" "$kind" "$rst_macs" "$synack_macs" >>"$LOG"
    # Both variants must not land on the same name (one would overwrite the
    # other): if they did, the kernel behaves differently from what this
    # script documents, and a human must look.
    if [[ " $KINDS_SEEN " == *" $kind "* ]]; then
        die "two variants produced the same kind ($kind)"
    fi
    KINDS_SEEN+=" $kind"
    # Published only once BOTH variants have passed their checks.
    PENDING+=("client-$variant:bridge-flood-reject-$kind.$ext")
    if [[ $variant == vm2-firewall ]]; then
        PENDING+=("vm2port:bridge-flood-reject-$kind-vm2port.pcap")
    fi

    # Tear this variant down before the next one (same namespace names).
    ns_del_all
}
KINDS_SEEN=""
PENDING=()
declare -A RESULT=()

run_variant hv-iptables pcapng pcapng
run_variant vm2-firewall pcap pcap
for p in "${PENDING[@]}"; do capture_publish "${p%%:*}" "${p#*:}"; done
lab_done
