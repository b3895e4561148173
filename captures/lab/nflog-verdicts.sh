#!/usr/bin/env bash
# nflog-verdicts.sh NFLOG_PCAP - the kernel's conntrack verdict of every packet
# an NFLOG capture holds (06-conntrack-verdicts.sh logs each packet with its
# --ctstate as the prefix), one tab-separated line per packet, in capture
# order, after a header line. tshark only; no root needed.
#
# Columns: verdict, ip_src, ip_dst, proto (number), sport, dport, tcp_flags,
# icmp_type, icmp_id, flow_from. For an ICMP error the addresses, protocol and
# ports are those of the datagram it quotes (conntrack attaches the error to
# that flow: flow_from = quoted); otherwise the packet's own (flow_from =
# packet). "-" stands for a field the packet does not have.
set -euo pipefail
command -v tshark >/dev/null || { echo "tshark missing (Debian package: tshark)" >&2; exit 1; }
(($# == 1)) || { echo "usage: $0 NFLOG_PCAP" >&2; exit 2; }

printf 'verdict\tip_src\tip_dst\tproto\tsport\tdport\ttcp_flags\ticmp_type\ticmp_id\tflow_from\n'
# -E occurrence=a: every occurrence, comma-separated; tshark lists the outer
# header's field first, then the quoted one's.
tshark -r "$1" -T fields -E separator=/t -E occurrence=a -E aggregator=, \
    -e nflog.prefix -e ip.src -e ip.dst -e ip.proto -e tcp.srcport -e tcp.dstport \
    -e udp.srcport -e udp.dstport -e tcp.flags -e icmp.type -e icmp.ident 2>/dev/null |
    awk -F'\t' -v OFS='\t' '
    function first(v) { split(v, a, ","); return a[1] }
    function last(v,   n) { n = split(v, a, ","); return a[n] }
    function dash(v) { return v == "" ? "-" : v }
    {
        itype = first($10)
        # ICMP errors: destination unreachable, source quench, redirect, time exceeded, parameter problem.
        if (itype == "3" || itype == "4" || itype == "5" || itype == "11" || itype == "12") {
            src = last($2); dst = last($3); proto = last($4)
            if ($5 != "") { sp = last($5); dp = last($6) } else { sp = last($7); dp = last($8) }
            from = "quoted"
        } else {
            src = first($2); dst = first($3); proto = first($4)
            if ($5 != "") { sp = $5; dp = $6 } else { sp = $7; dp = $8 }
            from = "packet"
        }
        print $1, src, dst, proto, dash(sp), dash(dp), dash(first($9)), dash(itype), dash(first($11)), from
    }'
