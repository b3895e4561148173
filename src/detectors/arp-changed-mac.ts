/**
 * arp.changed_mac (arpwatch "changed ethernet address"): an IP address is now claimed by a MAC
 * that never held it before, and not as an IP conflict (the old MAC had been silent for more
 * than `arp-duplicate-window`, or the new one announced the takeover with a gratuitous ARP).
 */
import type { Finding } from '../report/types.js';
import { makeFinding } from './finding.js';
import { ArpTableLink, changeDetails, changeReport, ChangeKind, MAX_IPS_OPTION, WINDOW_OPTION, type ArpPartial } from './arp-table.js';
import { plural, vlanSuffix } from './link-util.js';
import { type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'arp.changed_mac';

export const arpChangedMacDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [WINDOW_OPTION, MAX_IPS_OPTION],
  createLink(options: OptionValues): LinkDetector {
    return new ArpTableLink(options, (b) => b.changed > 0);
  },
  reduce(partials, ctx): Finding[] {
    const endSec = ctx.endSec ?? 0;
    return (partials as ArpPartial[])
      .flatMap((p) => p.bindings)
      .map((b) => {
        const r = changeReport(b, ChangeKind.CHANGED, endSec, ctx.endNs);
        const unannounced = r.changes - r.announced;
        return makeFinding({
          id: ID,
          severity: 'low',
          subject: `${r.ipText}${vlanSuffix(b.vlan)}`,
          summary:
            `${r.ipText} moved to a new MAC ${plural(r.changes, 'time')}: ${r.moves}` +
            `; ${r.announced} announced by gratuitous ARP, ${unannounced} not; time held: ${r.heldText}`,
          count: r.changes,
          first: r.span.first(),
          last: r.span.last(),
          evidence: r.items,
          evidenceTotal: r.changes,
          explanation:
            `arpwatch's "changed ethernet address": ARP now says ${r.ipText} is at a MAC that never had it before. ` +
            'Expected after a failover (keepalived/VRRP or Pacemaker moving a virtual IP, a bond switching to a NIC with its own MAC), a VM re-created or migrated with a new MAC, or a replaced NIC or host; the new owner then announces itself with a gratuitous ARP so that every cache updates at once. ' +
            'A change that is not announced leaves hosts and routers sending to the old MAC until their entry expires (tens of seconds on Linux, up to 4 hours on some routers): a window of lost traffic. ' +
            'If nobody moved this address on purpose, another device took it (a misconfigured host, a DHCP lease handed out twice) or it is being spoofed (arpspoof, ettercap: then the gateway\'s address is the usual target).',
          remediation:
            'If the move was planned: nothing to fix; make sure the new owner announces it (keepalived sends gratuitous ARPs on takeover - `garp_master_delay`, `garp_master_repeat`; by hand `arping -U -c 3 -I <if> <ip>`; Linux `sysctl -w net.ipv4.conf.<if>.arp_notify=1` announces on link-up/address change). ' +
            `If not: find the new MAC's port (\`show mac address-table address <mac>\`, \`bridge fdb show | grep -i <mac>\`) and check that host; against spoofing enable DHCP snooping with dynamic ARP inspection on the switch, or pin critical entries (\`ip neigh replace ${r.ipText} lladdr <mac> nud permanent dev <if>\`).`,
          details: { ip: r.ipText, vlan: b.vlan, changes: r.changes, announced: r.announced, moves: changeDetails(b, ChangeKind.CHANGED), macs: r.holds },
        });
      });
  },
};
