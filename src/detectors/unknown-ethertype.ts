/**
 * l2.unknown_ethertype: frames whose EtherType (after any VLAN tags) is >= 0x0600 and in no
 * registry this tool knows, like the 0xfe68 an ISP box sent next to STP in incident 3. One
 * finding per (EtherType, source MAC, destination MAC), with frames, bytes, the period and its
 * jitter, the class of the destination address and the first payload bytes.
 */
import { LinkType } from '../capture/linktypes.js';
import { isKnownEtherType, MIN_ETHERTYPE } from '../decode/ethertypes.js';
import type { Frame } from '../decode/frame.js';
import { formatDuration, formatEtherType, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding } from './finding.js';
import { GapStats, hexBytes, isLocalMac, macClass, macClassShort, macClassText, plural, sampleFrame, Span, type MacClass } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'l2.unknown_ethertype';

const OPT_LOW_FRAMES = 'unknown-ethertype-low-frames';
const OPT_PAYLOAD_BYTES = 'unknown-ethertype-payload-bytes';

/** Linux cooked capture packet types (the destination MAC is not recorded there). */
const SLL_CLASS: readonly MacClass[] = ['unicast', 'broadcast', 'multicast', 'unicast', 'unknown'];

interface Entry {
  type: number;
  src: number;
  dst: number;
  /** Destination MAC known (Ethernet), or only the SLL packet type. */
  dstKnown: boolean;
  dstClass: MacClass;
  frames: number;
  bytes: number;
  span: Span;
  gaps: GapStats;
  sample: EvidenceSample;
  /** The first bytes after the type field, from the first frame. */
  payload: Uint8Array;
  /** VLAN ids seen (outermost tag), at most a few. */
  vlans: number[];
  untagged: boolean;
}

interface Partial {
  entries: Entry[];
}

/** Bytes from the start of the link header to the first type field, by link type. */
function linkHeaderBytes(linkType: number): number {
  switch (linkType) {
    case LinkType.ETHERNET:
      return 14;
    case LinkType.LINUX_SLL:
      return 16;
    case LinkType.LINUX_SLL2:
      return 20;
    default:
      return -1;
  }
}

class UnknownEtherTypeLink implements LinkDetector {
  readonly interest = FrameClass.OTHER_ETHERTYPE;
  /** Entries by source MAC (a source rarely sends more than one or two such streams). */
  private readonly bySrc = new Map<number, Entry[]>();
  private readonly all: Entry[] = [];
  private last: Entry | null = null;

  constructor(private readonly payloadBytes: number) {}

  onFrame(f: Frame): void {
    const type = f.etherType;
    if (type < MIN_ETHERTYPE || isKnownEtherType(type)) return;
    const src = f.srcMac;
    const dstKnown = f.linkType === LinkType.ETHERNET;
    const dst = dstKnown ? f.dstMac : -1 - Math.max(f.sllPacketType, 0);
    let e = this.last;
    if (e === null || e.type !== type || e.src !== src || e.dst !== dst) {
      e = this.find(type, src, dst) ?? this.create(f, type, src, dst, dstKnown);
      this.last = e;
    }
    e.frames++;
    e.bytes += f.wireLen;
    e.span.add(f);
    e.gaps.add(f.tsSec, f.tsNs);
    if (f.vlanDepth === 0) e.untagged = true;
    else if (e.vlans.length < 8 && !e.vlans.includes(f.vlan0)) e.vlans.push(f.vlan0);
    sampleFrame(e.sample, f, 'unknown EtherType');
  }

  private find(type: number, src: number, dst: number): Entry | undefined {
    const list = this.bySrc.get(src);
    if (list === undefined) return undefined;
    for (const e of list) if (e.type === type && e.dst === dst) return e;
    return undefined;
  }

