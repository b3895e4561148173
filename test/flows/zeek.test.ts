/**
 * Zeek's conn_state and history (src/flows/zeek.ts, through the tracker): the worked examples of
 * docs/research/zeek-conn.md §5 ("Zeek §5 #n") as captures, plus the letter rules of §3.1 and the
 * originator rules of §2.1. Expected values are the notes'; the examples the notes mark as not
 * reproduced by pcapscan (C letter, Zeek's split on a SYN with a new ISN) are `it.fails` with the
 * reason, so they flip if that ever changes.
 */
import { describe, expect, it } from 'vitest';
import { CaptureBuilder, type Host } from '../helpers/capture-builder.js';
import { describeFlows, onlyFlow, runFlows, TcpConversation, type FlowLine } from '../helpers/flows.js';
import { concat, ethernet, inetChecksum, ipBytes, ipv4, tcp } from '../helpers/packets.js';

const C: Host = { mac: '02:00:00:00:00:01', ip: '10.0.0.1' };
const S: Host = { mac: '02:00:00:00:00:02', ip: '10.0.0.2' };
const CLIENT_PORT = 40000;
/** Not in the likely-server-port set: no role flips. */
const PLAIN_PORT = 9000;
/** HTTP: a likely server port with the default scripts (Zeek §2.1). */
const HTTP = 80;

type Step = (cv: TcpConversation<number>) => void;

/** Builds a TCP capture from conversation steps, 1 ms apart. */
function tcpCapture(steps: Step[], o: { cPort?: number; sPort?: number } = {}): CaptureBuilder {
  const b = new CaptureBuilder();
  const cv = new TcpConversation(b, C, S, { sport: o.cPort ?? CLIENT_PORT, dport: o.sPort ?? PLAIN_PORT, cIsn: 1000, sIsn: 5000 });
  steps.forEach((step, i) => {
    b.at(i * 0.001);
    step(cv);
  });
  return b;
}

async function zeekOf(b: CaptureBuilder): Promise<{ flow: FlowLine; all: FlowLine[] }> {
  const run = await runFlows(b);
  return { flow: onlyFlow(run.flows), all: run.flows };
}

function expectZeek(flow: FlowLine, history: string, connState: string, all: FlowLine[]): void {
  expect({ history: flow.history, conn_state: flow.conn_state }, describeFlows(all)).toEqual({ history, conn_state: connState });
}

// Shorthands for the steps of the notes' notation (C = first sender, S = the other side).
const cSyn: Step = (cv) => cv.c('S');
const sSynAck: Step = (cv) => cv.s('SA');
const cAck: Step = (cv) => cv.c('A');
const sAck: Step = (cv) => cv.s('A');
const cData: Step = (cv) => cv.c('PA', { len: 100 });
const sData: Step = (cv) => cv.s('PA', { len: 200 });
const cFin: Step = (cv) => cv.c('FA');
const sFin: Step = (cv) => cv.s('FA');
const cRst: Step = (cv) => cv.c('R');
const sRst: Step = (cv) => cv.s('R');

interface Example {
  n: string;
  what: string;
  steps: Step[];
  history: string;
  connState: string;
  ports?: { cPort?: number; sPort?: number };
}

