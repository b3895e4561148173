#!/usr/bin/env bash
# verify-ground-truth.sh - re-derive, with tshark only, the key facts stated in
# GROUND_TRUTH.md from the capture files, and compare. No root needed.
#
# If a capture is re-recorded (npm run lab), timestamps, sequence numbers and
# some frame numbers change: this script then fails on those lines, and
# GROUND_TRUTH.md (and these expectations) must be updated from the new files.
set -euo pipefail

CAP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v tshark >/dev/null || { echo "tshark missing (Debian package: tshark)" >&2; exit 1; }

fail=0 n=0
# t FILE FILTER FIELD... : values of FIELDs for frames matching FILTER, one
# frame per line, fields space-separated, lines joined with ";".
t() {
    local f=$1 flt=$2
    shift 2
    local args=() x
    for x in "$@"; do args+=(-e "$x"); done
    tshark -r "$CAP/$f" -Y "$flt" -T fields -E separator=' ' "${args[@]}" 2>/dev/null | paste -sd';' -
}
count() { tshark -r "$CAP/$1" -Y "$2" 2>/dev/null | wc -l; }
expect() {
    local what=$1 got=$2 want=$3
    n=$((n + 1))
    if [[ $got == "$want" ]]; then
        printf 'ok   %s\n' "$what"
    else
        printf 'FAIL %s\n     got:  %s\n     want: %s\n' "$what" "$got" "$want"
        fail=$((fail + 1))
    fi
}

# --- bridge-flood-reject-samemac.pcapng ------------------------------------
F=bridge-flood-reject-samemac.pcapng
expect "$F frames" "$(count $F frame)" 39
expect "$F SYN frames" "$(t $F 'tcp.flags==0x002' frame.number tcp.srcport)" \
    "1 40001;6 40002;14 40003;19 40004;27 40005;32 40006"
expect "$F forged RSTs (frame, src MAC, ack)" \
    "$(t $F 'ip.src==192.0.2.20 && tcp.flags.reset==1' frame.number eth.src tcp.ack_raw tcp.window_size_value tcp.hdr_len ip.id)" \
    "2 02:00:00:01:00:20 1324994493 0 20 0x0000;15 02:00:00:01:00:20 67107238 0 20 0x0000;28 02:00:00:01:00:20 3845809627 0 20 0x0000"
expect "$F SYN+ACKs" "$(t $F 'tcp.flags==0x012' frame.number eth.src)" \
    "3 02:00:00:01:00:20;4 02:00:00:01:00:20;7 02:00:00:01:00:20;16 02:00:00:01:00:20;17 02:00:00:01:00:20;20 02:00:00:01:00:20;29 02:00:00:01:00:20;30 02:00:00:01:00:20;33 02:00:00:01:00:20"
expect "$F SYN seqs of flooded attempts" "$(t $F 'frame.number in {1,14,27}' tcp.seq_raw)" \
    "1324994492;67107237;3845809626"
expect "$F client RSTs" "$(t $F 'ip.src==192.0.2.10 && tcp.flags==0x004' frame.number)" "5;18;31"
expect "$F times of SYN/RST/SYN+ACK (flooded)" \
    "$(t $F 'frame.number in {1,2,3,14,15,16,27,28,29}' frame.time_relative)" \
    "0.000000000;0.000032320;0.000059501;5.335333031;5.335366213;5.335392191;20.562063005;20.562098161;20.562125331"
expect "$F last server frames before flooded SYNs" "$(t $F 'frame.number in {13,26}' eth.src frame.time_relative)" \
    "02:00:00:01:00:20 2.710942782;02:00:00:01:00:20 7.935620399"
expect "$F no ARP/IPv6/IGMP" "$(count $F 'arp || ipv6 || igmp')" 0
expect "$F format" "$(capinfos -t "$CAP/$F" 2>/dev/null | awk -F': *' '/File type/{print $2}')" "Wireshark/... - pcapng"

# --- bridge-flood-reject-diffmac.pcap --------------------------------------
F=bridge-flood-reject-diffmac.pcap
expect "$F frames" "$(count $F frame)" 39
expect "$F forged RSTs" "$(t $F 'ip.src==192.0.2.20 && tcp.flags.reset==1' frame.number eth.src)" \
    "2 02:00:00:01:00:30;15 02:00:00:01:00:30;28 02:00:00:01:00:30"
