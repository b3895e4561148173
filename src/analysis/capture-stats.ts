import { Ev } from '../events.js';
import { Layer, type Frame } from '../decode/frame.js';
import { formatEtherType } from '../report/format.js';
import { linkTypeName } from '../capture/linktypes.js';
import { ipProtoName } from '../decode/ipproto.js';

/** Layers that the common frame does not have: counted apart (addUncommon). */
const UNCOMMON_LAYERS = Layer.VLAN | Layer.LLC | Layer.STP | Layer.IPV6;
/** Link layers with a type field (or an implied one) whose EtherType is counted. */
const TYPED_LINKS = Layer.ETHERNET | Layer.SLL | Layer.RAW_IP;

/**
 * Per-capture counters for the summary: frames and bytes, time span, frames per link type,
 * EtherType and IP protocol. Counters indexed by the wire value (runs of the same value counted in
 * integers first), so counting a frame is a few compares and increments and no lookup by string.
 */
export class CaptureStats {
  frames = 0;
  /** Sum of the lengths on the wire. */
  wireBytes = 0;
  /** Sum of the captured lengths. */
  capturedBytes = 0;
  /** Earliest and latest timestamps (a capture may go back in time); frames without a time are left out. */
  startSec = Infinity;
  startNs = 0;
  endSec = -Infinity;
  endNs = 0;
  stpFrames = 0;
  vlanFrames = 0;
  /** 802.3 length frames (LLC follows). */
  llcFrames = 0;
  ipv6Frames = 0;
  truncatedFrames = 0;

  private readonly etherTypes = new Float64Array(65536);
  private readonly ipProtocols = new Float64Array(256);
  /**
   * EtherTypes and IP protocols come in long runs (nearly all IPv4 and TCP): the current run is
   * counted in integer fields and added to the arrays when the value changes (or when read). An
   * array element incremented every frame measured 4-5 ns a frame each.
   */
  private etherTypeRun = 0;
  private etherTypeRunFrames = 0;
  private ipProtocolRun = 0;
  private ipProtocolRunFrames = 0;
  private readonly linkTypes = new Map<number, number>();
  private lastLinkType = Number.NaN;
  private lastLinkCount = 0;
  /** The previous frame's time, when it is not the latest (`prevIsEnd` 0); see addTime. */
  private prevSec = -Infinity;
  private prevNs = 0;
  private prevIsEnd = 0;

  constructor(private readonly events: Float64Array) {}

  add(f: Frame): void {
    this.frames++;
    if (f.linkType < 0) {
      // A non-packet record (pcapng custom block): a frame in Wireshark's numbering, nothing more.
      this.countLinkType(f.linkType);
      return;
    }
    this.wireBytes += f.wireLen;
    this.capturedBytes += f.capLen;
    this.countLinkType(f.linkType);
    if (f.hasTimestamp) {
      // Nearly every frame is the latest so far: it becomes the end, and the previous frame
      // (never later than the end) cannot be later than it.
      const sec = f.tsSec;
      const ns = f.tsNs;
      if (sec === this.endSec && ns >= this.endNs) {
        this.endNs = ns;
        this.prevIsEnd = 1;
      } else {
        this.addTime(sec, ns);
      }
    }
    const layers = f.layers;
    if (f.truncated) this.truncatedFrames++;
    if ((layers & UNCOMMON_LAYERS) === 0 && f.lengthField === 0) {
      // The common frame (no tag, no LLC, no IPv6): an EtherType, and perhaps an IPv4 protocol.
      if ((layers & TYPED_LINKS) !== 0 && f.etherType !== 0) this.countEtherType(f.etherType);
      if ((layers & Layer.IPV4) !== 0) this.countIpProtocol(f.ipProto);
      return;
    }
    this.addUncommon(f, layers);
  }

  private addUncommon(f: Frame, layers: number): void {
    if ((layers & TYPED_LINKS) !== 0) {
      if (f.lengthField !== 0 || ((layers & Layer.LLC) !== 0 && f.etherType === 0)) this.llcFrames++;
      else if (f.etherType !== 0) this.countEtherType(f.etherType);
    }
    if ((layers & Layer.VLAN) !== 0) this.vlanFrames++;
    if ((layers & Layer.STP) !== 0) this.stpFrames++;
    if ((layers & Layer.IPV4) !== 0) this.countIpProtocol(f.ipProto);
    else if ((layers & Layer.IPV6) !== 0) this.ipv6Frames++;
  }

