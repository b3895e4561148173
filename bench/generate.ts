/**
 * Synthetic classic-pcap captures for the benchmark.
 *
 * The generator writes bytes straight into one large reused buffer and streams it to disk with
 * fs.writeSync: no object per frame, flow state in typed arrays. A fixed number of TCP flow
 * "slots" are live at any moment; each frame picks a slot at random and emits that flow's next
 * packet (SYN, SYN+ACK, ACK, data/ACK..., then FIN/FIN/ACK, a RST, or nothing). When a flow ends
 * a new one takes its slot. So the number of concurrently live flows is a parameter of its own,
 * independent of the file length: a file twice as long has twice as many distinct flows, not
 * twice as many live ones.
 *
 * All checksums (IPv4 header, TCP, UDP, ICMP) are correct; frames shorter than 60 bytes are
 * padded as Ethernet requires (the IPv4 total length excludes the padding).
 *
 * Run directly: `node dist/bench/generate.js [--quick] [--only small|large] [--force]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bumped whenever the bytes the generator writes for a given spec change. */
export const GENERATOR_VERSION = 2;

export interface CaptureSpec {
  /** Total records in the file. */
  frames: number;
  /** TCP flows open at any moment (the flow slots). */
  liveFlows: number;
  /** Distinct client hosts (10.16.0.10, 10.16.1.10, ...: one per /24) and server hosts (spread over public space). */
  clientHosts: number;
  serverHosts: number;
  /** Data/ACK frames per TCP flow after the 3-way handshake (uniform in [min, max]). */
  dataFramesMin: number;
  dataFramesMax: number;
  /** TCP payload bytes of a data frame (uniform in [min, max]); VLAN-tagged frames carry 4 bytes less when small. */
  payloadMin: number;
  payloadMax: number;
  /** Share of data-phase frames that are pure ACKs (no payload). */
  pureAckPercent: number;
  /** Share of data frames sent by the server (the rest by the client). */
  serverDataPercent: number;
  /** How flows end: FIN, FIN+ACK, ACK (finPercent), a RST (rstPercent), or not at all (the rest). */
  finPercent: number;
  rstPercent: number;
  /** Flows whose frames carry an 802.1Q tag, per thousand flows. */
  vlanFlowsPerMille: number;
  /** Non-TCP frames, per thousand frames. */
  arpPerMille: number;
  udpPerMille: number;
  icmpPerMille: number;
  /** Mean gap between frames in microseconds (uniform in [0, 2 * mean]). */
  avgGapUs: number;
  /** Timestamp of the first frame, seconds since the epoch. */
  startSec: number;
  seed: number;
}

export interface CaptureStats {
  frames: number;
  bytes: number;
  tcpFrames: number;
  udpFrames: number;
  arpFrames: number;
  icmpFrames: number;
  vlanFrames: number;
  /** Distinct TCP flows started (a flow = one connection, both directions). */
  tcpFlows: number;
  synFrames: number;
  finFrames: number;
  rstFrames: number;
  minFrameBytes: number;
  maxFrameBytes: number;
  minTcpFrameBytes: number;
  maxTcpFrameBytes: number;
  /** Frames of exactly 1514 bytes. */
  fullSizeFrames: number;
  firstTs: number;
  lastTs: number;
}

export interface GeneratedCapture {
  path: string;
  spec: CaptureSpec;
  stats: CaptureStats;
  /** True if the file was (re)written by this call. */
  generated: boolean;
  /** Seconds spent generating (0 when reused). */
  seconds: number;
}

/** 5M small TCP frames (60-66 bytes) over >250k flows, with a little ARP, UDP, ICMP and VLAN. */
export const SMALL_FRAMES: CaptureSpec = {
  frames: 5_000_000,
  liveFlows: 20_000,
  clientHosts: 8192,
  serverHosts: 20_000,
  dataFramesMin: 1,
  dataFramesMax: 20,
  payloadMin: 1,
  payloadMax: 12,
  pureAckPercent: 50,
  serverDataPercent: 50,
  finPercent: 60,
  rstPercent: 10,
  vlanFlowsPerMille: 10,
  arpPerMille: 2,
  udpPerMille: 5,
  icmpPerMille: 2,
  avgGapUs: 36, // 5M frames in about 3 minutes
  startSec: 1_700_000_000,
  seed: 0x5eed_0001,
};

