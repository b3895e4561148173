/**
 * tcp.conflicting_responses — one SYN answered by both a SYN+ACK and a RST (or an ICMP
 * unreachable) from the server side, each acknowledging that SYN (incident 1: a bridge floods the
 * SYN to every port; a firewall with a REJECT policy on another port forges a RST while the real
 * server answers SYN+ACK; the client sees "connection refused" when the RST wins the race).
 */
import { IpProto } from '../decode/ipproto.js';
import { EvFlag, EvKind } from '../flows/evidence.js';
import { B, U } from '../flows/flow-table.js';
import { readFlow, type FlowRecord } from '../flows/flow-view.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { formatIpv4, formatMac } from '../report/format.js';
import { EndpointIndex, EndpointMap, endpointKey, endpointName, serverEnd, type EndpointMapParts } from './flow-endpoints.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import type { Detector, OptionValues, ReduceContext } from './types.js';

const ID = 'tcp.conflicting_responses';
const RST = 0x04;
const ACK = 0x10;
/** ICMP destination unreachable. */
const ICMP_UNREACH = 3;

/** One handshake answered both ways. */
interface Hit {
  synFrame: number;
  synSec: number;
  synNs: number;
  clientMac: number;
  /** The refusing answer (RST or ICMP unreachable). */
  refusal: 'RST' | 'ICMP';
  refusalFrame: number;
  refusalSec: number;
  refusalNs: number;
  refusalMac: number;
  refusalIpSrc: number;
  refusalWindow: number;
  refusalOptions: boolean;
  refusalIpId: number;
  refusalTtl: number;
  synAckFrame: number;
  synAckSec: number;
  synAckNs: number;
  synAckMac: number;
  synAckTtl: number;
  /** The client's RST to the SYN+ACK (it had given up on the connection), if any. */
  clientRst: { frame: number; tsSec: number; tsNs: number; mac: number } | null;
  /** SYN+ACKs seen for this SYN (the server retransmits them when nobody completes the handshake). */
  synAcks: number;
}

interface ServerPartial {
  key: string;
  serverIp: number;
  serverPort: number;
  vlan: number;
  /** Handshakes (SYN ISNs) answered both ways, and answered only by a SYN+ACK. */
  hits: number;
  normal: number;
  /** Hits where the refusal came first (the client was refused). */
  refusedFirst: number;
  /** Hits whose two answers came from different source MACs. */
  macsDiffer: number;
  /** Hits whose RST has the fingerprint of a Linux REJECT: window 0, no TCP options, IP id 0. */
  rejectFingerprint: number;
  /** Over all hits (the sample is bounded): the latest SYN, the largest gap between the two answers, refusals by ICMP. */
  lastSec: number;
  lastNs: number;
  maxGapS: number;
  icmpHits: number;
  /** Hits, lowest SYN frame first, bounded. */
  sample: Hit[];
  evidence: { items: EvidenceItem[]; total: number };
}

interface Partial {
  servers: ServerPartial[];
  /** Handshakes with no refusal per server, for every server of the shard. */
  normal: EndpointMapParts<number>;
}

const HIT_SAMPLE = 20;