/** Zeek §5, TCP rows (the UDP and ICMP rows and the not-reproduced ones are below). */
const TCP_EXAMPLES: Example[] = [
  { n: '1', what: 'C SYN; S SYN/ACK; C ACK; C data; S data; C FIN; S ACK; S FIN; C ACK', steps: [cSyn, sSynAck, cAck, cData, sData, cFin, sAck, sFin, cAck], history: 'ShADdFaf', connState: 'SF' },
  {
    n: '1b',
    what: 'as 1 but S closes first (S ACKs, sends data, FIN; C ACK, FIN; S ACK)',
    steps: [cSyn, sSynAck, cAck, cData, sAck, sData, sFin, cAck, cFin, sAck],
    history: 'ShADadfF',
    connState: 'SF',
  },
  { n: '2', what: 'C SYN only', steps: [cSyn], history: 'S', connState: 'S0' },
  { n: '3', what: 'C SYN; S RST+ACK', steps: [cSyn, (cv) => cv.s('RA', { seq: 0, ack: 1001 })], history: 'Sr', connState: 'REJ' },
  { n: '4', what: 'C SYN; C RST', steps: [cSyn, cRst], history: 'SR', connState: 'RSTOS0' },
  { n: '5', what: 'C SYN; S pure ACK (no SYN); C RST', steps: [cSyn, (cv) => cv.s('A', { seq: 0, ack: 0 }), cRst], history: 'SaR', connState: 'RSTOS0' },
  {
    n: '6',
    what: 'C SYN; S ACK; C FIN; C RST (regex fails on F)',
    steps: [cSyn, (cv) => cv.s('A', { seq: 0, ack: 0 }), (cv) => cv.c('F'), cRst],
    history: 'SaFR',
    connState: 'OTH',
  },
  { n: '7', what: 'a single RST', steps: [cRst], history: 'R', connState: 'OTH' },
  { n: '8', what: 'C SYN; S SYN/ACK; C RST', steps: [cSyn, sSynAck, cRst], history: 'ShR', connState: 'RSTO' },
  { n: '9', what: 'C SYN; S SYN/ACK; C ACK; data; C RST', steps: [cSyn, sSynAck, cAck, cData, sAck, sData, cRst], history: 'ShADadR', connState: 'RSTO' },
  { n: '10', what: 'C SYN; S SYN/ACK; C ACK; data; S RST', steps: [cSyn, sSynAck, cAck, cData, sAck, sData, sRst], history: 'ShADadr', connState: 'RSTR' },
  {
    n: '11',
    what: 'starts with S SYN/ACK from a likely server port, then a normal exchange and FINs',
    steps: [sSynAck, cAck, cData, sData, cFin, sAck, sFin, cAck],
    history: '^hADdFaf',
    connState: 'SF',
    ports: { sPort: HTTP },
  },
  { n: '12', what: 'S SYN/ACK (flipped) then S RST', steps: [sSynAck, sRst], history: '^hr', connState: 'RSTRH', ports: { sPort: HTTP } },
  { n: '13', what: 'S SYN/ACK (flipped) then S FIN', steps: [sSynAck, sFin], history: '^hf', connState: 'SHR', ports: { sPort: HTTP } },
  // Not flipped (neither port is a likely server port): the SYN/ACK sender is the originator, SYN_ACK_SENT.
  { n: '14', what: 'S SYN/ACK, not flipped, C RST', steps: [sSynAck, cRst], history: 'Hr', connState: 'REJ' },
  { n: '15', what: 'one-way data, no SYN, from the client side', steps: [cData], history: 'D', connState: 'OTH' },
  { n: '16', what: 'one-way data, no SYN, from a likely server port', steps: [sData], history: '^d', connState: 'OTH', ports: { sPort: HTTP } },
  { n: '17', what: 'mid-stream both directions, no FIN', steps: [cData, sData, cAck, sAck], history: 'DdAa', connState: 'OTH' },
  { n: '18', what: 'mid-stream both directions, FINs both ways', steps: [cData, sData, cFin, sFin], history: 'DdFf', connState: 'SF' },
  { n: '19', what: 'C SYN; C FIN (no answer)', steps: [cSyn, (cv) => cv.c('F')], history: 'SF', connState: 'SH' },
  { n: '20', what: 'C SYN; S SYN/ACK; C ACK; C FIN; S ACK (no S FIN)', steps: [cSyn, sSynAck, cAck, cFin, sAck], history: 'ShAFa', connState: 'S2' },
  { n: '21', what: 'C SYN; S SYN/ACK; C ACK; S FIN; C ACK (no C FIN)', steps: [cSyn, sSynAck, cAck, sFin, cAck], history: 'ShAf', connState: 'S3' },
  { n: '22', what: 'C SYN; S SYN/ACK (nothing else)', steps: [cSyn, sSynAck], history: 'Sh', connState: 'S1' },
  { n: '23', what: 'lone FIN from C', steps: [cFin], history: 'F', connState: 'SH' },
  {
    n: '26',
    what: 'full handshake + data, C FIN, S FIN, then C RST',
    steps: [cSyn, sSynAck, cAck, cData, sAck, sData, cFin, sFin, cRst],
    history: 'ShADadFfR',
    connState: 'SF',
  },
];