expect "$F SYN+ACK source MACs" "$(t $F 'tcp.flags==0x012' eth.src | tr ';' '\n' | sort | uniq -c | tr -s ' ' | paste -sd';' -)" \
    " 9 02:00:00:01:00:20"
expect "$F SYN frames" "$(t $F 'tcp.flags==0x002' frame.number)" "1;6;14;19;27;32"
expect "$F times of SYN/RST/SYN+ACK (flooded)" \
    "$(t $F 'frame.number in {1,2,3,14,15,16,27,28,29}' frame.time_relative)" \
    "0.000000000;0.000069000;0.000073000;5.561399000;5.561487000;5.561491000;21.145289000;21.145375000;21.145380000"
expect "$F format" "$(capinfos -t "$CAP/$F" 2>/dev/null | awk -F': *' '/File type/{print $2}')" "Wireshark/tcpdump/... - pcap"

F=bridge-flood-reject-diffmac-vm2port.pcap
expect "$F frames" "$(t $F frame frame.number eth.src eth.dst tcp.flags)" \
    "1 02:00:00:01:00:10 02:00:00:01:00:20 0x0002;2 02:00:00:01:00:30 02:00:00:01:00:10 0x0014;3 02:00:00:01:00:10 02:00:00:01:00:20 0x0002;4 02:00:00:01:00:30 02:00:00:01:00:10 0x0014;5 02:00:00:01:00:10 02:00:00:01:00:20 0x0002;6 02:00:00:01:00:30 02:00:00:01:00:10 0x0014"

# --- syn-flood.pcap ----------------------------------------------------------
F=syn-flood.pcap
SP='ip.src==198.18.0.0/15 && tcp.flags==0x002'
SA='ip.dst==198.18.0.0/15 && tcp.flags==0x012'
expect "$F frames" "$(count $F frame)" 1635
expect "$F spoofed SYNs" "$(count $F "$SP")" 1500
expect "$F distinct spoofed sources" "$(t $F "$SP" ip.src | tr ';' '\n' | sort -u | wc -l)" 1500
expect "$F first/last spoofed SYN" "$(t $F "$SP" frame.number frame.time_relative | tr ';' '\n' | sed -n '1p;$p' | paste -sd';' -)" \
    "11 1.398325000;1597 11.391788000"
expect "$F spoofed SYN shape" "$(t $F "$SP" tcp.hdr_len tcp.window_size_value ip.ttl | tr ';' '\n' | sort -u | paste -sd';' -)" "20 1024 63"
expect "$F SYN+ACKs to spoofed" "$(count $F "$SA")" 102
expect "$F SYN+ACKs per spoofed source" \
    "$(t $F "$SA" ip.dst | tr ';' '\n' | sort | uniq -c | awk '{print $1}' | sort -n | uniq -c | tr -s ' ' | paste -sd';' -)" \
    " 18 3; 8 6"
expect "$F first SYN+ACKs (17 then 9)" \
    "$(t $F "$SA && !tcp.analysis.retransmission" frame.number | tr ';' ' ')" \
    "$(echo {12..44..2} {1156..1172..2})"
expect "$F frame 45 is the first unanswered spoofed SYN" "$(t $F 'frame.number==45' ip.src tcp.flags)" "198.18.16.70 0x0002"
expect "$F frames 1172-1173: last answer of the 2nd batch, next SYN dropped" \
    "$(t $F 'frame.number>=1172 && frame.number<=1174' ip.src ip.dst tcp.flags)" \
    "203.0.113.10 198.19.208.233 0x0012;198.19.234.150 203.0.113.10 0x0002;198.18.192.41 203.0.113.10 0x0002"
expect "$F last frames: 6th SYN+ACKs of the 8 long-lived sources" "$(t $F 'frame.number>=1628' tcp.flags | tr ';' '\n' | sort | uniq -c | tr -s ' ')" " 8 0x0012"
expect "$F client SYNs" "$(t $F 'ip.src==198.51.100.20 && tcp.flags==0x002' frame.number tcp.srcport)" \
    "1 41001;184 41002;351 41002;508 41002;678 41002;786 41003;939 41003;1093 41003;1265 41003;1425 41004;1578 41004;1607 41004;1608 41004;1609 41005;1610 41005"
expect "$F SYN+ACKs to the client" "$(t $F 'ip.dst==198.51.100.20 && tcp.flags==0x012' frame.number frame.time_relative)" \
    "2 0.000035000;1611 16.391375000"