/** Splits a flow's handshake events by ISN and finds SYNs answered both ways. */
export function analyzeHandshakes(f: FlowRecord): { hits: Hit[]; normal: number } {
  const hits: Hit[] = [];
  let normal = 0;
  const syns = f.events.filter((e) => e.kind === EvKind.SYN && e.fromOrig);
  const isns = [...new Set(syns.map((e) => e.seq))];
  for (const isn of isns) {
    const expectedAck = (isn + 1) >>> 0;
    const syn = syns.find((e) => e.seq === isn)!;
    const synAcks = f.events.filter((e) => e.kind === EvKind.SYNACK && !e.fromOrig && e.ack === expectedAck);
    // A RST answering the SYN itself acknowledges it and, having no sequence space of its own, carries
    // seq 0 (RFC 793); a RST that continues the server's own sequence is the server ending the connection.
    // The server's stream spans what it sent: its payload bytes, plus one for a FIN.
    const inServerStream = (e: { seq: number }): boolean => synAcks.some((sa) => ((e.seq - ((sa.seq + 1) >>> 0)) >>> 0) <= f.respPayloadBytes + 1);
    const refusals = f.events.filter(
      (e) =>
        !e.fromOrig &&
        ((e.kind === EvKind.RST && ((e.flags & ACK) !== 0 ? e.ack === expectedAck : e.seq === expectedAck) && !inServerStream(e)) ||
          (e.kind === EvKind.ICMP_ERROR && e.flags === ICMP_UNREACH && e.seq === isn)),
    );
    if (synAcks.length === 0) continue;
    if (refusals.length === 0) {
      normal++;
      continue;
    }
    const sa = synAcks[0]!;
    const rf = refusals[0]!;
    // The client's RST answering the server's SYN+ACK: seq = the SYN+ACK's ack.
    const clientRst = f.events.find((e) => e.kind === EvKind.RST && e.fromOrig && (e.flags & RST) !== 0 && e.seq === sa.ack && e.frame > sa.frame);
    hits.push({
      synFrame: syn.frame,
      synSec: syn.tsSec,
      synNs: syn.tsNs,
      clientMac: syn.mac,
      refusal: rf.kind === EvKind.RST ? 'RST' : 'ICMP',
      refusalFrame: rf.frame,
      refusalSec: rf.tsSec,
      refusalNs: rf.tsNs,
      refusalMac: rf.mac,
      refusalIpSrc: rf.ipSrc,
      refusalWindow: rf.kind === EvKind.RST ? rf.window : -1,
      refusalOptions: rf.options,
      refusalIpId: rf.ipId,
      refusalTtl: rf.ttl,
      synAckFrame: sa.frame,
      synAckSec: sa.tsSec,
      synAckNs: sa.tsNs,
      synAckMac: sa.mac,
      synAckTtl: sa.ttl,
      clientRst: clientRst ? { frame: clientRst.frame, tsSec: clientRst.tsSec, tsNs: clientRst.tsNs, mac: clientRst.mac } : null,
      synAcks: synAcks.length,
    });
  }
  return { hits, normal };
}

/** Seconds between the two answers of a hit. */
function answerGapS(h: Hit): number {
  return Math.abs(h.synAckSec - h.refusalSec + (h.synAckNs - h.refusalNs) / 1e9);
}

function refusedFirst(h: Hit): boolean {
  return h.refusalSec < h.synAckSec || (h.refusalSec === h.synAckSec && (h.refusalNs < h.synAckNs || (h.refusalNs === h.synAckNs && h.refusalFrame < h.synAckFrame)));
}

function isRejectFingerprint(h: Hit): boolean {
  return h.refusal === 'RST' && h.refusalWindow === 0 && !h.refusalOptions && h.refusalIpId === 0;
}

function hitEvidence(h: Hit, f: { client: number; clientPort: number; server: number; serverPort: number }): EvidenceItem[] {
  const items: EvidenceItem[] = [
    { frame: h.synFrame, tsSec: h.synSec, tsNs: h.synNs, what: 'SYN', srcMac: h.clientMac, srcIp: f.client, srcPort: f.clientPort, dstIp: f.server, dstPort: f.serverPort },
    {
      frame: h.refusalFrame,
      tsSec: h.refusalSec,
      tsNs: h.refusalNs,
      what:
        h.refusal === 'RST'
          ? `RST answering the SYN (window ${h.refusalWindow}, ${h.refusalOptions ? 'with' : 'no'} TCP options, IP id ${h.refusalIpId}, TTL ${h.refusalTtl})`
          : `ICMP unreachable quoting the SYN (TTL ${h.refusalTtl})`,
      srcMac: h.refusalMac,
      srcIp: h.refusalIpSrc,
      dstIp: f.client,
    },
    { frame: h.synAckFrame, tsSec: h.synAckSec, tsNs: h.synAckNs, what: `SYN+ACK answering the same SYN (TTL ${h.synAckTtl})`, srcMac: h.synAckMac, srcIp: f.server, srcPort: f.serverPort, dstIp: f.client, dstPort: f.clientPort },
  ];
  if (h.clientRst) {
    const r = h.clientRst;
    items.push({ frame: r.frame, tsSec: r.tsSec, tsNs: r.tsNs, what: 'client RST to the SYN+ACK: it had already given up on the connection', srcMac: r.mac, srcIp: f.client, srcPort: f.clientPort, dstIp: f.server, dstPort: f.serverPort });
  }
  return items;
}

