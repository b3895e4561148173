import { Ev } from '../events.js';
import { Layer, type Frame } from '../decode/frame.js';
import { formatEtherType } from '../report/format.js';
import { linkTypeName } from '../capture/linktypes.js';
import { ipProtoName } from '../decode/ipproto.js';

/**
 * Per-capture counters for the summary: frames and bytes, time span, frames per link type,
 * EtherType and IP protocol. Typed-array counters indexed by the wire value, so counting a
 * frame is a few increments and no lookup by string.
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
  ipv4Frames = 0;
  ipv6Frames = 0;
  truncatedFrames = 0;

  private readonly etherTypes = new Float64Array(65536);
  private readonly ipProtocols = new Float64Array(256);
  private readonly linkTypes = new Map<number, number>();
  private lastLinkType = Number.NaN;
  private lastLinkCount = 0;
  private prevSec = -Infinity;
  private prevNs = 0;

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
    if (f.hasTimestamp) this.addTime(f.tsSec, f.tsNs);
    const layers = f.layers;
    if (f.truncated) this.truncatedFrames++;
    if ((layers & (Layer.ETHERNET | Layer.SLL | Layer.RAW_IP)) !== 0) {
      if (f.lengthField !== 0 || ((layers & Layer.LLC) !== 0 && f.etherType === 0)) this.llcFrames++;
      else if (f.etherType !== 0) this.etherTypes[f.etherType]++;
    }
    if ((layers & Layer.VLAN) !== 0) this.vlanFrames++;
    if ((layers & Layer.STP) !== 0) this.stpFrames++;
    if ((layers & Layer.IPV4) !== 0) {
      this.ipv4Frames++;
      this.ipProtocols[f.ipProto]++;
    } else if ((layers & Layer.IPV6) !== 0) {
      this.ipv6Frames++;
    }
  }

  private addTime(sec: number, ns: number): void {
    if (sec < this.startSec || (sec === this.startSec && ns < this.startNs)) {
      this.startSec = sec;
      this.startNs = ns;
    }
    if (sec > this.endSec || (sec === this.endSec && ns > this.endNs)) {
      this.endSec = sec;
      this.endNs = ns;
    }
    if (sec < this.prevSec || (sec === this.prevSec && ns < this.prevNs)) this.events[Ev.TS_BACKWARDS]++;
    this.prevSec = sec;
    this.prevNs = ns;
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
    const out: Record<string, number> = {};
    for (let t = 0; t < 65536; t++) if (this.etherTypes[t] !== 0) out[formatEtherType(t)] = this.etherTypes[t];
    if (this.llcFrames > 0) out['802.3'] = this.llcFrames;
    return out;
  }

  /** Raw count for one EtherType. */
  etherTypeCount(type: number): number {
    return this.etherTypes[type];
  }

  /** IPv4 frames per protocol, keyed by name ("TCP", "proto 253"). */
  ipProtocolCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let p = 0; p < 256; p++) if (this.ipProtocols[p] !== 0) out[ipProtoName(p)] = this.ipProtocols[p];
    return out;
  }
}