describe('Zeek §5 worked examples: TCP', () => {
  for (const ex of TCP_EXAMPLES) {
    it(`#${ex.n}: ${ex.what} → ${ex.history} ${ex.connState}`, async () => {
      const { flow, all } = await zeekOf(tcpCapture(ex.steps, ex.ports));
      expectZeek(flow, ex.history, ex.connState, all);
    });
  }

  it('#11/#12/#16: after a flip the originator is the client (conn.log orig_h/orig_p), not the first sender', async () => {
    const { flow } = await zeekOf(tcpCapture([sSynAck, sRst], { sPort: HTTP }));
    expect(flow).toMatchObject({ orig_h: C.ip, orig_p: CLIENT_PORT, resp_h: S.ip, resp_p: HTTP });
  });

  it('#14: not flipped: the SYN/ACK sender is the originator', async () => {
    const { flow } = await zeekOf(tcpCapture([sSynAck, cRst]));
    expect(flow).toMatchObject({ orig_h: S.ip, orig_p: PLAIN_PORT, resp_h: C.ip, resp_p: CLIENT_PORT });
  });
});

describe('Zeek §5 worked examples: UDP and ICMP', () => {
  it('#27: UDP request + response → Dd SF', async () => {
    const b = new CaptureBuilder();
    b.at(0).udp(C, S, { sport: CLIENT_PORT, dport: PLAIN_PORT, len: 20 });
    b.at(0.001).udp(S, C, { sport: PLAIN_PORT, dport: CLIENT_PORT, len: 40 });
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, 'Dd', 'SF', all);
  });

  it('#28: UDP one-way → D S0', async () => {
    const b = new CaptureBuilder();
    b.at(0).udp(C, S, { sport: CLIENT_PORT, dport: PLAIN_PORT, len: 20 });
    b.at(0.5).udp(C, S, { sport: CLIENT_PORT, dport: PLAIN_PORT, len: 20 });
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, 'D', 'S0', all);
  });

  it('#29: UDP response only, from a likely server port (flip) → ^d SHR; the originator is the client', async () => {
    const b = new CaptureBuilder();
    b.at(0).udp(S, C, { sport: 53, dport: CLIENT_PORT, len: 40 });
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, '^d', 'SHR', all);
    expect(flow).toMatchObject({ orig_h: C.ip, orig_p: CLIENT_PORT, resp_h: S.ip, resp_p: 53, orig_pkts: 0, resp_pkts: 1 });
  });

  it('UDP: a zero-length datagram still gives D (§3.2 "any length")', async () => {
    const b = new CaptureBuilder();
    b.at(0).udp(C, S, { sport: CLIENT_PORT, dport: PLAIN_PORT, len: 0 });
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, 'D', 'S0', all);
  });

  it('#30: ICMP echo request + reply → no history letters ("-" in conn.log, "" in the export), OTH', async () => {
    const b = new CaptureBuilder();
    b.at(0).ping(C, S, { type: 8, id: 5, seq: 1 });
    b.at(0.001).ping(S, C, { type: 0, id: 5, seq: 1 });
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, '', 'OTH', all);
  });
});