class Observer implements ShardObserver {
  readonly packets = 'none' as const;
  private readonly servers = new Map<string, ServerPartial>();
  /** Handshakes with no refusal, per server: counted without reading the flow or building a key string. */
  private readonly normalOnly = new EndpointMap<number>();

  onPacket(): void {}

  onFlowEnd(tr: FlowTracker, s: number): void {
    const t = tr.table;
    if (t.u8[s * B.STRIDE + B.PROTO] !== IpProto.TCP) return;
    const flags = t.u8[s * B.STRIDE + B.EV_FLAGS];
    if ((flags & EvFlag.HAS_SYNACK) === 0) return;
    const server = serverEnd(tr, s);
    if ((flags & EvFlag.HAS_RST) === 0 && t.u32[s * U.STRIDE + U.ICMP_ERRORS] === 0) {
      this.normalOnly.set(server.vlan, server.ip, server.port, (this.normalOnly.get(server.vlan, server.ip, server.port) ?? 0) + 1);
      return;
    }
    const f = readFlow(tr, s);
    const { hits, normal } = analyzeHandshakes(f);
    if (hits.length === 0) {
      if (normal > 0) this.normalOnly.set(server.vlan, server.ip, server.port, (this.normalOnly.get(server.vlan, server.ip, server.port) ?? 0) + normal);
      return;
    }
    const key = endpointKey(server);
    let sp = this.servers.get(key);
    if (!sp) {
      sp = { key, serverIp: f.respIp, serverPort: f.respPort, vlan: server.vlan, hits: 0, normal: 0, refusedFirst: 0, macsDiffer: 0, rejectFingerprint: 0, lastSec: 0, lastNs: 0, maxGapS: 0, icmpHits: 0, sample: [], evidence: { items: [], total: 0 } };
      this.servers.set(key, sp);
    }
    sp.normal += normal;
    const ev = new EvidenceSample(12);
    ev.merge(sp.evidence);
    for (const h of hits) {
      sp.hits++;
      if (refusedFirst(h)) sp.refusedFirst++;
      if (h.refusalMac !== h.synAckMac) sp.macsDiffer++;
      if (isRejectFingerprint(h)) sp.rejectFingerprint++;
      if (h.refusal === 'ICMP') sp.icmpHits++;
      if (h.synSec > sp.lastSec || (h.synSec === sp.lastSec && h.synNs > sp.lastNs)) [sp.lastSec, sp.lastNs] = [h.synSec, h.synNs];
      sp.maxGapS = Math.max(sp.maxGapS, answerGapS(h));
      sp.sample.push(h);
      ev.addAll(hitEvidence(h, { client: f.origIp, clientPort: f.origPort, server: f.respIp, serverPort: f.respPort }));
    }
    sp.sample.sort((a, b) => a.synFrame - b.synFrame);
    sp.sample.length = Math.min(sp.sample.length, HIT_SAMPLE);
    sp.evidence = ev.toJSON();
  }

  partial(): Partial {
    // Normal handshakes matter only for servers that some shard saw refused: send them all, as numbers.
    return { servers: [...this.servers.values()], normal: this.normalOnly.parts() };
  }
}

