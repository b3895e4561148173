/**
 * l2.invalid_ethertype: a type/length field between 1501 and 1535 (0x05dd-0x05ff), which is
 * neither an 802.3 length (<= 1500) nor an EtherType (>= 1536). One finding per (value, source MAC).
 */
import type { Frame } from '../decode/frame.js';
import { formatEtherType, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding } from './finding.js';
import { plural, sampleFrame, Span } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'l2.invalid_ethertype';

const OPT_MIN_FRAMES = 'invalid-ethertype-min-frames';

interface Entry {
  value: number;
  src: number;
  /** Destination MACs: the first one and how many distinct ones (up to a few). */
  dsts: number[];
  bytes: number;
  span: Span;
  sample: EvidenceSample;
}

interface Partial {
  entries: Entry[];
}

class InvalidEtherTypeLink implements LinkDetector {
  readonly interest = FrameClass.INVALID_TYPE;
  private readonly bySrc = new Map<number, Entry[]>();
  private readonly all: Entry[] = [];
  private last: Entry | null = null;

  onFrame(f: Frame): void {
    const value = f.etherType;
    const src = f.srcMac;
    let e = this.last;
    if (e === null || e.value !== value || e.src !== src) {
      e = this.find(value, src) ?? this.create(value, src);
      this.last = e;
    }
    e.span.add(f);
    e.bytes += f.wireLen;
    if (e.dsts.length < 8 && !e.dsts.includes(f.dstMac)) e.dsts.push(f.dstMac);
    sampleFrame(e.sample, f, 'invalid type/length field');
  }

  private find(value: number, src: number): Entry | undefined {
    const list = this.bySrc.get(src);
    if (list === undefined) return undefined;
    for (const e of list) if (e.value === value) return e;
    return undefined;
  }

  private create(value: number, src: number): Entry {
    const e: Entry = { value, src, dsts: [], bytes: 0, span: new Span(), sample: new EvidenceSample() };
    let list = this.bySrc.get(src);
    if (list === undefined) {
      list = [];
      this.bySrc.set(src, list);
    }
    list.push(e);
    this.all.push(e);
    return e;
  }

  partial(): Partial {
    return { entries: this.all };
  }
}

export const invalidEtherTypeDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    {
      key: OPT_MIN_FRAMES,
      description: 'frames with one invalid type/length value from one source MAC before it is reported',
      default: 1,
      min: 1,
      max: 1e9,
      unit: 'frames',
      integer: true,
    },
  ],
  createLink(_options: OptionValues): LinkDetector {
    return new InvalidEtherTypeLink();
  },
  reduce(partials, ctx): Finding[] {
    const minFrames = ctx.options[OPT_MIN_FRAMES] ?? 1;
    const entries = (partials as Partial[]).flatMap((p) => p.entries).filter((e) => e.span.n >= minFrames);
    entries.sort((a, b) => a.value - b.value || a.src - b.src);
    return entries.map((e) => {
      const hex = formatEtherType(e.value);
      const src = formatMac(e.src);
      const n = e.span.n;
      const headerLength = e.value - 14 >= 46 && e.value - 14 <= 1500;
      return makeFinding({
        id: ID,
        severity: 'low',
        subject: `type/length ${e.value} (${hex}) from ${src}`,
        summary: `${plural(n, 'frame')} from ${src} with type/length field ${e.value} (${hex}): neither an 802.3 length (<= 1500) nor an EtherType (>= 1536)`,
        count: n,
        first: e.span.first(),
        last: e.span.last(),
        evidence: e.sample.items.map((it) => ({ ...it, what: `type/length ${e.value} (${hex})` })),
        evidenceTotal: e.sample.total,
        explanation:
          `The two bytes after the MAC addresses are either the length of an 802.3 frame (at most 1500) or an EtherType (1536 = 0x0600 and above); ${e.value} is neither, so no receiver can tell what the frame carries and every stack drops it. ` +
          'No protocol sends this: it comes from a broken NIC driver or firmware, a buggy software encapsulation' +
          (headerLength ? ` (a length written with the 14-byte Ethernet header included: ${e.value} - 14 = ${e.value - 14} would be a valid 802.3 length)` : '') +
          ', a packet generator, or corruption on the way (a faulty port or cable, a broken switch).',
        remediation:
          `Find the sender by its MAC: \`bridge fdb show | grep -i ${src}\` on a Linux bridge, \`show mac address-table address ${src}\` on the switch, \`ip neigh | grep -i ${src}\` for its IP. ` +
          'On that host check the NIC driver and firmware (`ethtool -i <if>`, update them) and any software that builds raw frames; check the port and the cable (`ethtool -S <if>` error counters, the switch port\'s CRC/alignment errors) and replace what is faulty.',
        details: {
          value: e.value,
          hex,
          srcMac: src,
          dstMacs: [...e.dsts].sort((a, b) => a - b).map(formatMac),
          frames: n,
          bytes: e.bytes,
        },
      });
    });
  },
};
