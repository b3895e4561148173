/**
 * arp.duplicate_ip: two (or more) MACs answer ARP for one IP at the same time (within
 * `arp-duplicate-window`, without a gratuitous ARP announcing a takeover): an IP conflict.
 * High when one request got answers from two MACs (both stations are live right now), medium otherwise.
 */
import { formatIpv4, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { makeFinding } from './finding.js';
import { ArpTableLink, describeClaim, MAX_IPS_OPTION, OPT_WINDOW, WINDOW_OPTION, type ArpBinding, type ArpPartial, type ClaimItem } from './arp-table.js';
import { mergeEvidence, plural, roundTo, vlanSuffix } from './link-util.js';
import { type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'arp.duplicate_ip';

function finding(b: ArpBinding, window: number, endSec: number, endNs: number): Finding {
  const ipText = formatIpv4(b.ip);
  const holds = [...b.holds].sort((x, y) => x.span.firstFrame - y.span.firstFrame);
  const claims = holds.reduce((n, h) => n + h.claims, 0);
  const macs = holds.map((h) => `${formatMac(h.mac)} (${plural(h.claims, 'ARP frame')})`).join(', ');
  const extra: string[] = [`${plural(b.conflicts, 'conflicting change')} within ${window} s`];
  if (b.doubleAnswers > 0) extra.push(`${plural(b.doubleAnswers, 'request')} answered by two MACs`);
  if (b.probesAnswered > 0) extra.push(`${plural(b.probesAnswered, 'address probe')} answered "in use"`);
  const describe = (items: readonly ClaimItem[]) => items.map((it) => describeClaim(it, ipText));
  // The most telling description of a frame wins: second answer, probe answered, conflict, plain claim.
  const evidence = mergeEvidence(
    describe((b.doubleSample?.items ?? []) as ClaimItem[]),
    describe((b.probeSample?.items ?? []) as ClaimItem[]),
    describe((b.conflictSample?.items ?? []) as ClaimItem[]),
    ...holds.map((h) => describe(h.sample.items as ClaimItem[])),
  );
  return makeFinding({
    id: ID,
    severity: b.doubleAnswers > 0 ? 'high' : 'medium',
    subject: `${ipText}${vlanSuffix(b.vlan)}`,
    summary: `${ipText} claimed by ${holds.length} MACs at the same time: ${macs}; ${extra.join(', ')}`,
    count: claims,
    first: b.span.first(),
    last: b.span.last(),
    evidence,
    evidenceTotal: claims,
    explanation:
      `Two stations answer ARP for ${ipText} at the same time. Every host that talks to this address keeps whichever answer reached it last, so its traffic goes to one machine or the other and switches with each ARP exchange: connections hang, are reset or reach the wrong server. ` +
      'Causes: two hosts configured with the same static address (or a static address inside the DHCP pool), a cloned VM that kept its address, a router doing proxy ARP for an address that also lives on the segment, both members of a failover pair (VRRP/keepalived, Pacemaker, bonding) active at once (split brain), ' +
      'a Linux host with two interfaces on the segment answering on both ("ARP flux"), or LVS-DR real servers answering for the virtual IP they carry on lo (only the director may). ' +
      'A planned move, where the new owner announces itself with a gratuitous ARP and the old one falls silent, is reported as arp.changed_mac or arp.flip_flop instead.',
    remediation:
      `Confirm and find both machines: \`arping -I <if> -c 3 ${ipText}\` (answers from two MACs = conflict), \`arping -D -I <if> -c 2 ${ipText}\` (duplicate address detection: exit status 1 means the address is in use), \`ip neigh show ${ipText}\`; find their switch ports with \`show mac address-table address <mac>\` or \`bridge fdb show | grep -i <mac>\`. ` +
      'Then give one of them another address, fix the DHCP reservation or take the static address out of the pool, or repair the failover pair so that only one node holds the address (keepalived: both nodes must see each other\'s VRRP adverts - firewall, multicast, a clashing virtual_router_id). ' +
      'If both MACs belong to one Linux host, or to LVS-DR real servers, stop them answering for addresses of other interfaces: `sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`. ' +
      `Afterwards clear stale caches: \`ip neigh flush to ${ipText}\` on the hosts and routers that talk to it.`,
    details: {
      ip: ipText,
      vlan: b.vlan,
      windowSeconds: window,
      conflicts: b.conflicts,
      requestsAnsweredTwice: b.doubleAnswers,
      probesAnswered: b.probesAnswered,
      macs: holds.map((h) => ({
        mac: formatMac(h.mac),
        claims: h.claims,
        gratuitous: h.gratuitous,
        firstFrame: h.span.firstFrame,
        lastFrame: h.span.lastFrame,
        heldSeconds: roundTo(b.heldSeconds(h, endSec, endNs), 6),
      })),
    },
  });
}

export const arpDuplicateIpDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [WINDOW_OPTION, MAX_IPS_OPTION],
  createLink(options: OptionValues): LinkDetector {
    return new ArpTableLink(options, (b) => b.conflicts > 0);
  },
  reduce(partials, ctx): Finding[] {
    const window = ctx.options[OPT_WINDOW] ?? WINDOW_OPTION.default;
    const endSec = ctx.endSec ?? 0;
    return (partials as ArpPartial[]).flatMap((p) => p.bindings).map((b) => finding(b, window, endSec, ctx.endNs));
  },
};