function reduce(partials: readonly unknown[], ctx: ReduceContext): Finding[] {
  const merged = new Map<string, ServerPartial>();
  for (const p of partials as Partial[]) {
    for (const sp of p.servers) {
      const m = merged.get(sp.key);
      if (!m) {
        merged.set(sp.key, { ...sp, sample: [...sp.sample], evidence: { items: [...sp.evidence.items], total: sp.evidence.total } });
        continue;
      }
      if (sp.hits > 0 && m.hits === 0) {
        m.serverIp = sp.serverIp;
        m.serverPort = sp.serverPort;
        m.vlan = sp.vlan;
      }
      m.hits += sp.hits;
      m.normal += sp.normal;
      m.refusedFirst += sp.refusedFirst;
      m.macsDiffer += sp.macsDiffer;
      m.rejectFingerprint += sp.rejectFingerprint;
      m.icmpHits += sp.icmpHits;
      if (sp.lastSec > m.lastSec || (sp.lastSec === m.lastSec && sp.lastNs > m.lastNs)) [m.lastSec, m.lastNs] = [sp.lastSec, sp.lastNs];
      m.maxGapS = Math.max(m.maxGapS, sp.maxGapS);
      m.sample = [...m.sample, ...sp.sample].sort((a, b) => a.synFrame - b.synFrame).slice(0, HIT_SAMPLE);
      const ev = new EvidenceSample(12);
      ev.merge(m.evidence);
      ev.merge(sp.evidence);
      m.evidence = ev.toJSON();
    }
  }
  // Every shard counted the normal handshakes of all its servers; only the merged ones need theirs.
  // A scan of each shard's list against the few merged servers, not a map of every server built.
  // Entry i of the index is servers[i] (merged keys are distinct endpoints).
  const servers = [...merged.values()];
  const index = new EndpointIndex();
  for (const m of servers) index.add(m.vlan, m.serverIp, m.serverPort);
  for (const p of partials as Partial[]) {
    if (servers.length === 0) break;
    const { vlans, keys, values } = p.normal;
    for (let i = 0; i < values.length; i++) {
      const m = index.indexOfKey(vlans[i]!, keys[i]!);
      if (m >= 0) servers[m]!.normal += values[i]!;
    }
  }
  const findings: Finding[] = [];
  for (const sp of [...merged.values()].sort((a, b) => a.key.localeCompare(b.key))) {
    if (sp.hits === 0) continue;
    findings.push(toFinding(sp, ctx.options));
  }
  return findings;
}