  private create(f: Frame, type: number, src: number, dst: number, dstKnown: boolean): Entry {
    const hdr = linkHeaderBytes(f.linkType);
    let payload = new Uint8Array(0);
    if (hdr >= 0) {
      const start = f.off + hdr + 4 * f.vlanDepth;
      const end = Math.min(f.off + f.capLen, start + this.payloadBytes);
      if (end > start) payload = f.buf.slice(start, end);
    }
    const e: Entry = {
      type,
      src,
      dst,
      dstKnown,
      dstClass: dstKnown ? macClass(dst) : (SLL_CLASS[f.sllPacketType] ?? 'unknown'),
      frames: 0,
      bytes: 0,
      span: new Span(),
      gaps: new GapStats(),
      sample: new EvidenceSample(),
      payload,
      vlans: [],
      untagged: false,
    };
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

function explanation(e: Entry, typeHex: string): string {
  const dst = e.dstKnown ? `The destination ${formatMac(e.dst)} is ${macClassText(e.dstClass, e.dst)}. ` : '';
  const reach =
    e.dstClass === 'ieee-reserved'
      ? 'Bridges do not forward this reserved group address, so only the device on the other end of the link receives it.'
      : e.dstClass === 'unicast'
        ? 'It is addressed to one station, but a switch that has not learned that address floods it to every port.'
        : 'A group address: every switch and Linux bridge floods it to all ports, so every host of the segment (and every VM behind a bridge) receives it.';
  return (
    `${formatMac(e.src)} sends frames of EtherType ${typeHex}, a type that is in no registry this tool knows: a protocol nobody else on the segment speaks. ` +
    'This is usually the proprietary management, keep-alive or discovery beacon of an ISP router/modem, a powerline or mesh adapter, or a vendor switch (incident 3: an ISP box sending 0xfe68 about every second). ' +
    `${dst}${reach} ` +
    'A Linux host has no handler for the type: it discards each such frame and counts it in the receiving interface\'s rx_dropped (the "dropped" column of `ip -s link`), which is what makes monitoring raise alarms about packet drops. ' +
    'Otherwise it is harmless: nothing answers, it costs no measurable bandwidth, and no real traffic is being dropped.'
  );
}

function remediation(e: Entry, typeHex: string): string {
  const src = formatMac(e.src);
  const tagged = e.vlans.length > 0;
  const parts = [
    `Filter it on the Linux bridge before the stack counts it: \`ebtables -A INPUT -p ${typeHex} -j DROP\` (add \`-s ${src}\` to drop only this sender, and \`ebtables -A FORWARD -p ${typeHex} -j DROP\` to keep it from the other bridge ports and VMs too); persist it (netfilter-persistent with an ebtables plugin).`,
    `With nftables: \`nft add table bridge filter\`, \`nft add chain bridge filter input '{ type filter hook input priority -200; policy accept; }'\`, \`nft add rule bridge filter input ether type ${typeHex} drop\` (same in a forward chain for the other ports), saved in /etc/nftables.conf.`,
  ];
  if (tagged) parts.push(`The frames are VLAN-tagged: match the inner type with \`ebtables -A INPUT -p 802_1Q --vlan-encap ${typeHex} -j DROP\` or \`nft add rule bridge filter input vlan type ${typeHex} drop\`.`);
  parts.push(`Better, stop it at the source: turn the feature off on the device that owns ${src} (ISP box management/mesh settings), or drop EtherType ${typeHex} with a MAC ACL on the switch port it enters on. The rx_dropped counters then stop growing; nothing else changes.`);
  return parts.join(' ');
}

export const unknownEtherTypeDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    {
      key: OPT_LOW_FRAMES,
      description: 'frames of one unknown EtherType stream (type, source, destination) from which it is reported as low severity; fewer are info (a one-off frame is more likely noise)',
      default: 3,
      min: 1,
      max: 1e9,
      unit: 'frames',
      integer: true,
    },
    {
      key: OPT_PAYLOAD_BYTES,
      description: 'bytes of the first frame after the type field shown in hex for an unknown EtherType',
      default: 16,
      min: 0,
      max: 64,
      unit: 'bytes',
      integer: true,
    },
  ],
  createLink(options: OptionValues): LinkDetector {
    return new UnknownEtherTypeLink(options[OPT_PAYLOAD_BYTES] ?? 16);
  },
  reduce(partials, ctx): Finding[] {
    const lowFrames = ctx.options[OPT_LOW_FRAMES] ?? 3;
    const entries = (partials as Partial[]).flatMap((p) => p.entries);
    entries.sort((a, b) => a.type - b.type || a.src - b.src || a.dst - b.dst);
    return entries.map((e) => {
      const typeHex = formatEtherType(e.type);
      const dstText = e.dstKnown ? formatMac(e.dst) : 'an unrecorded destination';
      const period = e.gaps.describe();
      const seconds = e.span.seconds();
      const summary =
        `${plural(e.frames, 'frame')} (${e.bytes} bytes) of unknown EtherType ${typeHex} from ${formatMac(e.src)} to ${dstText} (${macClassShort(e.dstClass, e.dst)})` +
        (period ? `, ${period} over ${formatDuration(seconds)}` : '');
      const vlans = [...e.vlans].sort((a, b) => a - b);
      return makeFinding({
        id: ID,
        severity: e.frames >= lowFrames ? 'low' : 'info',
        subject: `EtherType ${typeHex} from ${formatMac(e.src)} to ${e.dstKnown ? formatMac(e.dst) : '?'}`,
        summary,
        count: e.frames,
        first: e.span.first(),
        last: e.span.last(),
        evidence: e.sample.items.map((it) => ({ ...it, what: `EtherType ${typeHex} (unknown)` })),
        evidenceTotal: e.sample.total,
        explanation: explanation(e, typeHex),
        remediation: remediation(e, typeHex),
        details: {
          etherType: typeHex,
          srcMac: formatMac(e.src),
          srcLocallyAdministered: isLocalMac(e.src),
          dstMac: e.dstKnown ? formatMac(e.dst) : null,
          dstClass: e.dstClass,
          dstLocallyAdministered: e.dstKnown ? isLocalMac(e.dst) : null,
          frames: e.frames,
          bytes: e.bytes,
          seconds: Math.round(seconds * 1e9) / 1e9,
          period: e.gaps.toJSON(),
          payloadHex: hexBytes(e.payload),
          vlans,
          untagged: e.untagged,
        },
      });
    });
  },
};
