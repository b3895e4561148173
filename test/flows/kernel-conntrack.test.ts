/**
 * The conntrack emulation against the Linux kernel itself. captures/conntrack-verdicts.pcap was
 * recorded on a router's client-side link while the router's conntrack (every default:
 * nf_conntrack_tcp_loose=1, be_liberal=0) classified the same packets, and an NFLOG rule logged
 * each one with its --ctstate (captures/lab/06-conntrack-verdicts.sh). The kernel's verdicts are
 * in captures/conntrack-verdicts.kernel.tsv, derived from the NFLOG capture with tshark
 * (captures/lab/nflog-verdicts.sh); the kernel's version is in its header.
 *
 * The traffic: ping, normal TCP sessions, a refused connection, a client abort (RST), SYN
 * retransmissions to a dropped port, a RST with a sequence number far out of the window into an
 * established connection (INVALID) and the same RST once the server has closed its side (taken
 * without a sequence check: ESTABLISHED), a 300 kB download with losses (SACK, retransmissions,
 * window scaling), a zero window and its probes, keep-alives, hand-made data far from the window,
 * a reopen in TIME_WAIT, a firewall's REJECT as an ICMP error (RELATED to the TCP connection) and
 * as a reset, a lost SYN+ACK (the SYN again), UDP queries, UDP to a closed port (RELATED ICMP
 * errors), hand-made FIN, RST, SYN+ACK and mid-stream segments for connections that do not
 * exist, an unsolicited echo reply and an ICMP error quoting a datagram never sent
 * (captures/lab/GROUND_TRUTH.md §9).
 *
 * pcapscan reads the NFLOG capture too (LINKTYPE_NFLOG): there the packets are in the order
 * conntrack saw them, and the check is packet by packet.
 *
 * Both captures hold each packet once, but not always in the same order: a packet from the server
 * is logged on the router's server side before it crosses to the client side, so a client packet
 * sent meanwhile comes first in one capture and second in the other. Packets going one way keep
 * their order. So the check is per flow and direction: the TCP flags and verdicts of its packets,
 * in order, against the kernel's; and the totals.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultTrackerOptions } from '../../src/flows/options.js';
import { Info, Kind, packFrame, R, RECORD_WORDS } from '../../src/flows/record.js';
import { FlowTracker } from '../../src/flows/tracker.js';
import { VERDICT_NAMES } from '../../src/flows/verdict.js';
import { formatIpv4 } from '../../src/report/format.js';
import { decodeFile } from '../helpers/frame-fields.js';
import { runFlows } from '../helpers/flows.js';

const CAPTURE = fileURLToPath(new URL('../../captures/conntrack-verdicts.pcap', import.meta.url));
const KERNEL_TSV = fileURLToPath(new URL('../../captures/conntrack-verdicts.kernel.tsv', import.meta.url));
const NFLOG_CAPTURE = fileURLToPath(new URL('../../captures/conntrack-verdicts.nflog.pcap', import.meta.url));
const KERNEL_TABLE = fileURLToPath(new URL('../../captures/conntrack-verdicts.kernel-table.txt', import.meta.url));

/** One packet as conntrack classified it: its flow, its direction in that flow, its TCP flags. */
interface Verdict {
  flow: string;
  /** "a>b" or "b>a": the packet's direction between the flow's lower and higher endpoint. */
  dir: string;
  /** TCP flags (hex) or "-"; for an ICMP error, "icmp-error". */
  what: string;
  verdict: string;
}

/**
 * A flow named by its endpoints, lower first, and the protocol: `udp 10.6.1.2:41011 10.6.2.2:5301`.
 * For an ICMP query the requester's endpoint carries the identifier as its port and the other 0,
 * as pcapscan keys it (conntrack's tuple holds the identifier and the request's type).
 */