function toFinding(sp: ServerPartial, _options: OptionValues): Finding {
  const server = `${formatIpv4(sp.serverIp)}:${sp.serverPort}`;
  const subject = endpointName({ ip: sp.serverIp, port: sp.serverPort, vlan: sp.vlan });
  const total = sp.hits + sp.normal;
  const first = sp.sample[0]!;
  const maxGapMs = sp.maxGapS * 1000;
  const sameMac = sp.hits - sp.macsDiffer;
  const refusalKind = sp.icmpHits === sp.hits ? 'ICMP unreachable' : 'RST';
  const summary =
    `${sp.hits} of ${total} handshake(s) to ${server} answered by both a ${refusalKind} and a SYN+ACK; ` +
    (sp.refusedFirst > 0 ? `the ${refusalKind} came first ${sp.refusedFirst} time(s) (client saw "connection refused")` : `the SYN+ACK always came first`) +
    `; answers from ${sp.macsDiffer > 0 ? (sameMac > 0 ? 'different MACs and from the same MAC' : 'different MACs') : 'the same MAC'}`;
  const macLine =
    sp.macsDiffer === sp.hits
      ? `The two answers come from different MACs (e.g. RST from ${formatMac(first.refusalMac)}, SYN+ACK from ${formatMac(first.synAckMac)}): another box on the segment received the SYN and refused it.`
      : `The two answers come from the same MAC (${formatMac(first.synAckMac)}). That is not innocent: a Linux bridge firewall (br_netfilter, nft bridge reject) forges its RST with the original destination's MAC, so a forged RST looks like the server's own.`;
  const fp =
    sp.rejectFingerprint > 0
      ? ` ${sp.rejectFingerprint === sp.hits ? 'Every' : `${sp.rejectFingerprint} of the ${sp.hits}`} RST has the fingerprint of a firewall REJECT (window 0, no TCP options, IP id 0), unlike the server's own SYN+ACK.`
      : '';
  const explanation =
    `One SYN, two answers. ${macLine}${fp} ` +
    'The classic cause (incident 1): the server VM stayed quiet longer than the bridge\'s MAC ageing time (300 s on Linux), so the bridge forgot which port it is on, ' +
    'while the router still had the VM in its ARP cache (Linux keeps STALE ARP entries for much longer) and sent the SYN without asking. The bridge then flooded ' +
    'the SYN to every port; a firewall with a REJECT policy on another port (the hypervisor\'s, for another VM) answered with a RST while the real VM answered with a SYN+ACK. ' +
    'The firewall, with fewer layers to cross, usually wins the race: the client sees "connection refused" and drops the SYN+ACK (its RST to the SYN+ACK is the trace of that), ' +
    'and the RST also closes the state in firewalls and NAT on the way. The next attempt usually works because the VM\'s answer refilled the bridge\'s table — which is why the failure looks random. ' +
    (sp.refusedFirst === 0 ? 'Here the SYN+ACK always won, so clients got through, but the next flood may go the other way.' : '');
  const remediation = [
    'Use a DROP policy instead of REJECT on the firewall that forges the RST (Proxmox: Datacenter/VM → Firewall → Options → Input/Output policy DROP; iptables: replace `-j REJECT` by `-j DROP`).',
    'Make the router\'s ARP entries expire before the bridge forgets the MAC, or make the bridge remember longer: `ip link set dev br0 type bridge ageing_time 360000` (centiseconds; persistent via /etc/network/interfaces `bridge_ageing 3600`), or lower `net.ipv4.neigh.<if>.base_reachable_time_ms` / `gc_stale_time` on the router.',
    'Give the VMs layer-3 access (routed, not bridged), so no frame is ever flooded to another VM.',
    'Or filter at layer 2 so a VM port only receives frames for its own MAC: `ebtables -A FORWARD -o <vm-port> -d <vm-mac> -j ACCEPT; ebtables -A FORWARD -o <vm-port> -d Multicast -j ACCEPT; ebtables -A FORWARD -o <vm-port> -j DROP`.',
  ].join(' ');
  return makeFinding({
    id: ID,
    severity: sp.refusedFirst > 0 ? 'high' : 'medium',
    subject,
    summary,
    count: sp.hits,
    first: { sec: first.synSec, ns: first.synNs },
    last: { sec: sp.lastSec, ns: sp.lastNs },
    evidence: sp.evidence.items,
    evidenceTotal: sp.evidence.total,
    explanation,
    remediation,
    details: {
      server,
      handshakesHit: sp.hits,
      handshakesNormal: sp.normal,
      refusedFirst: sp.refusedFirst,
      synAckFirst: sp.hits - sp.refusedFirst,
      macsDiffer: sp.macsDiffer,
      rejectFingerprint: sp.rejectFingerprint,
      maxGapMs: Math.round(maxGapMs * 1000) / 1000,
      hits: sp.sample.map((h) => ({
        synFrame: h.synFrame,
        refusal: h.refusal,
        refusalFrame: h.refusalFrame,
        refusalMac: formatMac(h.refusalMac),
        refusalFrom: formatIpv4(h.refusalIpSrc),
        synAckFrame: h.synAckFrame,
        synAckMac: formatMac(h.synAckMac),
        first: refusedFirst(h) ? h.refusal : 'SYN+ACK',
        gapMs: Math.round(Math.abs(h.synAckSec - h.refusalSec + (h.synAckNs - h.refusalNs) / 1e9) * 1e6) / 1000,
        rstWindow: h.refusalWindow,
        rstOptions: h.refusalOptions,
        rstIpId: h.refusalIpId,
        refusalTtl: h.refusalTtl,
        synAckTtl: h.synAckTtl,
        synAcks: h.synAcks,
        clientRstFrame: h.clientRst ? h.clientRst.frame : null,
      })),
    },
  });
}

export const tcpConflictingResponses: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: [],
  createFlow: () => new Observer(),
  reduce,
};

