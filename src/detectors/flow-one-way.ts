/**
 * flow.one_way — TCP connections whose return direction never appears although it exists: the
 * client acknowledges data and FINs the capture never shows. That is asymmetric routing (or an
 * LVS-DR director, which by design sees only the client's half): a stateful firewall there never
 * sees connections become ESTABLISHED (incident 4).
 */
import { IpProto } from '../decode/ipproto.js';
import { B, D, U } from '../flows/flow-table.js';
import { EventScratch } from '../flows/flow-view.js';
import { R } from '../flows/record.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { Verdict } from '../flows/verdict.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { packetKind } from './ct-invalid.js';
import { clientEnd, endpointKey, endpointName, serverEnd, type Endpoint } from './flow-endpoints.js';
import type { Detector, OptionSpec, ReduceContext } from './types.js';

const ID = 'flow.one_way';

const OPTIONS: readonly OptionSpec[] = [
  { key: 'one-way-min-packets', default: 2, min: 1, max: 1e9, integer: true, unit: 'packets', description: 'packets a TCP flow must have, all in one direction, to count as one-way' },
];

interface Group {
  key: string;
  server: Endpoint;
  flows: number;
  packets: number;
  invalid: number;
  invalidByKind: Record<string, number>;
  clients: number[];
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  sample: { items: EvidenceItem[]; total: number };
}

interface Partial {
  groups: Group[];
}

/** Per live flow with INVALID packets: how many of each kind, and their first frames for evidence. */
interface Pending {
  invalidByKind: Record<string, number>;
  invalid: number;
  items: EvidenceItem[];
}

class Observer implements ShardObserver {
  readonly packets = 'invalid' as const;
  private readonly pending = new Map<number, Pending>();
  private readonly groups = new Map<string, Group>();
  private readonly samples = new Map<string, EvidenceSample>();
  private readonly ev = new EventScratch();

  constructor(private readonly minPackets: number) {}

  /** Only INVALID packets of TCP flows are noted here; everything else is judged at the flow's end. */
  onPacket(tr: FlowTracker, s: number, r: Uint32Array, base: number, _canonDir: number, verdict: number): void {
    if (verdict !== Verdict.INVALID || s < 0 || tr.table.u8[s * B.STRIDE + B.PROTO] !== IpProto.TCP) return;
    let p = this.pending.get(s);
    if (!p) {
      p = { invalidByKind: {}, invalid: 0, items: [] };
      this.pending.set(s, p);
    }
    const kind = packetKind(r, base);
    p.invalid++;
    p.invalidByKind[kind] = (p.invalidByKind[kind] ?? 0) + 1;
    if (p.items.length < 4) {
      const ports = r[base + R.KEY_PORTS];
      p.items.push({
        frame: r[base + R.FRAME],
        tsSec: r[base + R.TS_SEC],
        tsNs: r[base + R.TS_NS],
        what: `${kind}, INVALID for conntrack: its SYN+ACK or data never passed here`,
        srcIp: r[base + R.IP_SRC],
        dstIp: r[base + R.IP_DST],
        srcPort: ports & 0xffff,
        dstPort: ports >>> 16,
      });
    }
  }

  onFlowEnd(tr: FlowTracker, s: number): void {
    const p = this.pending.get(s);
    if (p) this.pending.delete(s);
    const t = tr.table;
    if (t.u8[s * B.STRIDE + B.PROTO] !== IpProto.TCP) return;
    const d = s * D.STRIDE;
    const zo = t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 0 : 1;
    const packets = t.f64[d + D.PKTS + zo];
    if (t.f64[d + D.PKTS + 1 - zo] > 0 || packets < this.minPackets) return;
    // The originator acknowledged something (a pure ACK or data: history A or D): the other
    // direction exists, elsewhere. A lone SYN and its retransmissions is a dead server, not this.
    const history = tr.zeek.history(s);
    if (!/[AD]/.test(history)) return;
    const server = serverEnd(tr, s);
    const key = endpointKey(server);
    let g = this.groups.get(key);
    let sample = this.samples.get(key);
    const b = s * U.STRIDE;
    const fs = t.u32[b + U.FIRST_SEC];
    const fn = t.u32[b + U.FIRST_NS];
    const ls = t.u32[b + U.LAST_SEC];
    const ln = t.u32[b + U.LAST_NS];
    if (!g || !sample) {
      g = { key, server, flows: 0, packets: 0, invalid: 0, invalidByKind: {}, clients: [], firstSec: fs, firstNs: fn, lastSec: ls, lastNs: ln, sample: { items: [], total: 0 } };
      sample = new EvidenceSample(10);
      this.groups.set(key, g);
      this.samples.set(key, sample);
    }
    g.flows++;
    g.packets += packets;
    if (p) {
      g.invalid += p.invalid;
      for (const [k, n] of Object.entries(p.invalidByKind)) g.invalidByKind[k] = (g.invalidByKind[k] ?? 0) + n;
    }
    const client = clientEnd(tr, s);
    if (!g.clients.includes(client.ip) && g.clients.length < 16) g.clients.push(client.ip);
    if (fs < g.firstSec || (fs === g.firstSec && fn < g.firstNs)) [g.firstSec, g.firstNs] = [fs, fn];
    if (ls > g.lastSec || (ls === g.lastSec && ln > g.lastNs)) [g.lastSec, g.lastNs] = [ls, ln];
    // The first packet of the flow, then its first INVALID ones.
    const items: EvidenceItem[] = [];
    const n = this.ev.load(tr, s);
    if (n > 0) {
      items.push({
        frame: this.ev.frame[0]!,
        tsSec: this.ev.tsSec[0]!,
        tsNs: this.ev.tsNs[0]!,
        what: 'first handshake packet of a connection whose answers never pass here',
        srcIp: client.ip,
        srcPort: client.port,
        dstIp: server.ip,
        dstPort: server.port,
      });
    }
    if (p) items.push(...p.items);
    sample.addAll(items);
  }