describe('Zeek §5 worked examples not reproduced by pcapscan', () => {
  /** A SYN with a correct TCP checksum, then made wrong (RFC 793 pseudo-header sum). */
  function synWithBadChecksum(): Uint8Array {
    const seg = tcp({ sport: CLIENT_PORT, dport: PLAIN_PORT, flags: 'S', seq: 1000 });
    const pseudo = concat(ipBytes(C.ip), ipBytes(S.ip), Uint8Array.of(0, 6, 0, seg.length));
    const good = inetChecksum(concat(pseudo, seg));
    const bad = (good + 1) & 0xffff;
    seg[16] = bad >>> 8;
    seg[17] = bad & 0xff;
    return ethernet({ src: C.mac, dst: S.mac, type: 0x0800 }, ipv4({ src: C.ip, dst: S.ip, proto: 6 }, seg));
  }

  // Not reproduced by design (src/flows/zeek.ts header): TCP checksums are not verified (like
  // `zeek -C`), so the C letter never appears and the bad packet is processed as a SYN (history S, S0).
  it.fails('#24: one TCP SYN with a bad checksum → C, OTH (needs checksum validation)', async () => {
    const b = new CaptureBuilder();
    b.at(0).add(synWithBadChecksum());
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, 'C', 'OTH', all);
  });

  // Not reproduced by design (src/flows/zeek.ts header): a flow follows the conntrack entry, so
  // Zeek's IsReuse() split (§2.4, §2.5: a responder SYN with another ISN ends the connection and starts
  // a new one with the other host as originator) does not happen; the notes mark this unverified.
  it.fails('#25: simultaneous open with different ISNs → two connections: S S0, then Sh… from the other side', async () => {
    const b = tcpCapture([cSyn, (cv) => cv.s('S'), (cv) => cv.s('SA', { seq: 5000 }), (cv) => cv.c('SA', { seq: 1000 }), cAck]);
    const run = await runFlows(b);
    expect(run.flows, describeFlows(run.flows)).toHaveLength(2);
    const [first, second] = [...run.flows].sort((x, y) => x.first_frame - y.first_frame) as [FlowLine, FlowLine];
    expect({ h: first.history, cs: first.conn_state, orig: first.orig_h }).toEqual({ h: 'S', cs: 'S0', orig: C.ip });
    expect(second.orig_h).toBe(S.ip);
    expect(second.history.startsWith('Sh')).toBe(true);
  });
});

describe('history letters (Zeek §3.1)', () => {
  it('T: a retransmitted data segment adds T after D; T is logarithmic (1st, 10th, … occurrence)', async () => {
    const retrans: Step = (cv) => cv.c('PA', { seq: 1001, len: 100 });
    const once = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, cData, retrans]));
    expectZeek(once.flow, 'ShADT', 'S1', once.all);
    const ten = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, cData, ...Array<Step>(10).fill(retrans)]));
    expectZeek(ten.flow, 'ShADTT', 'S1', ten.all);
    const nine = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, cData, ...Array<Step>(9).fill(retrans)]));
    expectZeek(nine.flow, 'ShADT', 'S1', nine.all);
  });

  it('D then T in one packet: an endpoint’s first data packet that does not advance its sequence (order: letters, then W, then T)', async () => {
    const { flow, all } = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, (cv) => cv.c('PA', { seq: 901, len: 100 })]));
    expectZeek(flow, 'ShADT', 'S1', all);
  });

  it('W: a zero window from the responder gives w (lower case: the responder)', async () => {
    const { flow, all } = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, (cv) => cv.s('A', { window: 0 })]));
    expectZeek(flow, 'ShAaw', 'S1', all);
  });

  it('W is not recorded for a RST with window 0', async () => {
    const { flow, all } = await zeekOf(tcpCapture([cSyn, (cv) => cv.s('RA', { seq: 0, ack: 1001, window: 0 })]));
    expectZeek(flow, 'Sr', 'REJ', all);
  });

  it('I: FIN and RST together (once per direction); the sender is RESET', async () => {
    const { flow, all } = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, (cv) => cv.c('FRA'), (cv) => cv.c('FRA', { seq: 1500 })]));
    expectZeek(flow, 'ShAI', 'RSTO', all);
  });

  it('Q: SYN+FIN (SYN and FIN states both set in order: SYN_SENT, then CLOSED → SH)', async () => {
    const { flow, all } = await zeekOf(tcpCapture([(cv) => cv.c('SF')]));
    expectZeek(flow, 'Q', 'SH', all);
  });

  it('F/R repeat only with a new sequence number: a retransmitted RST adds nothing, a RST with another seq adds R', async () => {
    const r1: Step = (cv) => cv.c('R', { seq: 1001 });
    const r2: Step = (cv) => cv.c('R', { seq: 1101 });
    const { flow, all } = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, r1, r1, r2]));
    expectZeek(flow, 'ShARR', 'RSTO', all);
  });

  it('F: a retransmitted FIN adds nothing; A and D are recorded once per direction', async () => {
    const fin: Step = (cv) => cv.c('FA', { seq: 1101 });
    const { flow, all } = await zeekOf(tcpCapture([cSyn, sSynAck, cAck, cData, cAck, cData, fin, fin, sAck, sFin, cAck]));
    expectZeek(flow, 'ShADFaf', 'SF', all);
  });

  it('S/H share a mask: a retransmitted SYN adds nothing; the responder’s SYN/ACK retransmission adds nothing', async () => {
    const { flow, all } = await zeekOf(tcpCapture([cSyn, (cv) => cv.c('S', { seq: 1000 }), sSynAck, (cv) => cv.s('SA', { seq: 5000 }), cAck]));
    expectZeek(flow, 'ShA', 'S1', all);
  });
});