/**
 * The small-frame traffic with every flow ending (FIN or RST), at a rate (about 4,000 frames/s)
 * that makes even a 1M-frame file span four minutes: the flows conntrack holds (open ones, plus
 * those closing or in TIME_WAIT for 120 s) level off after two minutes, so a longer file has more
 * flows but not more live ones. For "does memory stay flat" runs.
 */
export const FLAT_FRAMES: CaptureSpec = { ...SMALL_FRAMES, finPercent: 85, rstPercent: 15, avgGapUs: 240, seed: 0x5eed_0003 };

/** ~720k full-size frames (1514 bytes, 1.1 GB), a few live bulk flows. */
export const FULL_SIZE_FRAMES: CaptureSpec = {
  frames: 720_000,
  liveFlows: 64,
  clientHosts: 64,
  serverHosts: 64,
  dataFramesMin: 200,
  dataFramesMax: 800,
  payloadMin: 1460,
  payloadMax: 1460,
  pureAckPercent: 0,
  serverDataPercent: 80,
  finPercent: 90,
  rstPercent: 5,
  vlanFlowsPerMille: 0,
  arpPerMille: 0,
  udpPerMille: 0,
  icmpPerMille: 0,
  avgGapUs: 170, // about 2 minutes
  startSec: 1_700_000_000,
  seed: 0x5eed_0002,
};

/** The same traffic (same live flows, same rate), `frames` long: for "does memory stay flat" runs. */
export function withFrames(spec: CaptureSpec, frames: number): CaptureSpec {
  return { ...spec, frames };
}

/** The spec that gives about `bytes` of file with the spec's frame sizes (full-size captures). */
export function withBytes(spec: CaptureSpec, bytes: number): CaptureSpec {
  const perFrame = 16 + 54 + spec.payloadMax;
  return { ...spec, frames: Math.ceil(bytes / perFrame / 1000) * 1000 };
}

const SIDECAR_SUFFIX = '.params.json';

/**
 * Returns the capture at `file`, generating it first if it is missing or was generated from
 * other parameters (a sidecar `<file>.params.json` keeps them).
 */
export function ensureCapture(file: string, spec: CaptureSpec, opts: { force?: boolean; log?: (msg: string) => void } = {}): GeneratedCapture {
  const sidecar = file + SIDECAR_SUFFIX;
  if (!opts.force && fs.existsSync(file) && fs.existsSync(sidecar)) {
    try {
      const saved = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as { version: number; spec: CaptureSpec; stats: CaptureStats };
      if (saved.version === GENERATOR_VERSION && sameSpec(saved.spec, spec) && fs.statSync(file).size === saved.stats.bytes) {
        return { path: file, spec, stats: saved.stats, generated: false, seconds: 0 };
      }
    } catch {
      // unreadable sidecar: regenerate
    }
  }
  opts.log?.(`generating ${file} (${spec.frames.toLocaleString('en-US')} frames)...`);
  const t0 = process.hrtime.bigint();
  const stats = generateCapture(file, spec);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.writeFileSync(sidecar, JSON.stringify({ version: GENERATOR_VERSION, spec, stats, generatedAt: new Date().toISOString(), seconds }, null, 2) + '\n');
  return { path: file, spec, stats, generated: true, seconds };
}

function sameSpec(a: CaptureSpec, b: CaptureSpec): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => a[k as keyof CaptureSpec] === b[k as keyof CaptureSpec]);
}

// ---------------------------------------------------------------------------------------------
// The generator.

const BUF_BYTES = 16 * 1024 * 1024;
/** Room for the largest record (16 + 1514 + a VLAN tag), with margin. */
const MAX_RECORD = 2048;
const MIN_FRAME = 60;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

// Flow phases.
const P_SYN = 0;
const P_SYNACK = 1;
const P_ACK = 2;
const P_DATA = 3;
const P_FIN1 = 4;
const P_FIN2 = 5;
const P_LASTACK = 6;
const P_RST = 7;