expect "$F truncated frames (snaplen 96)" "$(t $F 'frame.len > frame.cap_len' frame.number)" "6;1615"
expect "$F flood rate per second" "$(t $F "$SP" frame.time_relative | tr ';' '\n' | cut -d. -f1 | uniq -c | tr -s ' ' | paste -sd';' -)" \
    " 91 1; 150 2; 150 3; 150 4; 150 5; 150 6; 150 7; 150 8; 150 9; 150 10; 59 11"
expect "$F no RST/ARP/ICMP" "$(count $F 'tcp.flags.reset==1 || arp || icmp')" 0

# --- ethertype-fe68-stp.pcap ---------------------------------------------------
F=ethertype-fe68-stp.pcap
expect "$F frames" "$(count $F frame)" 83
expect "$F 0xfe68 frames" "$(t $F 'eth.type==0xfe68' frame.number | tr ';' ' ')" \
    "1 7 10 14 17 21 26 30 33 37 40 44 47 51 54 58 61 65 68 72 75 77 78 80 81"
expect "$F 0xfe68 src/dst/len/payload" \
    "$(t $F 'eth.type==0xfe68' eth.src eth.dst frame.len data.data | tr ';' '\n' | sort -u)" \
    "02:00:00:03:00:fe 01:80:c2:ef:03:fe 64 000100320a0b0c0d0e0f$(printf '00%.0s' $(seq 40))"
expect "$F 0xfe68 last frame time" "$(t $F 'frame.number==81' frame.time_relative)" "24.000114000"
expect "$F BPDUs" "$(t $F stp frame.number | tr ';' ' ')" "6 13 20 29 36 43 50 57 64 69 76 79 82 83"
expect "$F BPDU contents" \
    "$(t $F stp eth.src stp.type stp.flags stp.root.prio stp.root.hw stp.root.cost stp.bridge.hw stp.port stp.msg_age stp.max_age stp.hello stp.forward | tr ';' '\n' | sort -u)" \
    "02:00:00:03:01:0a 0x00 0x00 32768 02:00:00:03:00:01 0 02:00:00:03:00:01 0x8002 0 6 2 4"
expect "$F BPDU first/last time" "$(t $F 'frame.number in {6,83}' frame.time_relative)" "0.508822000;26.492838000"
expect "$F ICMP echo req/reply" "$(count $F 'icmp.type==8') $(count $F 'icmp.type==0')" "20 20"
expect "$F ARP" "$(t $F arp frame.number | tr ';' ' ')" "2 3 22 23"

# --- asymmetric-oneway.pcap -----------------------------------------------------
F=asymmetric-oneway.pcap
expect "$F frames" "$(count $F frame)" 37
expect "$F format" "$(capinfos -t "$CAP/$F" 2>/dev/null | awk -F': *' '/File type/{print $2}')" "Wireshark/tcpdump/... - nanosecond pcap"
expect "$F IP directions" "$(t $F 'ip && !icmp.type==3' ip.src ip.dst | tr ';' '\n' | sort | uniq -c | tr -s ' ' | paste -sd';' -)" \
    " 32 10.4.1.2 10.4.2.2"
expect "$F frames from the server" "$(count $F 'ip.src==10.4.2.2 && !icmp')" 0
expect "$F SYN+ACKs" "$(count $F 'tcp.flags.syn==1 && tcp.flags.ack==1')" 0
expect "$F TCP SYNs" "$(t $F 'tcp.flags==0x002' frame.number tcp.srcport tcp.dstport)" \
    "6 40001 8080;11 40002 8080;16 40003 8080;21 40004 8080;26 40005 8080;31 40006 8081"
expect "$F FINs" "$(t $F 'tcp.flags.fin==1' frame.number | tr ';' ' ')" "10 15 20 25"
expect "$F RST" "$(t $F 'tcp.flags.reset==1' frame.number tcp.flags)" "30 0x0014"
expect "$F acks of unseen data (session 1)" "$(t $F 'frame.number in {7,9,10}' tcp.ack_raw)" "3570560594;3570563594;3570563595"
expect "$F session 5 acks 3000 bytes then RSTs" "$(t $F 'tcp.srcport==40005 && tcp.flags.ack==1 && tcp.len==0' frame.number tcp.flags tcp.ack_raw)" \
    "27 0x0010 514441411;29 0x0010 514444411;30 0x0014 514444412"
