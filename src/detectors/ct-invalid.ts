/**
 * ct.invalid — the packets Linux conntrack would classify INVALID, as a box that tracks this
 * traffic would see it: "N packets would be dropped by `-m conntrack --ctstate INVALID -j DROP`".
 * Grouped by the service they belong to (the flow's server ip:port, or the destination of packets
 * that belong to no flow), with the reason conntrack would give.
 */
import { Kind, R } from '../flows/record.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { INVALID_REASON_NAMES, InvalidReason, Verdict } from '../flows/verdict.js';
import { formatIpv4 } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { addCounts, EvidenceSample, makeFinding, widenRange, type EvidenceItem } from './finding.js';
import { EndpointMap, endpointKey, endpointName, serverEnd, type Endpoint } from './flow-endpoints.js';
import { skipItem, wouldKeep } from './link-util.js';
import type { Detector, ReduceContext } from './types.js';

const ID = 'ct.invalid';
const MAX_FINDINGS = 10;
/** Added to the VLAN word (24 bits) of a destination that belongs to no flow. */
const ORPHAN = 0x1000000;

/** What kind of packet it was, for the breakdown. */
export function packetKind(r: Uint32Array, base: number): string {
  const kind = r[base + R.INFO] & 0xf;
  if (kind === Kind.ICMP_ERROR) return 'ICMP error';
  if (kind === Kind.ICMP_QUERY) return 'ICMP query';
  if (kind === Kind.ICMP_OTHER) return 'ICMP other';
  if (kind === Kind.UDP) return 'UDP';
  if (kind !== Kind.TCP) return 'IP';
  const f = r[base + R.FLAGS_WIN] & 0xfff;
  if (f & 0x04) return 'RST';
  if (f & 0x02) return f & 0x10 ? 'SYN+ACK' : 'SYN';
  if (f & 0x01) return 'FIN';
  if (r[base + R.PAYLOAD] > 0) return 'data';
  if (f & 0x10) return 'ACK';
  return 'no flags';
}

interface Group {
  key: string;
  service: Endpoint;
  /** A destination with no flow (orphan ICMP errors and the like): named by its address only. */
  orphan: boolean;
  packets: number;
  /** INVALID packets of flows whose entry a RST had deleted before any reply (conntrack's REJ rule). */
  afterReject: number;
  byReason: Record<string, number>;
  byKind: Record<string, number>;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  sample: { items: EvidenceItem[]; total: number };
}

interface Partial {
  groups: Group[];
}

class Observer implements ShardObserver {
  readonly packets = 'invalid' as const;
  /** Groups by service; an orphan destination's VLAN word carries ORPHAN (numeric keys: no string per packet). */
  private readonly groups = new EndpointMap<Group>();
  private readonly samples = new EndpointMap<EvidenceSample>();

  onPacket(tr: FlowTracker, s: number, r: Uint32Array, base: number, _canonDir: number, verdict: number): void {
    if (verdict !== Verdict.INVALID) return;
    const orphan = s < 0;
    const service: Endpoint = orphan ? { ip: r[base + R.IP_DST], port: 0, vlan: r[base + R.VLAN] & 0xffffff } : serverEnd(tr, s);
    const scope = service.vlan + (orphan ? ORPHAN : 0);
    let g = this.groups.get(scope, service.ip, service.port);
    let sample = this.samples.get(scope, service.ip, service.port);
    const sec = r[base + R.TS_SEC];
    const ns = r[base + R.TS_NS];
    if (!g || !sample) {
      const key = (orphan ? 'o|' : 'f|') + endpointKey(service);
      g = { key, service, orphan, packets: 0, afterReject: 0, byReason: {}, byKind: {}, firstSec: sec, firstNs: ns, lastSec: sec, lastNs: ns, sample: { items: [], total: 0 } };
      sample = new EvidenceSample();
      this.groups.set(scope, service.ip, service.port, g);
      this.samples.set(scope, service.ip, service.port, sample);
    }
    g.packets++;
    if (!orphan && tr.invalidReason === InvalidReason.NO_ENTRY && tr.hadRejectedEntry(s)) g.afterReject++;
    const reason = INVALID_REASON_NAMES[tr.invalidReason] ?? 'unknown';
    g.byReason[reason] = (g.byReason[reason] ?? 0) + 1;
    const kind = packetKind(r, base);
    g.byKind[kind] = (g.byKind[kind] ?? 0) + 1;
    widenRange(g, sec, ns, sec, ns);
    const frame = r[base + R.FRAME];
    // The item (and its text) is built only when the sample keeps it.
    if (!wouldKeep(sample, frame)) {
      skipItem(sample);
      return;
    }
    const isIp = (r[base + R.INFO] & 0xf) !== Kind.OTHER_IP;
    const ports = r[base + R.KEY_PORTS];
    const kindIsL4 = (r[base + R.INFO] & 0xf) === Kind.TCP || (r[base + R.INFO] & 0xf) === Kind.UDP;
    sample.add({
      frame,
      tsSec: sec,
      tsNs: ns,
      what: `${kind}: ${reason}`,
      srcIp: r[base + R.IP_SRC],
      dstIp: r[base + R.IP_DST],
      ...(isIp && kindIsL4 ? { srcPort: ports & 0xffff, dstPort: ports >>> 16 } : {}),
    });
  }