function flowName(proto: string, ipSrc: string, portSrc: string, ipDst: string, portDst: string): { flow: string; dir: string } {
  const src = `${ipSrc}:${portSrc}`;
  const dst = `${ipDst}:${portDst}`;
  const order = (e: string): number[] => e.split(/[.:]/).map(Number);
  const srcFirst = compare(order(src), order(dst)) <= 0;
  return { flow: `${proto} ${srcFirst ? src : dst} ${srcFirst ? dst : src}`, dir: srcFirst ? 'a>b' : 'b>a' };
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

const PROTO_NAMES: Record<string, string> = { '1': 'icmp', '6': 'tcp', '17': 'udp' };

function kernelVerdicts(): Verdict[] {
  const lines = fs.readFileSync(KERNEL_TSV, 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
  expect(lines[0]).toBe('verdict\tip_src\tip_dst\tproto\tsport\tdport\ttcp_flags\ticmp_type\ticmp_id\tflow_from');
  return lines.slice(1).map((line) => {
    const [verdict, ipSrc, ipDst, proto, sport, dport, tcpFlags, icmpType, icmpId, from] = line.split('\t') as [string, string, string, string, string, string, string, string, string, string];
    const name = PROTO_NAMES[proto]!;
    const isQuery = name === 'icmp' && from === 'packet';
    const isRequest = ['8', '13', '15', '17'].includes(icmpType);
    const { flow, dir } = !isQuery
      ? flowName(name, ipSrc, sport, ipDst, dport)
      : isRequest
        ? flowName(name, ipSrc, icmpId, ipDst, '0')
        : flowName(name, ipSrc, '0', ipDst, icmpId);
    // An error's direction is its quoted datagram's: the error itself travels the other way.
    const what = from === 'quoted' ? 'icmp-error' : name === 'tcp' ? String(Number(tcpFlags)) : '-';
    return { flow, dir: from === 'quoted' ? flip(dir) : dir, what, verdict };
  });
}

function flip(dir: string): string {
  return dir === 'a>b' ? 'b>a' : 'a>b';
}

/** pcapscan's verdict for each packet of a capture, in capture order, named the same way. */
async function pcapscanVerdicts(capture = CAPTURE): Promise<Verdict[]> {
  const tracker = new FlowTracker(defaultTrackerOptions(), 1024);
  const out: Verdict[] = [];
  let current: Omit<Verdict, 'verdict'> | null = null;
  tracker.addObserver({
    packets: 'all',
    onPacket: (_tr, _slot, _r, _base, _dir, verdict) => {
      out.push({ ...current!, verdict: VERDICT_NAMES[verdict]! });
    },
    onFlowEnd: () => {},
  });
  const r = new Uint32Array(RECORD_WORDS);
  const frames = await decodeFile(capture, (frame) => {
    if (!packFrame(frame, r, 0, 0x5eed)) throw new Error(`frame ${frame.frameNo} carries nothing conntrack tracks`);
    const kind = r[R.INFO]! & 0xf;
    const proto = PROTO_NAMES[String((r[R.INFO]! >>> 8) & 0xff)]!;
    const ports = r[R.KEY_PORTS]!;
    // The record's key is the flow's as the packet's sender sees it (for an ICMP error, the
    // quoted datagram's; for an echo reply, the request's: Info.REPLY says it goes back).
    const named = flowName(proto, formatIpv4(r[R.KEY_SRC_IP]!), String(ports & 0xffff), formatIpv4(r[R.KEY_DST_IP]!), String(ports >>> 16));
    const back = kind === Kind.ICMP_ERROR || (r[R.INFO]! & Info.REPLY) !== 0;
    const what = kind === Kind.ICMP_ERROR ? 'icmp-error' : kind === Kind.TCP ? String(r[R.FLAGS_WIN]! & 0xfff) : '-';
    current = { flow: named.flow, dir: back ? flip(named.dir) : named.dir, what };
    tracker.process(r, 0);
  });
  expect(out).toHaveLength(frames);
  return out;
}

/** Per flow and direction ("tcp 10.6.1.2:41001 10.6.2.2:8080 a>b"), each packet's flags and verdict, in order. */
function byFlow(verdicts: readonly Verdict[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const v of verdicts) {
    const key = `${v.flow} ${v.dir}`;
    const list = m.get(key) ?? [];
    list.push(`${v.what} ${v.verdict}`);
    m.set(key, list);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function totals(verdicts: readonly Verdict[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const v of verdicts) t[v.verdict] = (t[v.verdict] ?? 0) + 1;
  return t;
}

/**
 * The router's conntrack table right after the last packet (`conntrack -L`): per entry still
 * alive, its flow, its TCP state (UDP and ICMP: REPLIED or UNREPLIED, as pcapscan names them) and
 * whether it is ASSURED.
 */
function kernelTable(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(KERNEL_TABLE, 'utf8').split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const proto = words[0]!;
    const field = (name: string): string => words.find((w) => w.startsWith(`${name}=`))!.slice(name.length + 1);
    const { flow } =
      proto === 'icmp' ? flowName(proto, field('src'), field('id'), field('dst'), '0') : flowName(proto, field('src'), field('sport'), field('dst'), field('dport'));
    const state = proto === 'tcp' ? words[3]! : words.includes('[UNREPLIED]') ? 'UNREPLIED' : 'REPLIED';
    out.set(flow, `${state}${words.includes('[ASSURED]') ? ' ASSURED' : ''}`);
  }
  return out;
}

describe('conntrack verdicts against the Linux kernel (captures/conntrack-verdicts.pcap)', () => {
  it('gives every packet of every flow the verdict the kernel gave it, in order', async () => {
    const kernel = kernelVerdicts();
    const ours = await pcapscanVerdicts();
    expect(ours).toHaveLength(kernel.length);
    expect(byFlow(ours)).toEqual(byFlow(kernel));
    expect(totals(ours)).toEqual(totals(kernel));
  });

  it('reading the NFLOG capture itself (the packets in the order conntrack saw them), gives each the kernel’s verdict, line by line', async () => {
    const kernel = kernelVerdicts();
    const ours = await pcapscanVerdicts(NFLOG_CAPTURE);
    expect(ours.map((v, i) => `${i + 1} ${v.flow} ${v.dir} ${v.what} ${v.verdict}`)).toEqual(kernel.map((v, i) => `${i + 1} ${v.flow} ${v.dir} ${v.what} ${v.verdict}`));
  });

  it('leaves alive at the end of the capture exactly the entries the kernel still had, in the same state', async () => {
    const table = kernelTable();
    expect(table.size).toBeGreaterThan(5);
    const { flows } = await runFlows(CAPTURE);
    const alive = new Map<string, string>();
    for (const f of flows) {
      if (!f.conntrack.alive_at_end) continue;
      const { flow } = flowName(f.proto, f.orig_h, String(f.orig_p), f.resp_h, String(f.resp_p));
      alive.set(flow, `${f.conntrack.state}${f.conntrack.assured ? ' ASSURED' : ''}`);
    }
    expect(new Map([...alive].sort())).toEqual(new Map([...table].sort()));
    // What the table says of the connections that did not last: 41006 and 41007 were reset
    // (CLOSE, 10 s) more than 10 s before the end; 41022's entries, never assured, died with the RSTs.
    expect(table.has('tcp 10.6.1.2:41006 10.6.2.2:8080')).toBe(false);
    expect(table.get('tcp 10.6.1.2:41005 10.6.2.2:9')).toBe('SYN_SENT');
  });

  it("the kernel's answers hold the cases this file claims to cover: every verdict, RSTs in and out of the window, a lossy bulk transfer, a zero window, keep-alives, a reopen, REJECTs, a lost SYN+ACK, ICMP errors, hand-made segments", () => {
    const kernel = kernelVerdicts();
    const t = totals(kernel);
    for (const v of ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID']) expect(t[v], v).toBeGreaterThan(0);
    const flows = byFlow(kernel);
    const serverPort: Record<number, number> = { 41005: 9, 41008: 8090, 41009: 8091, 41012: 8092, 41013: 10, 41014: 11, 41015: 8093 };
    const to = (port: number, dir: string): string[] | undefined => flows.get(`tcp 10.6.1.2:${port} 10.6.2.2:${serverPort[port] ?? 8080} ${dir}`);
    // The out-of-window RST into an established connection: INVALID. The same RST after the
    // server's FIN: taken without a sequence check, ESTABLISHED.
    // (Then the client's FIN, and its RSTs to the server's late reply: ESTABLISHED.)
    expect(to(41006, 'a>b')?.slice(0, 4)).toEqual(['2 NEW', '16 ESTABLISHED', '4 INVALID', '17 ESTABLISHED']);
    expect(to(41006, 'a>b')?.slice(4)).toEqual(['4 ESTABLISHED', '4 ESTABLISHED']);
    expect(to(41007, 'a>b')?.filter((p) => p.startsWith('4 '))).toEqual(['4 ESTABLISHED']);
    // SYN retransmissions before any reply: each one NEW.
    expect(to(41005, 'a>b')).toEqual(['2 NEW', '2 NEW', '2 NEW', '2 NEW']);
    // The bulk download: hundreds of segments, with SACK and retransmissions, all ESTABLISHED.
    const bulk = to(41008, 'b>a') ?? [];
    expect(bulk.length).toBeGreaterThan(200);
    expect(bulk.slice(1).every((p) => p.endsWith(' ESTABLISHED'))).toBe(true);
    // A zero window and the server's probes: all ESTABLISHED.
    expect((to(41009, 'b>a') ?? []).length).toBeGreaterThan(60);
    expect([...(to(41009, 'a>b') ?? []).slice(1), ...(to(41009, 'b>a') ?? [])].every((p) => p.endsWith(' ESTABLISHED'))).toBe(true);
    // Keep-alives pass; data far from the window does not.
    expect(to(41012, 'a>b')?.filter((p) => !p.endsWith(' ESTABLISHED'))).toEqual(['2 NEW', '24 INVALID', '24 INVALID']);
    // A firewall's REJECT: its ICMP port unreachable is RELATED to the TCP connection; its reset is ESTABLISHED.
    expect([to(41013, 'a>b'), to(41013, 'b>a')]).toEqual([['2 NEW'], ['icmp-error RELATED']]);
    expect([to(41014, 'a>b'), to(41014, 'b>a')]).toEqual([['2 NEW'], ['20 ESTABLISHED']]);
    // The first SYN+ACK lost: the client's second SYN comes after the server's answer, so it is ESTABLISHED.
    expect(to(41015, 'a>b')?.slice(0, 2)).toEqual(['2 NEW', '2 ESTABLISHED']);
    expect(to(41015, 'b>a')?.slice(0, 3)).toEqual(['18 ESTABLISHED', '18 ESTABLISHED', '18 ESTABLISHED']);
    // 41001 twice: the second SYN, in TIME_WAIT, reopens: NEW again.
    expect(to(41001, 'a>b')?.filter((p) => p === '2 NEW')).toEqual(['2 NEW', '2 NEW']);
    // A FIN+ACK and a SYN+ACK for no connection, and the server's RSTs to them: INVALID.
    expect([to(41020, 'a>b'), to(41020, 'b>a')]).toEqual([['17 INVALID'], ['4 INVALID']]);
    expect([to(41023, 'a>b'), to(41023, 'b>a')]).toEqual([['18 INVALID'], ['4 INVALID']]);
    // Mid-stream data picked up (nf_conntrack_tcp_loose=1): NEW.
    expect(to(41022, 'a>b')).toEqual(['24 NEW', '24 NEW']);
    // ICMP errors for a datagram seen (RELATED) and for one never seen (INVALID).
    expect(flows.get('udp 10.6.1.2:41011 10.6.2.2:5301 b>a')).toEqual(['icmp-error RELATED', 'icmp-error RELATED']);
    expect(flows.get('udp 10.6.1.2:41030 10.6.2.2:5399 b>a')).toEqual(['icmp-error INVALID']);
  });
});
