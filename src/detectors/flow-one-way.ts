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
import { addCounts, EvidenceSample, makeFinding, widenRange, type EvidenceItem } from './finding.js';
import { packetKind } from './ct-invalid.js';
import { endpointKey, endpointName, sideEndpoint, type Endpoint } from './flow-endpoints.js';
import { formatIpv4 } from '../report/format.js';
import { EvFlag } from '../flows/evidence.js';
import type { Detector, OptionSpec, ReduceContext } from './types.js';

const ID = 'flow.one_way';

const OPTIONS: readonly OptionSpec[] = [
  { key: 'one-way-min-packets', default: 2, min: 1, max: 1e9, integer: true, unit: 'packets', description: 'packets a TCP flow must have, all in one direction, to count as one-way' },
];

interface Group {
  key: string;
  server: Endpoint;
  /** Which half this capture point sees: the clients' packets, or only the server's answers. */
  side: 'clients' | 'server';
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
    // The canonical direction that sent everything (0: A→B), if one did.
    const sent = t.f64[d + D.PKTS + 1] === 0 ? 0 : t.f64[d + D.PKTS] === 0 ? 1 : -1;
    if (sent < 0) return;
    const packets = t.f64[d + D.PKTS + sent];
    if (packets < this.minPackets) return;
    // The sender acknowledged something of its peer (an ACK, data after the handshake, a SYN+ACK):
    // the other direction exists, elsewhere. A lone SYN and its retransmissions is a dead server.
    const senderIsOrig = (t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1) === (sent === 0);
    const history = tr.zeek.history(s);
    const serverSide = (t.u8[s * B.STRIDE + B.EV_FLAGS] & EvFlag.HAS_SYNACK) !== 0;
    if (!(serverSide ? /[HhAaDd]/ : senderIsOrig ? /[AD]/ : /[ad]/).test(history)) return;
    const b = s * U.STRIDE;
    // Direction 0 is A→B: its sender is side A.
    const sender = sideEndpoint(tr, s, sent);
    const peer = sideEndpoint(tr, s, 1 - sent);
    const server = serverSide ? sender : peer;
    const client = serverSide ? peer : sender;
    const side = serverSide ? 'server' : 'clients';
    const key = `${endpointKey(server)}|${side}`;
    let g = this.groups.get(key);
    let sample = this.samples.get(key);
    const fs = t.u32[b + U.FIRST_SEC];
    const fn = t.u32[b + U.FIRST_NS];
    const ls = t.u32[b + U.LAST_SEC];
    const ln = t.u32[b + U.LAST_NS];
    if (!g || !sample) {
      g = { key, server, side, flows: 0, packets: 0, invalid: 0, invalidByKind: {}, clients: [], firstSec: fs, firstNs: fn, lastSec: ls, lastNs: ln, sample: { items: [], total: 0 } };
      sample = new EvidenceSample(10);
      this.groups.set(key, g);
      this.samples.set(key, sample);
    }
    g.flows++;
    g.packets += packets;
    if (p) {
      g.invalid += p.invalid;
      addCounts(g.invalidByKind, p.invalidByKind);
    }
    if (!g.clients.includes(client.ip) && g.clients.length < 16) g.clients.push(client.ip);
    widenRange(g, fs, fn, ls, ln);
    // The first packet of the flow (its first handshake packet, or the packet that picked it up
    // mid-stream), then its first INVALID ones.
    const items: EvidenceItem[] = [];
    const n = this.ev.load(tr, s);
    const half = serverSide ? "a connection whose clients' packets never pass here" : 'a connection whose answers never pass here';
    const first =
      n > 0
        ? { frame: this.ev.frame[0]!, tsSec: this.ev.tsSec[0]!, tsNs: this.ev.tsNs[0]!, what: `first handshake packet of ${half}` }
        : { frame: t.u32[b + U.FIRST_FRAME]!, tsSec: fs, tsNs: fn, what: `first packet (picked up mid-stream) of ${half}` };
    items.push({ ...first, srcIp: sender.ip, srcPort: sender.port, dstIp: peer.ip, dstPort: peer.port });
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
      addCounts(m.invalidByKind, g.invalidByKind);
      for (const c of g.clients) if (!m.clients.includes(c) && m.clients.length < 16) m.clients.push(c);
      widenRange(m, g.firstSec, g.firstNs, g.lastSec, g.lastNs);
      const s = new EvidenceSample(10);
      s.merge(m.sample);
      s.merge(g.sample);
      m.sample = s.toJSON();
    }
  }
  return [...merged.values()]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((g) => {
      const serverHalf = g.side === 'server';
      const subject = serverHalf ? `${endpointName(g.server)} (answers only)` : endpointName(g.server);
      const inv = Object.entries(g.invalidByKind).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const summary =
        (serverHalf
          ? `${g.flows} TCP connection(s) to ${endpointName(g.server)} seen from the server's side only (${g.packets} packets, nothing from the clients), although the server answers and acknowledges them; `
          : `${g.flows} TCP connection(s) to ${subject} seen in one direction only (${g.packets} packets, none back), although the clients acknowledge the server's answers; `) +
        `${g.invalid} packet(s) would be INVALID for conntrack here${inv.length ? ` (${inv.map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}`;
      const explanation = serverHalf
        ? 'The server sends SYN+ACKs, data and FINs that acknowledge client packets this capture never shows: the clients\' half takes another path. ' +
          'That is asymmetric routing, or the return path of an LVS-DR setup (the real servers answer clients directly, the director sees only the requests). ' +
          'A stateful firewall (conntrack) here has no entry for these connections: a SYN+ACK, FIN or RST cannot create one, so they are INVALID and a rule `-m conntrack --ctstate INVALID -j DROP` drops them — with the SYN+ACKs dropped, no connection through this path can open.'
        : 'The clients send ACKs, data and FINs that acknowledge a SYN+ACK and data this capture never shows, and nothing is retransmitted: the answers exist but take another path. ' +
          'That is asymmetric routing, or by design an LVS-DR load balancer, whose real servers answer clients directly. ' +
          'A stateful firewall (conntrack) on such a one-way path never sees the connections become ESTABLISHED: it lets the SYN through (NEW), then, never seeing the SYN+ACK, finds the clients\' ACKs and data invalid in state SYN_SENT; ' +
          'connections it picks up mid-stream (after a restart, with nf_conntrack_tcp_loose=1) pass as ESTABLISHED, which is why such setups seem to work for a while. ' +
          'FINs, RSTs and ICMP errors find no established entry either and are INVALID, so a rule `-m conntrack --ctstate INVALID -j DROP` drops them: ' +
          'connections linger, resets and Path MTU messages are lost (incident 4). In LVS-DR the director even keeps conntrack from storing the entries at all.';
      const remediation =
        'On the one-way box, accept what it cannot judge before dropping INVALID (incident 4): ' +
        '`-A INPUT -p tcp --tcp-flags SYN,ACK,FIN,RST,URG ACK,FIN -m conntrack --ctstate INVALID -j ACCEPT`, ' +
        '`-A INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -m conntrack --ctstate INVALID -j ACCEPT`, ' +
        '`-A INPUT -p icmp --icmp-type destination-unreachable -j ACCEPT` (then `--ctstate INVALID -j DROP`); ' +
        (serverHalf
          ? `or stop tracking that traffic (\`iptables -t raw -A PREROUTING -s ${formatIpv4(g.server.ip)} -p tcp --sport ${g.server.port} -j NOTRACK\`, nft \`notrack\`), `
          : `or stop tracking that traffic (\`iptables -t raw -A PREROUTING -d ${formatIpv4(g.server.ip)} -p tcp --dport ${g.server.port} -j NOTRACK\`, nft \`notrack\`), `) +
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
        details: { side: g.side, flows: g.flows, packets: g.packets, invalidPackets: g.invalid, invalidByKind: Object.fromEntries(inv), clients: g.clients.length },
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
