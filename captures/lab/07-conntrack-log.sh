#!/usr/bin/env bash
# 07-conntrack-log.sh - the traffic of 06-conntrack-verdicts.sh again, with the
# router's conntrack logging each TCP packet it calls INVALID or ignores, and
# why (nf_conntrack_log_invalid through nfnetlink_log, NFLOG group 0), next to
# its verdicts (group 6), in one NFLOG capture: captures/conntrack-log.nflog.pcap.
# test/flows/kernel-conntrack-log.test.ts checks pcapscan's emulation against
# it packet by packet, IGNORE included (which a verdict does not show).
set -euo pipefail
CT_LAB_VARIANT=log exec bash "$(dirname "${BASH_SOURCE[0]}")/06-conntrack-verdicts.sh"