expect "$F ICMP errors" "$(t $F 'icmp.type==3' frame.number icmp.code udp.srcport udp.dstport)" \
    "35 3 33434 9999;36 3 33434 9999;37 3 33434 9999"
expect "$F echo requests / replies" "$(count $F 'icmp.type==8') $(count $F 'icmp.type==0')" "3 0"
expect "$F UDP queries" "$(t $F 'udp.dstport==5300' frame.number | tr ';' ' ')" "32 33 34"

# --- arp-duplicate-ip.pcap ----------------------------------------------------
F=arp-duplicate-ip.pcap
expect "$F frames (ARP, ICMP)" "$(count $F frame) $(count $F arp) $(count $F icmp)" "37 23 14"
expect "$F replies claiming 10.5.0.10" \
    "$(t $F 'arp.opcode==2 && arp.src.proto_ipv4==10.5.0.10' frame.number arp.src.hw_mac)" \
    "2 02:00:00:05:00:0a;8 02:00:00:05:00:0a;10 02:00:00:05:00:0b;11 02:00:00:05:00:0a;19 02:00:00:05:00:0b;20 02:00:00:05:00:0a;24 02:00:00:05:00:0b;25 02:00:00:05:00:0a;27 02:00:00:05:00:0b;28 02:00:00:05:00:0a;32 02:00:00:05:00:0b;33 02:00:00:05:00:0a"
expect "$F requests from 10.5.0.10" "$(t $F 'arp.opcode==1 && arp.src.proto_ipv4==10.5.0.10' frame.number arp.src.hw_mac)" \
    "21 02:00:00:05:00:0a;29 02:00:00:05:00:0b"
expect "$F DAD probe" "$(t $F 'arp.src.proto_ipv4==0.0.0.0' frame.number arp.src.hw_mac arp.dst.proto_ipv4)" \
    "7 02:00:00:05:00:0b 10.5.0.10"
expect "$F asker requests for 10.5.0.10" "$(t $F 'arp.opcode==1 && arp.dst.proto_ipv4==10.5.0.10 && arp.src.proto_ipv4==10.5.0.20' frame.number | tr ';' ' ')" \
    "1 9 18 23 26 31"
expect "$F echo replies by MAC" "$(t $F 'icmp.type==0' frame.number eth.src | tr ';' '\n' | awk '{print $2}' | uniq -c | tr -s ' ' | paste -sd';' -)" \
    " 2 02:00:00:05:00:0a; 5 02:00:00:05:00:0b"

# --- arp-ip-moves.pcapng -------------------------------------------------------
F=arp-ip-moves.pcapng
expect "$F frames (ARP, echo req, echo rep)" "$(count $F frame) $(count $F arp) $(count $F 'icmp.type==8') $(count $F 'icmp.type==0')" "109 21 44 44"
expect "$F gratuitous ARPs" "$(t $F 'arp.isgratuitous==1' frame.number arp.opcode eth.src)" \
    "23 1 02:00:00:05:01:02;32 1 02:00:00:05:01:02;37 1 02:00:00:05:01:02;56 2 02:00:00:05:01:01;61 2 02:00:00:05:01:01;66 2 02:00:00:05:01:01;83 1 02:00:00:05:01:02;88 1 02:00:00:05:01:02;93 1 02:00:00:05:01:02"
expect "$F VIP sender MACs in order" "$(t $F 'arp.src.proto_ipv4==10.5.1.100' frame.number arp.src.hw_mac | tr ';' '\n' | awk '{print $1":"substr($2,16)}' | paste -sd' ' -)" \
    "2:01 23:02 27:02 32:02 37:02 51:02 56:01 61:01 66:01 80:01 83:02 88:02 93:02 107:02"
expect "$F echo replies by MAC (runs)" "$(t $F 'icmp.type==0' icmp.seq eth.src | tr ';' '\n' | awk '{if($2!=p){if(p!="")print s"-"l" "p; s=$1; p=$2} l=$1} END{print s"-"l" "p}' | paste -sd';' -)" \
    "1-10 02:00:00:05:01:01;11-22 02:00:00:05:01:02;23-33 02:00:00:05:01:01;34-44 02:00:00:05:01:02"
expect "$F format" "$(capinfos -t "$CAP/$F" 2>/dev/null | awk -F': *' '/File type/{print $2}')" "Wireshark/... - pcapng"