describe('originator and flips (Zeek §2.1)', () => {
  it('a plain SYN is never flipped, even from a likely server port', async () => {
    const { flow, all } = await zeekOf(tcpCapture([(cv) => cv.s('S')], { sPort: HTTP }));
    expectZeek(flow, 'S', 'S0', all);
    expect(flow).toMatchObject({ orig_h: S.ip, orig_p: HTTP });
  });

  it('both ports likely: a SYN+ACK is not flipped (it has SYN); data from the lower port is flipped, from the higher is not', async () => {
    const synack = await zeekOf(tcpCapture([sSynAck], { cPort: 443, sPort: HTTP }));
    expectZeek(synack.flow, 'H', 'OTH', synack.all);
    const fromLower = await zeekOf(tcpCapture([sData], { cPort: 443, sPort: HTTP })); // 80 → 443
    expectZeek(fromLower.flow, '^d', 'OTH', fromLower.all);
    const fromHigher = await zeekOf(tcpCapture([cData], { cPort: 443, sPort: HTTP })); // 443 → 80
    expectZeek(fromHigher.flow, 'D', 'OTH', fromHigher.all);
  });

  it('UDP flips only when the source port is likely and the destination port is not', async () => {
    const b = new CaptureBuilder();
    b.at(0).udp(S, C, { sport: 53, dport: 123, len: 10 }); // both likely (DNS, NTP): no flip
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, 'D', 'S0', all);
  });

  it('the likely-server-port set is an option: without 80 in it, a SYN/ACK from 80 is not flipped', async () => {
    const run = await runFlows(tcpCapture([sSynAck, sRst], { sPort: HTTP }), { tracker: { zeekLikelyServerPorts: [] } });
    const f = onlyFlow(run.flows);
    // S is then the originator in SYN_ACK_SENT, and its own RST makes it RESET: os RESET, rs INACTIVE,
    // history "HR" fails the RSTOS0 pattern (needs S first) → OTH.
    expectZeek(f, 'HR', 'OTH', run.flows);
  });

  // BUG (src/flows/tracker.ts newFlow → zeek.ts zeekFlipsAtStart): Zeek does not flip when the
  // destination is a broadcast address (§2.1; IPAddr::IsBroadcast is 255.255.255.255 for IPv4), but
  // the tracker does not pass the destination address, so a datagram from port 53 to
  // 255.255.255.255:40000 is flipped (history "^d", SHR, originator 255.255.255.255).
  it('no flip towards the broadcast address 255.255.255.255', async () => {
    const b = new CaptureBuilder();
    const bcast: Host = { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255' };
    b.at(0).udp(S, bcast, { sport: 53, dport: CLIENT_PORT, len: 10 });
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, 'D', 'S0', all);
    expect(flow.orig_h).toBe(S.ip);
  });
});

describe('packets Zeek ignores (Zeek §2.2 step 2)', () => {
  // BUG (src/flows/tracker.ts process): a TCP packet with a bad data offset (decoder event
  // decoder.tcp.bad_header_length) still drives the Zeek endpoint logic. Zeek raises
  // bad_TCP_header_len / truncated_header and ignores the packet: the connection exists but gets no
  // history letters and ends OTH. pcapscan records "S" and S0.
  it('a SYN whose data offset runs past the segment adds no letter: empty history, OTH', async () => {
    const seg = tcp({ sport: CLIENT_PORT, dport: PLAIN_PORT, flags: 'S', seq: 1000 });
    seg[12] = (15 << 4) | (seg[12]! & 0x0f);
    const b = new CaptureBuilder();
    b.at(0).add(ethernet({ src: C.mac, dst: S.mac, type: 0x0800 }, ipv4({ src: C.ip, dst: S.ip, proto: 6 }, seg)));
    const { flow, all } = await zeekOf(b);
    expectZeek(flow, '', 'OTH', all);
  });
});