  onFlowEnd(): void {}

  partial(): Partial {
    const groups = this.groups.entries().map(([e, g]) => {
      g.sample = this.samples.get(e.vlan, e.ip, e.port)!.toJSON();
      return g;
    });
    return { groups };
  }
}

function reduce(partials: readonly unknown[], _ctx: ReduceContext): Finding[] {
  const merged = new Map<string, Group>();
  for (const p of partials as Partial[]) {
    for (const g of p.groups) {
      const m = merged.get(g.key);
      if (!m) {
        merged.set(g.key, structuredClone(g));
        continue;
      }
      m.packets += g.packets;
      m.afterReject += g.afterReject;
      addCounts(m.byReason, g.byReason);
      addCounts(m.byKind, g.byKind);
      widenRange(m, g.firstSec, g.firstNs, g.lastSec, g.lastNs);
      const s = new EvidenceSample();
      s.merge(m.sample);
      s.merge(g.sample);
      m.sample = s.toJSON();
    }
  }
  // The busiest services get a finding each; the rest are folded into one, so counts still add up.
  const groups = [...merged.values()].sort((a, b) => b.packets - a.packets || a.key.localeCompare(b.key));
  const shown = groups.slice(0, MAX_FINDINGS);
  const rest = groups.slice(MAX_FINDINGS);
  if (rest.length > 0) {
    const other: Group = { key: 'other', service: { ip: 0, port: 0, vlan: 0 }, orphan: true, packets: 0, afterReject: 0, byReason: {}, byKind: {}, firstSec: Infinity, firstNs: 0, lastSec: 0, lastNs: 0, sample: { items: [], total: 0 } };
    const s = new EvidenceSample();
    for (const g of rest) {
      other.packets += g.packets;
      other.afterReject += g.afterReject;
      addCounts(other.byReason, g.byReason);
      addCounts(other.byKind, g.byKind);
      widenRange(other, g.firstSec, g.firstNs, g.lastSec, g.lastNs);
      s.merge(g.sample);
    }
    other.sample = s.toJSON();
    shown.push(other);
  }
  return shown.map((g) => toFinding(g, rest.length));
}