# --- conntrack-verdicts.pcap + .nflog.pcap + .kernel.tsv ------------------------
F=conntrack-verdicts.pcap
N=conntrack-verdicts.nflog.pcap
expect "$F frames, IPv4 packets; $N frames" "$(count $F frame) $(count $F ip) $(count $N frame)" "641 641 641"
expect "$N verdicts" "$(tshark -r "$CAP/$N" -T fields -e nflog.prefix 2>/dev/null | sort | uniq -c | awk '{print $2" "$1}' | paste -sd' ' -)" \
    "ESTABLISHED 605 INVALID 10 NEW 23 RELATED 3"
expect "$F hand-made segments with seq 16909060 or 2164392708 (frame, sport, flags)" "$(t $F 'tcp.seq_raw==16909060 || tcp.seq_raw==2164392708' frame.number tcp.srcport tcp.flags)" "70 41006 0x0004;87 41007 0x0004;601 41012 0x0018;603 41012 0x0018"
expect "$F zero windows from the client" "$(t $F 'tcp.srcport==41009 && tcp.window_size_value==0' frame.number)" "486;488;491"
expect "$F retransmissions in the download" "$(t $F 'tcp.port==41008 && tcp.analysis.retransmission' frame.number)" "170;243;367"
expect "conntrack-verdicts.kernel-table.txt entries" "$(grep -vc '^#' "$CAP/conntrack-verdicts.kernel-table.txt")" 11
expect "$F rejections (frame, flags, ICMP type)" "$(t $F 'tcp.port==41013 || tcp.port==41014' frame.number tcp.flags icmp.type)" "47 0x0002 ;48 0x0002 3;49 0x0002 ;50 0x0014 "
expect "$F largest frame" "$(tshark -r "$CAP/$F" -T fields -e frame.len 2>/dev/null | sort -n | tail -1)" 1514
expect "conntrack-verdicts.kernel.tsv is nflog-verdicts.sh of $N" \
    "$(grep -v '^#' "$CAP/conntrack-verdicts.kernel.tsv" | md5sum)" \
    "$(bash "$(dirname "${BASH_SOURCE[0]}")/nflog-verdicts.sh" "$CAP/$N" | md5sum)"

# --- conntrack-log.nflog.pcap ---------------------------------------------------
N=conntrack-log.nflog.pcap
expect "$N records per group" "$(tshark -r "$CAP/$N" -T fields -e nflog.res_id 2>/dev/null | sort | uniq -c | awk '{print $2" "$1}' | paste -sd' ' -)" "0 12 6 572"
expect "$N verdicts (group 6)" "$(tshark -r "$CAP/$N" -Y 'nflog.res_id==6' -T fields -e nflog.prefix 2>/dev/null | sort | uniq -c | awk '{print $2" "$1}' | paste -sd' ' -)" \
    "ESTABLISHED 534 INVALID 10 NEW 25 RELATED 3"
expect "$N conntrack messages (group 0: frame, sport, flags)" "$(t $N 'nflog.res_id==0' frame.number tcp.srcport tcp.flags)" \
    "54 8093 0x0012;55 41015 0x0002;56 8093 0x0012;66 41006 0x0004;533 41012 0x0018;534 41012 0x0018;565 41020 0x0011;566 8080 0x0004;567 41021 0x0004;573 41023 0x0012;574 8080 0x0004;580 41040 0x0010"
expect "$N conntrack messages, numbers left out" "$(tshark -r "$CAP/$N" -Y 'nflog.res_id==0' -T fields -e nflog.prefix 2>/dev/null | sed -E 's/[0-9]{4,}/N/g; s/ +$//' | sort | uniq -c | awk '{$1=$1; print}' | paste -sd';' -)" \
    "1 nf_ct_proto_6: SEQ is over upper bound N (over the window of the receiver);1 nf_ct_proto_6: SEQ is under lower bound N (already ACKed data retransmitted);5 nf_ct_proto_6: invalid new;1 nf_ct_proto_6: invalid rst;1 nf_ct_proto_6: packet (index 0) in dir 0 ignored, state SYN_RECV;1 nf_ct_proto_6: packet (index 1) in dir 1 ignored, state ESTABLISHED;1 nf_ct_proto_6: packet (index 1) in dir 1 ignored, state SYN_RECV;1 nf_ct_proto_6: packet (index 3) in dir 0 invalid, state SYN_SENT"

echo "$((n - fail))/$n checks passed"
((fail == 0))
