/**
 * arp.flip_flop (arpwatch "flip flop"): an IP address goes back to a MAC that held it before
 * (and not as an IP conflict: see arp.duplicate_ip). Failover and fallback, or two nodes
 * taking the address from each other.
 */
import type { Finding } from '../report/types.js';
import { makeFinding } from './finding.js';
import { ArpTableLink, changeDetails, changeReport, ChangeKind, MAX_IPS_OPTION, WINDOW_OPTION, type ArpPartial } from './arp-table.js';
import { plural, vlanSuffix } from './link-util.js';
import { type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'arp.flip_flop';

const OPT_MEDIUM = 'arp-flip-flop-medium';

export const arpFlipFlopDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    WINDOW_OPTION,
    MAX_IPS_OPTION,
    {
      key: OPT_MEDIUM,
      description: 'flip flops of one address in the capture from which arp.flip_flop is medium rather than low (an address bouncing between two MACs)',
      default: 3,
      min: 1,
      max: 1e9,
      unit: 'flip flops',
      integer: true,
    },
  ],
  createLink(options: OptionValues): LinkDetector {
    return new ArpTableLink(options, (b) => b.flipFlops > 0);
  },
  reduce(partials, ctx): Finding[] {
    const endSec = ctx.endSec ?? 0;
    const medium = ctx.options[OPT_MEDIUM] ?? 3;
    return (partials as ArpPartial[])
      .flatMap((p) => p.bindings)
      .map((b) => {
        const r = changeReport(b, ChangeKind.FLIP_FLOP, endSec, ctx.endNs);
        const unannounced = r.changes - r.announced;
        return makeFinding({
          id: ID,
          severity: r.changes >= medium ? 'medium' : 'low',
          subject: `${r.ipText}${vlanSuffix(b.vlan)}`,
          summary:
            `${r.ipText} went back to a MAC it had before ${plural(r.changes, 'time')}: ${r.moves}` +
            `; ${r.announced} announced by gratuitous ARP, ${unannounced} not; ${b.holds.length} MACs, time held: ${r.heldText}`,
          count: r.changes,
          first: r.span.first(),
          last: r.span.last(),
          evidence: r.items,
          evidenceTotal: r.changes,
          explanation:
            `arpwatch's "flip flop": ARP says ${r.ipText} is back at a MAC that held it earlier. ` +
            'A failover followed by a fallback does this: keepalived/VRRP with preemption gives the virtual IP back to the preferred node when it returns, a bond returns to its primary NIC; each move announced by gratuitous ARPs is harmless (a few lost packets at most). ' +
            'Repeated flip flops mean the address bounces: two nodes that both think they are master (split brain: they do not hear each other\'s VRRP adverts), a flapping link under a bond, or a preempting node that keeps failing its health check. Every bounce re-points the caches of all hosts and drops or resets their connections. ' +
            'Two MACs answering at the same time without announcements is reported as arp.duplicate_ip instead.',
          remediation:
            'Check the failover pair: `journalctl -u keepalived` (state transitions and why), `tcpdump -ni <if> vrrp` on both nodes (each must see the other\'s adverts; open the firewall for protocol 112 / multicast 224.0.0.18, use distinct virtual_router_id values per segment), add `preempt_delay` or `nopreempt` to stop a flapping node taking the address back; for bonding `cat /proc/net/bonding/<bond>` (link failure counts) and the cabling. ' +
            'If these MACs are not a failover pair, treat it as an IP conflict: find both machines (`arping -I <if> -c 3 <ip>`, `show mac address-table address <mac>`) and give one another address.',
          details: { ip: r.ipText, vlan: b.vlan, flipFlops: r.changes, announced: r.announced, moves: changeDetails(b, ChangeKind.FLIP_FLOP), macs: r.holds },
        });
      });
  },
};