const SERVER_PORTS = [443, 80, 443, 443, 8080, 22, 3306, 5432, 443, 993, 25, 8443];
const PAYLOAD_VARIANTS = 16;

/**
 * Writes a classic pcap (microsecond, little-endian, Ethernet) capture to `file` (via a
 * temporary file renamed at the end, so an interrupted run leaves no half file) and returns
 * what it wrote.
 */
export function generateCapture(file: string, spec: CaptureSpec): CaptureStats {
  validate(spec);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const stats = new Generator(spec, fd).run();
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    return stats;
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

function validate(s: CaptureSpec): void {
  const ok =
    s.frames > 0 &&
    s.liveFlows > 0 &&
    s.clientHosts > 0 &&
    s.clientHosts <= 0x100000 &&
    s.serverHosts > 0 &&
    s.dataFramesMin >= 0 &&
    s.dataFramesMax >= s.dataFramesMin &&
    s.payloadMin >= 0 &&
    s.payloadMax >= s.payloadMin &&
    s.payloadMax <= 1460 &&
    s.arpPerMille + s.udpPerMille + s.icmpPerMille <= 1000 &&
    s.finPercent + s.rstPercent <= 100;
  if (!ok) throw new Error(`invalid capture spec: ${JSON.stringify(s)}`);
}

class Generator {
  private readonly buf = Buffer.alloc(BUF_BYTES);
  private pos = 0;
  private rng: number;

  // Flow slots.
  private readonly cIp: Uint32Array;
  private readonly sIp: Uint32Array;
  private readonly cPort: Uint16Array;
  private readonly sPort: Uint16Array;
  private readonly cSeq: Uint32Array;
  private readonly sSeq: Uint32Array;
  private readonly cIpId: Uint16Array;
  private readonly sIpId: Uint16Array;
  private readonly vlan: Uint16Array;
  private readonly phase: Uint8Array;
  private readonly ending: Uint8Array;
  private readonly dataLeft: Int32Array;

  /** Random payload bytes, and the one's-complement sums of the full-size variants. */
  private readonly payload: Buffer;
  private readonly payloadSums: Float64Array;

  private tsSec: number;
  private tsUs = 0;
  private readonly s: CaptureStats;

  constructor(
    private readonly spec: CaptureSpec,
    private readonly fd: number,
  ) {
    this.rng = spec.seed >>> 0 || 1;
    const n = spec.liveFlows;
    this.cIp = new Uint32Array(n);
    this.sIp = new Uint32Array(n);
    this.cPort = new Uint16Array(n);
    this.sPort = new Uint16Array(n);
    this.cSeq = new Uint32Array(n);
    this.sSeq = new Uint32Array(n);
    this.cIpId = new Uint16Array(n);
    this.sIpId = new Uint16Array(n);
    this.vlan = new Uint16Array(n);
    this.phase = new Uint8Array(n);
    this.ending = new Uint8Array(n);
    this.dataLeft = new Int32Array(n);
    this.payload = Buffer.alloc(PAYLOAD_VARIANTS * 1460 + 64);
    for (let i = 0; i < this.payload.length; i++) this.payload[i] = this.next() & 0xff;
    this.payloadSums = new Float64Array(PAYLOAD_VARIANTS);
    for (let v = 0; v < PAYLOAD_VARIANTS; v++) this.payloadSums[v] = sum16(this.payload, v * 1460, 1460);
    this.tsSec = spec.startSec;
    this.s = {
      frames: 0,
      bytes: 0,
      tcpFrames: 0,
      udpFrames: 0,
      arpFrames: 0,
      icmpFrames: 0,
      vlanFrames: 0,
      tcpFlows: 0,
      synFrames: 0,
      finFrames: 0,
      rstFrames: 0,
      minFrameBytes: Infinity,
      maxFrameBytes: 0,
      minTcpFrameBytes: Infinity,
      maxTcpFrameBytes: 0,
      fullSizeFrames: 0,
      firstTs: 0,
      lastTs: 0,
    };
  }

  /** xorshift32: a uint32. */
  private next(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }

  /** Uniform in [lo, hi]. */
  private between(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }

  run(): CaptureStats {
    const spec = this.spec;
    this.writeFileHeader();
    for (let i = 0; i < spec.liveFlows; i++) this.newFlow(i);
    const arpCut = spec.arpPerMille;
    const udpCut = arpCut + spec.udpPerMille;
    const icmpCut = udpCut + spec.icmpPerMille;
    const gapSpan = spec.avgGapUs * 2 + 1;
    this.s.firstTs = this.tsSec;
    for (let i = 0; i < spec.frames; i++) {
      if (this.pos > BUF_BYTES - MAX_RECORD) this.flush();
      if (i > 0) {
        this.tsUs += this.next() % gapSpan;
        if (this.tsUs >= 1_000_000) {
          this.tsSec += Math.floor(this.tsUs / 1_000_000);
          this.tsUs %= 1_000_000;
        }
      }
      const kind = icmpCut > 0 ? this.next() % 1000 : 1000;
      if (kind < arpCut) this.arp();
      else if (kind < udpCut) this.udp();
      else if (kind < icmpCut) this.icmp();
      else this.tcp(this.next() % spec.liveFlows);
    }
    this.flush();
    this.s.lastTs = this.tsSec + this.tsUs / 1e6;
    if (this.s.frames === 0) this.s.minFrameBytes = 0;
    if (this.s.tcpFrames === 0) this.s.minTcpFrameBytes = 0;
    return this.s;
  }

  private flush(): void {
    let off = 0;
    while (off < this.pos) off += fs.writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  private writeFileHeader(): void {
    const b = this.buf;
    let p = this.pos;
    p = w32le(b, p, 0xa1b2c3d4);
    b[p++] = 2;
    b[p++] = 0;
    b[p++] = 4;
    b[p++] = 0;
    p = w32le(b, p, 0); // thiszone
    p = w32le(b, p, 0); // sigfigs
    p = w32le(b, p, 65535); // snaplen
    p = w32le(b, p, 1); // Ethernet
    this.pos = p;
    this.s.bytes += 24;
  }

  private newFlow(i: number): void {
    const spec = this.spec;
    this.cIp[i] = this.clientIp();
    this.sIp[i] = this.serverIp();
    this.cPort[i] = 32768 + (this.next() % 28232);
    this.sPort[i] = SERVER_PORTS[this.next() % SERVER_PORTS.length]!;
    this.cSeq[i] = this.next();
    this.sSeq[i] = this.next();
    this.cIpId[i] = this.next() & 0xffff;
    this.sIpId[i] = this.next() & 0xffff;
    this.vlan[i] = spec.vlanFlowsPerMille > 0 && this.next() % 1000 < spec.vlanFlowsPerMille ? 100 + (this.next() % 3900) : 0;
    this.phase[i] = P_SYN;
    const e = this.next() % 100;
    this.ending[i] = e < spec.finPercent ? P_FIN1 : e < spec.finPercent + spec.rstPercent ? P_RST : 255;
    this.dataLeft[i] = this.between(spec.dataFramesMin, spec.dataFramesMax);
    this.s.tcpFlows++;
  }

  /** A random client host: 10.x.y.10, one per /24 from 10.16.0.0 on. */
  private clientIp(): number {
    const idx = this.next() % this.spec.clientHosts;
    return (0x0a100000 + (idx << 8) + 10) >>> 0;
  }

  /** A random server host: a fixed scramble of its index over 11.0.0.0-222.255.255.255, skipping some private/special /8s. */
  private serverIp(): number {
    const idx = this.next() % this.spec.serverHosts;
    let h = Math.imul(idx + 1, 0x9e3779b1) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    let first = 11 + ((h >>> 24) % 212);
    if (first === 100 || first === 127 || first === 169 || first === 172 || first === 192) first++;
    return ((first << 24) | (h & 0xffffff)) >>> 0;
  }

  /** Emits the next packet of flow `i`, then advances its state. */
  private tcp(i: number): void {
    const spec = this.spec;
    const ph = this.phase[i]!;
    let fromClient: boolean;
    let flags: number;
    let payloadLen = 0;
    let options = false;
    switch (ph) {
      case P_SYN:
        fromClient = true;
        flags = SYN;
        options = true;
        break;
      case P_SYNACK:
        fromClient = false;
        flags = SYN | ACK;
        options = true;
        break;
      case P_ACK:
        fromClient = true;
        flags = ACK;
        break;
      case P_DATA:
        fromClient = this.next() % 100 >= spec.serverDataPercent;
        flags = ACK;
        if (this.next() % 100 >= spec.pureAckPercent) {
          payloadLen = this.between(spec.payloadMin, spec.payloadMax);
          if (this.vlan[i] !== 0 && payloadLen > 1400) payloadLen -= 4; // keep tagged frames within 1518
          else if (this.vlan[i] !== 0 && payloadLen > 8) payloadLen = 8; // small frames stay <= 66 bytes
          if (payloadLen > 0) flags |= PSH;
        }
        break;
      case P_FIN1:
        fromClient = true;
        flags = FIN | ACK;
        break;
      case P_FIN2:
        fromClient = false;
        flags = FIN | ACK;
        break;
      case P_LASTACK:
        fromClient = true;
        flags = ACK;
        break;
      default: // P_RST
        fromClient = this.next() % 2 === 0;
        flags = RST | ACK;
        break;
    }
    this.writeTcp(i, fromClient, flags, payloadLen, options);
    // Sequence space: SYN and FIN count for one, data for its length.
    const consumed = payloadLen + ((flags & (SYN | FIN)) !== 0 ? 1 : 0);
    if (fromClient) this.cSeq[i] = (this.cSeq[i]! + consumed) >>> 0;
    else this.sSeq[i] = (this.sSeq[i]! + consumed) >>> 0;
    // Next phase.
    switch (ph) {
      case P_SYN:
      case P_SYNACK:
        this.phase[i] = ph + 1;
        return;
      case P_ACK:
      case P_DATA:
        if (ph === P_DATA) this.dataLeft[i]!--;
        if (this.dataLeft[i]! > 0) {
          this.phase[i] = P_DATA;
          return;
        }
        if (this.ending[i] === 255) this.newFlow(i);
        else this.phase[i] = this.ending[i]!;
        return;
      case P_FIN1:
      case P_FIN2:
        this.phase[i] = ph + 1;
        return;
      default: // last ACK or RST sent
        this.newFlow(i);
    }
  }

  private writeTcp(i: number, fromClient: boolean, flags: number, payloadLen: number, options: boolean): void {
    const b = this.buf;
    const vlan = this.vlan[i]!;
    const src = fromClient ? this.cIp[i]! : this.sIp[i]!;
    const dst = fromClient ? this.sIp[i]! : this.cIp[i]!;
    const srcPort = fromClient ? this.cPort[i]! : this.sPort[i]!;
    const dstPort = fromClient ? this.sPort[i]! : this.cPort[i]!;
    const seq = fromClient ? this.cSeq[i]! : this.sSeq[i]!;
    const ack = (flags & ACK) !== 0 ? (fromClient ? this.sSeq[i]! : this.cSeq[i]!) : 0;
    let ipId: number;
    if (fromClient) ipId = this.cIpId[i] = (this.cIpId[i]! + 1) & 0xffff;
    else ipId = this.sIpId[i] = (this.sIpId[i]! + 1) & 0xffff;
    // Tagged SYNs carry 8 bytes of options so the frame stays within 66 bytes; untagged ones 12.
    const optLen = options ? (vlan !== 0 ? 8 : 12) : 0;
    const tcpHdr = 20 + optLen;
    const ipTotal = 20 + tcpHdr + payloadLen;

    const rec = this.pos;
    let p = this.ethernet(rec + 16, fromClient ? src : dst, fromClient, vlan, 0x0800);
    p = this.ipv4(p, ipTotal, ipId, fromClient ? 64 : 52, 6, src, dst);
    const tcpOff = p;
    p = w16be(b, p, srcPort);
    p = w16be(b, p, dstPort);
    p = w32be(b, p, seq);
    p = w32be(b, p, ack);
    b[p++] = (tcpHdr / 4) << 4;
    b[p++] = flags;
    p = w16be(b, p, flags & SYN ? 64240 : fromClient ? 502 : 8192); // window
    p = w16be(b, p, 0); // checksum, filled below
    p = w16be(b, p, 0); // urgent
    if (optLen > 0) {
      // MSS 1460, then SACK permitted (and window scale 7 when untagged).
      b[p++] = 2;
      b[p++] = 4;
      p = w16be(b, p, 1460);
      if (optLen === 12) {
        b[p++] = 1;
        b[p++] = 3;
        b[p++] = 3;
        b[p++] = 7;
      } else {
        b[p++] = 1;
        b[p++] = 1;
      }
      b[p++] = 4;
      b[p++] = 2;
      if (optLen === 12) {
        b[p++] = 1;
        b[p++] = 1;
      }
    }
    let sum = pseudoSum(src, dst, 6, tcpHdr + payloadLen) + sum16(b, tcpOff, tcpHdr);
    if (payloadLen > 0) {
      if (payloadLen === 1460) {
        const v = this.next() % PAYLOAD_VARIANTS;
        this.payload.copy(b, p, v * 1460, v * 1460 + 1460);
        sum += this.payloadSums[v]!;
      } else {
        const from = this.next() % 1024;
        this.payload.copy(b, p, from, from + payloadLen);
        sum += sum16(b, p, payloadLen);
      }
      p += payloadLen;
    }
    w16be(b, tcpOff + 16, finish(sum));
    const s = this.s;
    s.tcpFrames++;
    if (flags & SYN) s.synFrames++;
    if (flags & FIN) s.finFrames++;
    if (flags & RST) s.rstFrames++;
    const len = this.endRecord(rec, p, vlan !== 0);
    if (len < s.minTcpFrameBytes) s.minTcpFrameBytes = len;
    if (len > s.maxTcpFrameBytes) s.maxTcpFrameBytes = len;
  }

  /** Ethernet (and optional 802.1Q) header. Clients get 02:00:<ip>; servers are behind the router 00:1b:21:0a:00:01. */
  private ethernet(p: number, clientIp: number, fromClient: boolean, vlan: number, type: number): number {
    const b = this.buf;
    if (fromClient) {
      p = this.routerMac(p);
      p = this.hostMac(p, clientIp);
    } else {
      p = this.hostMac(p, clientIp);
      p = this.routerMac(p);
    }
    if (vlan !== 0) {
      p = w16be(b, p, 0x8100);
      p = w16be(b, p, vlan);
    }
    return w16be(b, p, type);
  }

  private hostMac(p: number, ip: number): number {
    const b = this.buf;
    b[p++] = 0x02;
    b[p++] = 0x00;
    return w32be(b, p, ip);
  }

  private routerMac(p: number): number {
    const b = this.buf;
    b[p++] = 0x00;
    b[p++] = 0x1b;
    b[p++] = 0x21;
    b[p++] = 0x0a;
    b[p++] = 0x00;
    b[p++] = 0x01;
    return p;
  }

  /** 20-byte IPv4 header with DF set and a correct checksum. */
  private ipv4(p: number, total: number, id: number, ttl: number, proto: number, src: number, dst: number): number {
    const b = this.buf;
    const start = p;
    b[p++] = 0x45;
    b[p++] = 0;
    p = w16be(b, p, total);
    p = w16be(b, p, id);
    p = w16be(b, p, 0x4000);
    b[p++] = ttl;
    b[p++] = proto;
    p = w16be(b, p, 0);
    p = w32be(b, p, src);
    p = w32be(b, p, dst);
    w16be(b, start + 10, finish(sum16(b, start, 20)));
    return p;
  }

  /** Pads to 60 bytes, writes the record header, counts; returns the frame length. `end` is one past the last frame byte. */
  private endRecord(rec: number, end: number, tagged: boolean): number {
    const b = this.buf;
    const frameStart = rec + 16;
    let len = end - frameStart;
    if (len < MIN_FRAME) {
      b.fill(0, end, frameStart + MIN_FRAME);
      len = MIN_FRAME;
    }
    let p = rec;
    p = w32le(b, p, this.tsSec);
    p = w32le(b, p, this.tsUs);
    p = w32le(b, p, len);
    w32le(b, p, len);
    this.pos = frameStart + len;
    const s = this.s;
    s.frames++;
    s.bytes += 16 + len;
    if (tagged) s.vlanFrames++;
    if (len < s.minFrameBytes) s.minFrameBytes = len;
    if (len > s.maxFrameBytes) s.maxFrameBytes = len;
    if (len === 1514) s.fullSizeFrames++;
    return len;
  }

  /** ARP between a client host and its gateway (x.y.z.1): a broadcast who-has, or the gateway's reply. */
  private arp(): void {
    const b = this.buf;
    const rec = this.pos;
    const reply = this.next() % 3 === 0;
    const asker = this.clientIp();
    const target = ((asker & 0xffffff00) | 1) >>> 0;
    let p = rec + 16;
    if (reply) {
      p = this.hostMac(p, asker);
      p = this.routerMac(p);
    } else {
      for (let k = 0; k < 6; k++) b[p++] = 0xff;
      p = this.hostMac(p, asker);
    }
    p = w16be(b, p, 0x0806);
    p = w16be(b, p, 1); // Ethernet
    p = w16be(b, p, 0x0800);
    b[p++] = 6;
    b[p++] = 4;
    p = w16be(b, p, reply ? 2 : 1);
    if (reply) {
      p = this.routerMac(p);
      p = w32be(b, p, target);
      p = this.hostMac(p, asker);
      p = w32be(b, p, asker);
    } else {
      p = this.hostMac(p, asker);
      p = w32be(b, p, asker);
      for (let k = 0; k < 6; k++) b[p++] = 0;
      p = w32be(b, p, target);
    }
    this.s.arpFrames++;
    this.endRecord(rec, p, false);
  }

  /** UDP: a DNS query or answer. */
  private udp(): void {
    const b = this.buf;
    const rec = this.pos;
    const client = this.clientIp();
    const server = (0x0a350000 | (this.next() & 0x3)) >>> 0; // resolvers 10.53.0.0-3
    const fromClient = this.next() % 2 === 0;
    const cPort = 32768 + (this.next() % 28232);
    // A well-formed DNS query or NXDOMAIN answer for <label>.lan (so dissectors parse it cleanly).
    const labelLen = this.between(1, 7);
    const payloadLen = 12 + 1 + labelLen + 5 + 4;
    const src = fromClient ? client : server;
    const dst = fromClient ? server : client;
    const udpLen = 8 + payloadLen;
    let p = this.ethernet(rec + 16, client, fromClient, 0, 0x0800);
    p = this.ipv4(p, 20 + udpLen, this.next() & 0xffff, 64, 17, src, dst);
    const udpOff = p;
    p = w16be(b, p, fromClient ? cPort : 53);
    p = w16be(b, p, fromClient ? 53 : cPort);
    p = w16be(b, p, udpLen);
    p = w16be(b, p, 0);
    p = w16be(b, p, this.next() & 0xffff); // id
    p = w16be(b, p, fromClient ? 0x0100 : 0x8183); // query, RD / response, RD RA, NXDOMAIN
    p = w16be(b, p, 1); // questions
    p = w16be(b, p, 0);
    p = w16be(b, p, 0);
    p = w16be(b, p, 0);
    b[p++] = labelLen;
    for (let k = 0; k < labelLen; k++) b[p++] = 0x61 + (this.next() % 26);
    b[p++] = 3;
    b[p++] = 0x6c; // lan
    b[p++] = 0x61;
    b[p++] = 0x6e;
    b[p++] = 0;
    p = w16be(b, p, 1); // A
    p = w16be(b, p, 1); // IN
    const c = finish(pseudoSum(src, dst, 17, udpLen) + sum16(b, udpOff, udpLen));
    w16be(b, udpOff + 6, c === 0 ? 0xffff : c);
    this.s.udpFrames++;
    this.endRecord(rec, p, false);
  }

  /** ICMP: mostly echo request/reply; one in ten a port unreachable quoting a UDP datagram. */
  private icmp(): void {
    const b = this.buf;
    const rec = this.pos;
    const host = this.clientIp();
    const peer = this.serverIp();
    const r = this.next() % 10;
    const fromHost = r < 5;
    const src = fromHost ? host : peer;
    const dst = fromHost ? peer : host;
    const icmpLen = r === 9 ? 8 + 20 + 8 : 8 + 16;
    let p = this.ethernet(rec + 16, host, fromHost, 0, 0x0800);
    p = this.ipv4(p, 20 + icmpLen, this.next() & 0xffff, 64, 1, src, dst);
    const icmpOff = p;
    if (r === 9) {
      // Destination port unreachable, from the peer, quoting the host's UDP datagram.
      b[p++] = 3;
      b[p++] = 3;
      p = w16be(b, p, 0);
      p = w32be(b, p, 0);
      const quotedSrc = dst;
      const quotedDst = src;
      const q = p;
      b[p++] = 0x45;
      b[p++] = 0;
      p = w16be(b, p, 20 + 8 + 12);
      p = w16be(b, p, this.next() & 0xffff);
      p = w16be(b, p, 0x4000);
      b[p++] = 64;
      b[p++] = 17;
      p = w16be(b, p, 0);
      p = w32be(b, p, quotedSrc);
      p = w32be(b, p, quotedDst);
      w16be(b, q + 10, finish(sum16(b, q, 20)));
      p = w16be(b, p, 32768 + (this.next() % 28232));
      p = w16be(b, p, 33434 + (this.next() % 100));
      p = w16be(b, p, 20);
      p = w16be(b, p, 0);
    } else {
      b[p++] = r % 2 === 0 ? 8 : 0; // request / reply
      b[p++] = 0;
      p = w16be(b, p, 0);
      p = w16be(b, p, this.next() & 0xffff);
      p = w16be(b, p, this.next() & 0xffff);
      const from = this.next() % 1024;
      this.payload.copy(b, p, from, from + 16);
      p += 16;
    }
    w16be(b, icmpOff + 2, finish(sum16(b, icmpOff, icmpLen)));
    this.s.icmpFrames++;
    this.endRecord(rec, p, false);
  }
}

function w16be(b: Uint8Array, p: number, v: number): number {
  b[p] = v >>> 8;
  b[p + 1] = v;
  return p + 2;
}

function w32be(b: Uint8Array, p: number, v: number): number {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
  return p + 4;
}

function w32le(b: Uint8Array, p: number, v: number): number {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
  return p + 4;
}

/** Sum of the big-endian 16-bit words of `b[off..off+len)` (a last odd byte is padded with 0); not folded. */
function sum16(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i === end) sum += b[i]! << 8;
  return sum;
}

function pseudoSum(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

/** Folds a sum to 16 bits and complements it: the checksum field value. */
function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

// ---------------------------------------------------------------------------------------------
// The bench's captures.

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench');
export const OUT_DIR = path.join(BENCH_DIR, 'out');

export interface BenchCapture {
  id: 'small' | 'large';
  title: string;
  file: string;
  spec: CaptureSpec;
}

/** The two captures of the benchmark; `quick` gives smaller ones (1M frames, 200 MB) under other names. */
export function benchCaptures(quick: boolean): BenchCapture[] {
  const small = quick ? withFrames(SMALL_FRAMES, 1_000_000) : SMALL_FRAMES;
  const large = quick ? withBytes(FULL_SIZE_FRAMES, 200e6) : FULL_SIZE_FRAMES;
  return [
    {
      id: 'small',
      title: 'small frames (60-66 B TCP, many flows)',
      file: path.join(OUT_DIR, `small-${compact(small.frames)}.pcap`),
      spec: small,
    },
    {
      id: 'large',
      title: 'full-size frames (1514 B TCP, few flows)',
      file: path.join(OUT_DIR, `large-${compact(large.frames)}.pcap`),
      spec: large,
    },
  ];
}

function compact(n: number): string {
  if (n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const force = args.includes('--force');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  for (const c of benchCaptures(quick)) {
    if (only && c.id !== only) continue;
    const g = ensureCapture(c.file, c.spec, { force, log: (m) => console.log(m) });
    const s = g.stats;
    console.log(
      `${g.generated ? `generated in ${g.seconds.toFixed(1)} s` : 'up to date'}: ${c.file}: ${s.frames.toLocaleString('en-US')} frames, ` +
        `${(s.bytes / 1e6).toFixed(1)} MB, ${s.tcpFlows.toLocaleString('en-US')} TCP flows, frames ${s.minFrameBytes}-${s.maxFrameBytes} B`,
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