  partial(): Partial {
    const groups = [...this.groups.values()].sort((a, b) => a.key.localeCompare(b.key));
    for (const g of groups) g.sample = this.samples.get(g.key)!.toJSON();
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
      m.flows += g.flows;
      m.packets += g.packets;
      m.invalid += g.invalid;
      for (const [k, n] of Object.entries(g.invalidByKind)) m.invalidByKind[k] = (m.invalidByKind[k] ?? 0) + n;
      for (const c of g.clients) if (!m.clients.includes(c) && m.clients.length < 16) m.clients.push(c);
      if (g.firstSec < m.firstSec || (g.firstSec === m.firstSec && g.firstNs < m.firstNs)) [m.firstSec, m.firstNs] = [g.firstSec, g.firstNs];
      if (g.lastSec > m.lastSec || (g.lastSec === m.lastSec && g.lastNs > m.lastNs)) [m.lastSec, m.lastNs] = [g.lastSec, g.lastNs];
      const s = new EvidenceSample(10);
      s.merge(m.sample);
      s.merge(g.sample);
      m.sample = s.toJSON();
    }
  }
  return [...merged.values()]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((g) => {
      const subject = endpointName(g.server);
      const inv = Object.entries(g.invalidByKind).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const summary =
        `${g.flows} TCP connection(s) to ${subject} seen in one direction only (${g.packets} packets, none back), although the clients acknowledge the server's answers; ` +
        `${g.invalid} packet(s) would be INVALID for conntrack here${inv.length ? ` (${inv.map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}`;
      const explanation =
        'The clients send ACKs, data and FINs that acknowledge a SYN+ACK and data this capture never shows, and nothing is retransmitted: the answers exist but take another path. ' +
        'That is asymmetric routing, or by design an LVS-DR load balancer, whose real servers answer clients directly. ' +
        'A stateful firewall (conntrack) on such a one-way path never sees the connections become ESTABLISHED: it lets the SYN (NEW) through, ' +
        'and with nf_conntrack_tcp_loose=1 it picks up later ACKs as NEW too, so traffic seems to work — but FINs, RSTs and ICMP errors find no established entry and are INVALID, so a rule `-m conntrack --ctstate INVALID -j DROP` drops them: ' +
        'connections linger, resets and Path MTU messages are lost (incident 4). In LVS-DR the director even keeps conntrack from storing the entries at all.';
      const remediation =
        'On the one-way box, accept what it cannot judge before dropping INVALID (incident 4): ' +
        '`-A INPUT -p tcp --tcp-flags SYN,ACK,FIN,RST,URG ACK,FIN -m conntrack --ctstate INVALID -j ACCEPT`, ' +
        '`-A INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -m conntrack --ctstate INVALID -j ACCEPT`, ' +
        '`-A INPUT -p icmp --icmp-type destination-unreachable -j ACCEPT` (then `--ctstate INVALID -j DROP`); ' +
        `or stop tracking that traffic (\`iptables -t raw -A PREROUTING -d ${subject.split(' ').pop()!.split(':')[0]} -p tcp --dport ${g.server.port} -j NOTRACK\`, nft \`notrack\`), ` +
        'leaving stateful filtering to the real servers; `sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1` helps only with window checks. Where asymmetry is not intended, fix the routing (return route, rp_filter).';
      // Seen one way is a fact of the capture point; it hurts when conntrack would drop packets there.
      return makeFinding({
        id: ID,
        severity: g.invalid > 0 ? 'medium' : 'low',
        subject,
        summary,
        count: g.flows,
        first: { sec: g.firstSec, ns: g.firstNs },
        last: { sec: g.lastSec, ns: g.lastNs },
        evidence: g.sample.items,
        evidenceTotal: g.sample.total,
        explanation,
        remediation,
        details: { flows: g.flows, packets: g.packets, invalidPackets: g.invalid, invalidByKind: Object.fromEntries(inv), clients: g.clients.length },
      });
    });
}

export const flowOneWay: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: OPTIONS,
  createFlow: (o) => new Observer(o['one-way-min-packets']!),
  reduce,
};