function toFinding(g: Group, restCount: number): Finding {
  const subject = g.key === 'other' ? `${restCount} other destination(s)` : g.orphan ? `${formatIpv4(g.service.ip)} (no tracked flow)` : endpointName(g.service);
  const kinds = Object.entries(g.byKind).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const reasons = Object.entries(g.byReason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const teardown = (g.byKind['FIN'] ?? 0) + (g.byKind['RST'] ?? 0) + (g.byKind['ICMP error'] ?? 0);
  const synAcks = g.byKind['SYN+ACK'] ?? 0;
  const summary = `${g.packets} packet(s) would be dropped by \`-m conntrack --ctstate INVALID -j DROP\`: ${kinds.map(([k, n]) => `${n} ${k}`).join(', ')}`;
  const why: string[] = [];
  const r = (reason: number): number => g.byReason[INVALID_REASON_NAMES[reason]] ?? 0;
  if (r(InvalidReason.NO_ENTRY) > 0) why.push(`${r(InvalidReason.NO_ENTRY)} had no conntrack entry and cannot create one (a SYN+ACK, FIN or RST whose connection conntrack never saw start — typical when the box sees only one direction, or after a reboot or a table flush)`);
  if (r(InvalidReason.BAD_STATE) > 0) why.push(`${r(InvalidReason.BAD_STATE)} came in a state where TCP does not allow them (e.g. the client's ACK while conntrack still waits for the server's SYN+ACK: the SYN+ACK took another path)`);
  if (r(InvalidReason.OUT_OF_WINDOW) > 0) why.push(`${r(InvalidReason.OUT_OF_WINDOW)} were outside the TCP window conntrack tracks (lost packets seen by the endpoints but not here, window scaling seen only one way, or middlebox rewriting)`);
  if (r(InvalidReason.RST_SEQ) > 0) why.push(`${r(InvalidReason.RST_SEQ)} were RSTs with a sequence number below what the peer had acknowledged`);
  if (r(InvalidReason.BAD_TCP_FLAGS) > 0) why.push(`${r(InvalidReason.BAD_TCP_FLAGS)} had a flag combination no stack sends (scans)`);
  if (r(InvalidReason.ICMP_NO_ENTRY) > 0) why.push(`${r(InvalidReason.ICMP_NO_ENTRY)} were ICMP errors about a connection conntrack has no entry for`);
  if (r(InvalidReason.ICMP_REPLY_NO_REQUEST) > 0) why.push(`${r(InvalidReason.ICMP_REPLY_NO_REQUEST)} were ICMP replies without a request`);
  if (r(InvalidReason.ICMP_UNTRACKABLE) > 0) why.push(`${r(InvalidReason.ICMP_UNTRACKABLE)} were ICMP messages conntrack cannot track`);
  if (r(InvalidReason.UDP_BAD_LENGTH) > 0) why.push(`${r(InvalidReason.UDP_BAD_LENGTH)} were UDP datagrams with an impossible length`);
  const explanation =
    'Conntrack would attach no connection to these packets, so a rule set that drops INVALID (ufw, Proxmox, most distributions) silently drops them: ' +
    `${why.join('; ')}. ` +
    (g.afterReject > 0
      ? `${g.afterReject} of them came after a RST answered the SYN before any other reply: conntrack deletes the entry at such a RST (it reads it as a refused connection), so the server's late SYN+ACK and the client's RST find none — see tcp.conflicting_responses if the SYN was answered twice. `
      : '') +
    (synAcks > 0 ? `${synAcks} of them are SYN+ACKs: a connection whose SYN+ACK is dropped never opens. ` : '') +
    (teardown > 0
      ? `${teardown} of them are FINs, RSTs or ICMP errors: connections then never close cleanly (sockets linger in FIN_WAIT/LAST_ACK) and Path MTU discovery breaks. `
      : '') +
    'With an LVS-DR director or any asymmetric routing, conntrack never sees the return path, so entries never become ESTABLISHED and exactly these packets are lost (incident 4).';
  const remediation =
    'Accept the packets the one-way box cannot judge before the INVALID drop, as incident 4 does: ' +
    '`iptables -I INPUT -p tcp --tcp-flags SYN,ACK,FIN,RST,URG ACK,FIN -m conntrack --ctstate INVALID -j ACCEPT; ' +
    'iptables -I INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -m conntrack --ctstate INVALID -j ACCEPT; ' +
    'iptables -I INPUT -p icmp --icmp-type destination-unreachable -j ACCEPT`; ' +
    'or do not track this traffic at all (`iptables -t raw -A PREROUTING -d <VIP> -p tcp --dport <port> -j NOTRACK`); ' +
    '`sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1` only helps with out-of-window packets; and make routing symmetric where you can.';
  return makeFinding({
    id: ID,
    // Dropped FINs, RSTs and ICMP errors break connections that were working. A SYN+ACK without
    // its SYN is mostly a capture that began mid-handshake; when a path really sees only answers,
    // flow.one_way reports it (medium) with the connections.
    severity: teardown > 0 ? 'medium' : 'low',
    subject,
    summary,
    count: g.packets,
    first: { sec: g.firstSec, ns: g.firstNs },
    last: { sec: g.lastSec, ns: g.lastNs },
    evidence: g.sample.items,
    evidenceTotal: g.sample.total,
    explanation,
    remediation,
    details: { byKind: Object.fromEntries(kinds), byReason: Object.fromEntries(reasons) },
  });
}

export const ctInvalid: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: [],
  createFlow: () => new Observer(),
  reduce,
};