  private countEtherType(type: number): void {
    if (type === this.etherTypeRun) this.etherTypeRunFrames++;
    else this.startEtherTypeRun(type);
  }

  private countIpProtocol(proto: number): void {
    if (proto === this.ipProtocolRun) this.ipProtocolRunFrames++;
    else this.startIpProtocolRun(proto);
  }

  /** IPv4 frames: every one is counted under its protocol. */
  get ipv4Frames(): number {
    this.flushRuns();
    let n = 0;
    for (let p = 0; p < 256; p++) n += this.ipProtocols[p];
    return n;
  }

  private startEtherTypeRun(type: number): void {
    this.etherTypes[this.etherTypeRun] += this.etherTypeRunFrames;
    this.etherTypeRun = type;
    this.etherTypeRunFrames = 1;
  }

  private startIpProtocolRun(proto: number): void {
    this.ipProtocols[this.ipProtocolRun] += this.ipProtocolRunFrames;
    this.ipProtocolRun = proto;
    this.ipProtocolRunFrames = 1;
  }

  /** Adds the current runs to the arrays, before they are read. */
  private flushRuns(): void {
    this.startEtherTypeRun(this.etherTypeRun);
    this.etherTypeRunFrames = 0;
    this.startIpProtocolRun(this.ipProtocolRun);
    this.ipProtocolRunFrames = 0;
  }

  /** The other cases: a new second, the first frame, or a frame earlier than the latest. */
  private addTime(sec: number, ns: number): void {
    if (sec > this.endSec || (sec === this.endSec && ns >= this.endNs)) {
      // The latest so far, so not earlier than the previous frame; only the first can be the start.
      if (this.startSec === Infinity) {
        this.startSec = sec;
        this.startNs = ns;
      }
      this.endSec = sec;
      this.endNs = ns;
      this.prevIsEnd = 1;
      return;
    }
    if (sec < this.startSec || (sec === this.startSec && ns < this.startNs)) {
      this.startSec = sec;
      this.startNs = ns;
    }
    const prevSec = this.prevIsEnd ? this.endSec : this.prevSec;
    const prevNs = this.prevIsEnd ? this.endNs : this.prevNs;
    if (sec < prevSec || (sec === prevSec && ns < prevNs)) this.events[Ev.TS_BACKWARDS]++;
    this.prevSec = sec;
    this.prevNs = ns;
    this.prevIsEnd = 0;
  }

  /** Link types change rarely: count runs, and flush a run into the map when the type changes. */
  private countLinkType(linkType: number): void {
    if (linkType !== this.lastLinkType) {
      this.flushLinkType();
      this.lastLinkType = linkType;
    }
    this.lastLinkCount++;
  }

  private flushLinkType(): void {
    if (this.lastLinkCount > 0) {
      this.linkTypes.set(this.lastLinkType, (this.linkTypes.get(this.lastLinkType) ?? 0) + this.lastLinkCount);
    }
    this.lastLinkCount = 0;
  }

  /** Frames per link type, e.g. `{ "ETHERNET(1)": 12 }`. */
  linkTypeCounts(): Record<string, number> {
    this.flushLinkType();
    const out: Record<string, number> = {};
    for (const [lt, n] of [...this.linkTypes].sort((a, b) => a[0] - b[0])) out[linkTypeName(lt)] = n;
    return out;
  }

  /** Frames per EtherType, keyed "0x0800", plus "802.3" for length frames. */
  etherTypeCounts(): Record<string, number> {
    this.flushRuns();
    const out: Record<string, number> = {};
    for (let t = 0; t < 65536; t++) if (this.etherTypes[t] !== 0) out[formatEtherType(t)] = this.etherTypes[t];
    if (this.llcFrames > 0) out['802.3'] = this.llcFrames;
    return out;
  }

  /** Raw count for one EtherType. */
  etherTypeCount(type: number): number {
    this.flushRuns();
    return this.etherTypes[type];
  }

  /** IPv4 frames per protocol, keyed by name ("TCP", "proto 253"). */
  ipProtocolCounts(): Record<string, number> {
    this.flushRuns();
    const out: Record<string, number> = {};
    for (let p = 0; p < 256; p++) if (this.ipProtocols[p] !== 0) out[ipProtoName(p)] = this.ipProtocols[p];
    return out;
  }
}
