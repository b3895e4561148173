/**
 * Cross-check of the decoder against tshark on the public capture corpus.
 *
 * Every capture with frames of a link type we decode with an EtherType (Ethernet 1, Linux SLL
 * 113, SLL2 276, RAW 101/12/14, IPV4 228, NFLOG 239; a pcapng may mix interfaces, only those
 * frames count)
 * is read with our reader + decoder and with `tshark -T fields`; frame by frame (aligned on
 * frame.number) the link, VLAN, ARP, IPv4, TCP, UDP and ICMP fields must agree. What tshark
 * shows and we do not (or the reverse) is a disagreement; each must be listed in KNOWN with its
 * reason, and a KNOWN row that no longer matches anything fails the test, so the list stays true.
 */
import { expect, it } from 'vitest';
import { readCapture } from '../../src/capture/reader.js';
import type { CaptureRecord } from '../../src/capture/record.js';
import { decodeRecord } from '../../src/decode/decoder.js';
import { Frame } from '../../src/decode/frame.js';
import { newEventCounters } from '../../src/events.js';
import { CROSSCHECK_FIELDS, frameFields, type CrosscheckField } from '../helpers/frame-fields.js';
import { describeWithPublicCaptures, loadPublicCaptures } from '../helpers/public-captures.js';
import { mapLimit, tsharkFields, tsharkVersion } from '../helpers/tshark.js';

/** Link types compared: those whose frames carry (or imply) an EtherType. */
const COMPARED_LINK_TYPES = new Set([1, 113, 276, 101, 12, 14, 228, 239]);

/**
 * tshark fields asked for (after frame.number), every occurrence, comma-joined; the first
 * occurrence is used (as `-E occurrence=f` would give) except where tshark's protocol stack
 * (frame.protocols) says which occurrence belongs to which header: the VLAN tags, and the IPv4
 * header and L4 ports an ICMP error quotes.
 */
const TSHARK_FIELDS = [
  'frame.protocols',
  'eth.src',
  'eth.dst',
  'eth.type',
  'eth.len',
  'vlan.id',
  'vlan.etype',
  'ieee8021ad.id',
  'ieee8021ah.etype',
  'sll.src.eth',
  'sll.etype',
  'sll.ltype',
  'arp.opcode',
  'arp.src.hw_mac',
  'arp.src.proto_ipv4',
  'arp.dst.hw_mac',
  'arp.dst.proto_ipv4',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.len',
  'ip.id',
  'ip.flags.df',
  'ip.flags.mf',
  'ip.frag_offset',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'tcp.seq',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmp.code',
  'nflog.res_id',
  'nflog.prefix',
] as const;

/**
 * Preferences that make tshark's fields those of each frame on its own, as a per-frame decoder
 * sees it: no IP reassembly (a reassembled datagram moves the L4 fields to the last fragment), no
 * TCP reassembly, sequence analysis or relative numbers (raw numbers, each segment alone). tshark
 * keeps its defaults otherwise: its heuristics and port-based dissectors only add layers above
 * the ones we decode, and `ip.tso_support` (on by default) is the same reading of a zero IPv4
 * total length as ours. No personal preferences are read (see tsharkEnv).
 */
const TSHARK_PREFS = [
  'ip.defragment:FALSE',
  'tcp.desegment_tcp_streams:FALSE',
  'tcp.analyze_sequence_numbers:FALSE',
  'tcp.relative_sequence_numbers:FALSE',
  'tcp.calculate_timestamps:FALSE',
  'tcp.track_bytes_in_flight:FALSE',
];

type Fields = Partial<Record<CrosscheckField, string>>;

/** tshark's protocol stack for a frame (frame.protocols split on ':'). */
interface Stack {
  tokens: string[];
  /** The first protocol after the link layer and its VLAN tags (ip, arp, ipv6, llc, mpls, ...). */
  net: string | undefined;
  netIndex: number;
}

const LINK_TOKENS = new Set(['eth', 'sll', 'raw', 'ethertype', 'vlan', 'ieee8021ad']);

function stackOf(protocols: string): Stack {
  const tokens = protocols === '' ? [] : protocols.split(':');
  let netIndex = tokens.findIndex((t, i) => !LINK_TOKENS.has(t) || (t === 'eth' && i > 0));
  if (netIndex < 0) netIndex = tokens.length;
  return { tokens, net: tokens[netIndex], netIndex };
}

/** What a condition sees: tshark's stack and its fields for the frame. */
interface Context {
  stack: Stack;
  theirs: Fields;
}

/** Protocols that start another packet when tshark finds them above our IPv4 header. */
const NESTED = new Set(['ip', 'ipv6', 'eth', 'arp', 'ppp', 'vlan', 'mpls']);

/** Conditions that KNOWN rows may require. */
const CONDITIONS = {
  /** The network layer is IPv6: we recognize IPv6 and decode nothing above it. */
  ipv6: ({ stack: s }: Context) => s.net === 'ipv6',
  /**
   * Between the link layer and IPv4/ARP sits a protocol we do not decode (MPLS, PPPoE, NSH,
   * MACsec, VN-Tag, E-Tag, 802.1ah, Cisco FabricPath, ISL...): tshark's IPv4/L4 fields are
   * from the packet inside it.
   */
  encapsulation: ({ stack: s }: Context) => s.net !== undefined && !['ip', 'arp', 'ipv6', 'llc', 'data'].includes(s.net),
  /**
   * Above our IPv4 header tshark decodes a protocol we do not (IPsec AH, GRE, ...) or another
   * packet (IP-in-IP, VXLAN, Geneve, GTP, L2TP, ERSPAN, ...; an ICMP error's quote does not
   * count): its first tcp/udp/icmp/arp/vlan occurrence is from there.
   */
  aboveIpv4: ({ stack: s }: Context) =>
    s.net === 'ip' &&
    (!['tcp', 'udp', 'icmp', 'data', undefined].includes(s.tokens[s.netIndex + 1]) ||
      s.tokens.some((t, i) => i > s.netIndex + 1 && NESTED.has(t) && s.tokens[i - 1] !== 'icmp')),
  /** The first fragment of a fragmented IPv4 datagram (MF set, offset 0). */
  firstFragment: ({ theirs }: Context) => theirs['ip.flags.mf'] === '1' && theirs['ip.frag_offset'] === '0',
} as const;

type Condition = keyof typeof CONDITIONS;

/**
 * A disagreement we accept: in `file` (a name, several, or '*' for any), on `frames`, for
 * `fields`, when the frame meets `when`, and (with `oursAbsent` / `tsharkAbsent`) only where
 * that side printed nothing for the field. Rows are tried in order; the first that matches takes
 * the disagreement. A row that takes none (or, naming files and frames, misses one) is stale.
 */
interface Known {
  file: string | readonly string[];
  frames: 'all' | readonly number[];
  fields: 'all' | readonly CrosscheckField[];
  when?: Condition;
  oursAbsent?: boolean;
  tsharkAbsent?: boolean;
  reason: string;
}

const IP_FIELDS = ['ip.src', 'ip.dst', 'ip.proto', 'ip.ttl', 'ip.len', 'ip.id', 'ip.flags.df', 'ip.flags.mf', 'ip.frag_offset'] as const;

const KNOWN: readonly Known[] = [
  // Headers that tshark and we read differently.
  {
    file: ['pcapplusplus__ipv4-malformed.pcap', 'tcpdump__ipv4_invalid_total_length_2.pcap', 'zeek__trunc__ipv4-truncated-broken-header.pcap'],
    frames: [1],
    fields: IP_FIELDS.filter((f) => f !== 'ip.len'),
    reason: 'IPv4 total length below the header length: tshark stops the IPv4 header at the bogus total length; we keep the fixed header fields and stop after it (decoder.ipv4.bad_total_length)',
  },
  {
    file: 'zeek__trunc__ipv4-internally-truncated-header.pcap',
    frames: [1],
    fields: ['ip.dst'],
    reason: 'IPv4 options cut by the snaplen: tshark adds ip.dst only after the options (a source-route option changes it) and throws before; we read the destination field from the fixed header',
  },
  {
    file: 'pcapplusplus__ipv4-options.pcap',
    frames: [6, 7],
    fields: ['ip.dst'],
    reason: 'IPv4 source-route option: tshark shows the final destination from the option as ip.dst; we show the header field',
  },
  {
    file: 'zeek__trunc__ip4-trunc.pcap',
    frames: [1],
    fields: ['ip.len', 'ip.id'],
    reason: 'IPv4 header cut after 6 bytes: tshark shows the fields that were captured; we decode an IPv4 header only when its 20 fixed bytes are there (decoder.ipv4.truncated)',
  },
  {
    file: 'tcpdump__ipv4_invalid_length.pcap',
    frames: [1],
    fields: IP_FIELDS.filter((f) => f !== 'ip.dst'),
    reason: 'IPv4 header cut after 19 bytes: tshark shows the fields that were captured; we decode an IPv4 header only when its 20 fixed bytes are there (decoder.ipv4.truncated)',
  },
  {
    file: 'suriverify__firewall__tcp-session-decode-malformed-ipv4.pcap',
    frames: [8],
    fields: ['tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.len'],
    reason: 'malformed IPv4 option (a length past the option space): tshark throws inside the options and never reaches TCP; we skip the options by the header length and decode the TCP header',
  },
  {
    file: 'gopacket__linux_sll_oversized_addr.pcapng',
    frames: [95],
    fields: ['tcp.flags', 'tcp.ack_raw', 'tcp.len'],
    reason: 'TCP data offset 0: tshark stops the TCP header after the sequence number and takes the whole IP payload as tcp.len; we decode the fixed header, count decoder.tcp.bad_header_length and know no payload length',
  },
  {
    file: 'tcpdump__arp-too-long-tha.pcap',
    frames: [1],
    fields: ['arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4'],
    reason: 'ARP with hardware type 0x3030 and 14-byte hardware addresses: tshark decodes any hardware type; we decode Ethernet/IPv4 ARP only (decoder.arp.not_ethernet_ipv4)',
  },
  {
    file: 'tcpdump__getname_2_read4_asan.pcap',
    frames: [1],
    fields: ['arp.opcode'],
    reason: 'RARP with hardware type 0xff00 and 0-byte addresses: tshark decodes any hardware type; we decode Ethernet/IPv4 ARP only (decoder.arp.not_ethernet_ipv4)',
  },
  {
    file: 'tcpdump__DTP.pcap',
    frames: 'all',
    fields: ['eth.dst', 'eth.len'],
    reason: 'Cisco ISL (destination 01:00:0c:00:00:00): tshark decodes the ISL header and shows the encapsulated frame as eth; we see an 802.3 frame with LLC/SNAP (Cisco OUI) and stop there',
  },
  {
    file: 'suriverify__decode-dce.pcap',
    frames: 'all',
    fields: ['eth.src', 'eth.type'],
    reason: 'Cisco FabricPath (EtherType 0x8903): tshark shows the encapsulated frame\'s addresses and type as eth.*; we report the outer header and do not decode 0x8903',
  },
  // Whole classes of frames: only where we decoded nothing for the field.
  {
    file: '*',
    frames: 'all',
    fields: 'all',
    when: 'ipv6',
    oursAbsent: true,
    reason: 'IPv6: tshark decodes what IPv6 carries (TCP, UDP, ICMPv6, IPv4 in IPv6); we recognize IPv6 and decode nothing above it',
  },
  {
    file: '*',
    frames: 'all',
    fields: 'all',
    when: 'encapsulation',
    oursAbsent: true,
    reason: 'an encapsulation we do not decode (MPLS, PPPoE, NSH, MACsec, VN-Tag, E-Tag, 802.1ah, FabricPath, ISL) sits between the link layer and IPv4/ARP: tshark decodes the packet inside',
  },
  {
    file: '*',
    frames: 'all',
    fields: 'all',
    when: 'aboveIpv4',
    oursAbsent: true,
    reason: 'above our IPv4 header is a protocol we do not decode (IPsec AH, GRE) or a tunnel (IP-in-IP, VXLAN, Geneve, GTP, L2TP, ERSPAN, ...): tshark decodes the packet inside, whose fields are the first occurrence; we decode the outer IPv4 only',
  },
  {
    file: '*',
    frames: 'all',
    fields: ['tcp.len'],
    when: 'firstFragment',
    tsharkAbsent: true,
    reason: 'first fragment of an IPv4 datagram: tshark (reassembly off) decodes the TCP header but prints no tcp.len for a fragment; ours is the TCP payload in this fragment',
  },
];

const ICMP_ERROR_TYPES = new Set(['3', '4', '5', '11', '12']);

/** tshark's row as our fields (see TSHARK_FIELDS for which occurrence is used). */
function tsharkToFields(row: readonly string[]): { fields: Fields; stack: Stack } {
  const col = new Map<string, string[]>();
  TSHARK_FIELDS.forEach((name, i) => {
    const v = row[i + 1] ?? '';
    col.set(name, v === '' ? [] : name === 'frame.protocols' ? [v] : v.split(','));
  });
  const all = (n: (typeof TSHARK_FIELDS)[number]): string[] => col.get(n) ?? [];
  const first = (n: (typeof TSHARK_FIELDS)[number]): string | undefined => all(n)[0];
  const stack = stackOf(first('frame.protocols') ?? '');
  const { tokens } = stack;
  const out: Fields = {};
  const set = (k: CrosscheckField, v: string | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('nflog.res_id', first('nflog.res_id'));
  // A prefix is free text: the whole column, commas included.
  if (all('nflog.prefix').length > 0) set('nflog.prefix', all('nflog.prefix').join(','));
  set('eth.src', first('eth.src'));
  set('eth.dst', first('eth.dst'));
  set('eth.type', first('eth.type'));
  // An Ethernet II frame's first eth.len would be an encapsulated 802.3 frame's.
  if (tokens[0] === 'eth' && tokens[1] !== 'ethertype') set('eth.len', first('eth.len'));
  set('sll.src.eth', first('sll.src.eth') === '00:00:00:00:00:00' ? undefined : first('sll.src.eth'));
  set('sll.etype', first('sll.etype'));
  set('sll.ltype', first('sll.ltype'));
  // The VLAN tags of the frame's own link layer (before its network protocol; tags of a packet
  // inside a tunnel or an encapsulation are not ours), in stack order: 802.1Q tags are `vlan`
  // (vlan.id, vlan.etype), 802.1ad S-tags `ieee8021ad` (ieee8021ad.id; the type after it is
  // an ieee8021ah.etype occurrence). vlan.etype is the type after the last tag.
  const ids: string[] = [];
  let innerType: string | undefined;
  let vi = 0;
  let ai = 0;
  let hi = 0;
  for (const t of tokens.slice(0, stack.netIndex)) {
    if (t === 'vlan') {
      const id = all('vlan.id')[vi];
      if (id !== undefined) ids.push(id);
      innerType = all('vlan.etype')[vi];
      vi++;
    } else if (t === 'ieee8021ad') {
      const id = all('ieee8021ad.id')[ai];
      if (id !== undefined) ids.push(id);
      innerType = all('ieee8021ah.etype')[hi];
      ai++;
      hi++;
    } else if (t === 'ieee8021ah') {
      hi++;
    }
  }
  if (ids.length > 0) set('vlan.id', ids.join(','));
  set('vlan.etype', innerType);
  for (const k of ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4', ...IP_FIELDS, 'icmp.type', 'icmp.code'] as const) {
    set(k, first(k));
  }
  // An ICMP error quoting a datagram: `icmp:ip[:tcp|udp]` in the stack. The quoted header is
  // the ip occurrence at that place, its ports the tcp/udp occurrence after it.
  const countBefore = (name: string, end: number): number => tokens.slice(0, end).filter((t) => t === name).length;
  const q = tokens.findIndex((t, i) => t === 'icmp' && tokens[i + 1] === 'ip');
  const quoteL4At = q >= 0 && (tokens[q + 2] === 'tcp' || tokens[q + 2] === 'udp') ? q + 2 : -1;
  if (q >= 0 && q === tokens.indexOf('icmp') && ICMP_ERROR_TYPES.has(first('icmp.type') ?? '')) {
    const n = countBefore('ip', q + 1);
    set('quote.ip.src', all('ip.src')[n]);
    set('quote.ip.dst', all('ip.dst')[n]);
    set('quote.ip.proto', all('ip.proto')[n]);
    if (quoteL4At >= 0) {
      const l4 = tokens[quoteL4At] as 'tcp' | 'udp';
      const m = countBefore(l4, quoteL4At);
      set('quote.srcport', all(`${l4}.srcport`)[m]);
      set('quote.dstport', all(`${l4}.dstport`)[m]);
      // tshark prints no tcp.seq_raw in a quote, only tcp.seq (raw: relative numbers are off).
      if (l4 === 'tcp') set('quote.tcp.seq_raw', all('tcp.seq')[m]);
    }
  }
  // The frame's own TCP/UDP: the first occurrence, unless that is an ICMP error's quote.
  for (const l4 of ['tcp', 'udp'] as const) {
    const at = tokens.indexOf(l4);
    if (at < 0 || at === quoteL4At) continue;
    const names = l4 === 'tcp' ? (['tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.len'] as const) : (['udp.srcport', 'udp.dstport'] as const);
    for (const k of names) set(k, first(k));
  }
  return { fields: out, stack };
}

interface Disagreement {
  file: string;
  frame: number;
  field: CrosscheckField;
  ours: string | undefined;
  tshark: string | undefined;
  stack: Stack;
  theirs: Fields;
}

function matches(k: Known, d: Disagreement): boolean {
  return (
    (k.file === '*' || k.file === d.file || (typeof k.file !== 'string' && k.file.includes(d.file))) &&
    (k.frames === 'all' || k.frames.includes(d.frame)) &&
    (k.fields === 'all' || k.fields.includes(d.field)) &&
    (k.when === undefined || CONDITIONS[k.when](d)) &&
    (!k.oursAbsent || d.ours === undefined) &&
    (!k.tsharkAbsent || d.tshark === undefined)
  );
}

interface OurFile {
  /** Our fields by frame number, for the frames of compared link types. */
  frames: Map<number, Fields>;
  /** Records of any link type our reader handed out. */
  records: number;
  readError: string | null;
}

async function decodeFile(file: string): Promise<OurFile> {
  const frames = new Map<number, Fields>();
  const counts = newEventCounters();
  const f = new Frame(counts);
  let records = 0;
  const outcome = await readCapture(
    file,
    {
      onRecord(rec: CaptureRecord) {
        records++;
        if (!COMPARED_LINK_TYPES.has(rec.linkType)) return;
        decodeRecord(f, rec);
        frames.set(rec.frameNo, frameFields(f));
      },
    },
    { events: counts },
  );
  return { frames, records, readError: outcome.error ? outcome.error.message : null };
}

/** Lower bounds, so that the test cannot pass by comparing (almost) nothing. */
const MIN_FILES = 700;
const MIN_FRAMES = 20_000;
const MIN_FIELDS = 250_000;

/**
 * tshark starts in about 0.25 s and runs once per file (about 800 of them), two at a time: some
 * two minutes on an idle two-core machine, several on a busy one.
 */
const TIMEOUT_MS = 1_200_000;

describeWithPublicCaptures('decoder agrees with tshark on the public captures', () => {
  const version = tsharkVersion();
  if (!version) {
    const missing = 'tshark is not installed (apt-get install -y tshark)';
    if (process.env.CI) {
      it('needs tshark', () => {
        throw new Error(`tshark cross-check cannot run on CI: ${missing}`);
      });
      return;
    }
    console.warn(`skipping the tshark cross-check: ${missing}`);
  }
  it.skipIf(!version)('every compared field of every frame matches, or is a listed disagreement', { timeout: TIMEOUT_MS }, async () => {
    const files = loadPublicCaptures();
    const disagreements: Disagreement[] = [];
    const unreadable: string[] = [];
    let filesCompared = 0;
    let framesCompared = 0;
    let fieldsCompared = 0;
    let framesOnlyOurs = 0;
    let framesOnlyTshark = 0;
    await mapLimit(files, 2, async ({ file: name, path: file }) => {
      const ours = await decodeFile(file);
      if (ours.frames.size === 0) return;
      const ts = await tsharkFields(file, TSHARK_FIELDS, { prefs: TSHARK_PREFS });
      if (ts.rows.length === 0) {
        unreadable.push(`${name} (tshark exit ${ts.status})`);
        return;
      }
      filesCompared++;
      const seen = new Set<number>();
      for (const row of ts.rows) {
        const frameNo = Number(row[0]);
        const mine = ours.frames.get(frameNo);
        if (!mine) {
          // A frame of another link type in a mixed pcapng, or one our reader did not reach.
          if (frameNo > ours.records) framesOnlyTshark++;
          continue;
        }
        seen.add(frameNo);
        framesCompared++;
        const { fields: theirs, stack } = tsharkToFields(row);
        for (const field of CROSSCHECK_FIELDS) {
          const a = mine[field];
          const b = theirs[field];
          if (a === undefined && b === undefined) continue;
          fieldsCompared++;
          if (a !== b) disagreements.push({ file: name, frame: frameNo, field, ours: a, tshark: b, stack, theirs });
        }
      }
      framesOnlyOurs += ours.frames.size - seen.size;
    });

    // Sort the disagreements into the KNOWN rows.
    const perRow = KNOWN.map(() => ({ count: 0, frames: new Set<string>() }));
    const unexplained: Disagreement[] = [];
    for (const d of disagreements) {
      const i = KNOWN.findIndex((k) => matches(k, d));
      if (i < 0) {
        unexplained.push(d);
        continue;
      }
      perRow[i]!.count++;
      perRow[i]!.frames.add(`${d.file}#${d.frame}`);
    }
    const stale: string[] = [];
    KNOWN.forEach((k, i) => {
      const row = perRow[i]!;
      const files = typeof k.file === 'string' ? [k.file] : k.file;
      if (row.count === 0) stale.push(`${files.join(',')} ${k.fields === 'all' ? 'all fields' : k.fields.join(',')}${k.when ? ` when ${k.when}` : ''}: no longer disagrees`);
      else if (k.file !== '*') {
        // Every file (and every listed frame) of the row must still disagree.
        for (const file of files) {
          const frames = k.frames === 'all' ? [] : k.frames;
          if (frames.length === 0 && ![...row.frames].some((x) => x.startsWith(`${file}#`))) stale.push(`${file}: no longer disagrees`);
          const gone = frames.filter((n) => !row.frames.has(`${file}#${n}`));
          if (gone.length > 0) stale.push(`${file} frames ${gone.join(',')}: no longer disagree`);
        }
      }
    });

    const byReason = new Map<string, number>();
    KNOWN.forEach((k, i) => byReason.set(k.reason, (byReason.get(k.reason) ?? 0) + perRow[i]!.count));
    const summary = [
      `tshark cross-check (${version}): ${filesCompared} files, ${framesCompared} frames, ${fieldsCompared} fields compared; ${fieldsCompared - disagreements.length} agree, ${disagreements.length} disagree (${unexplained.length} unexplained)`,
      `  files tshark could not read: ${unreadable.length}${unreadable.length ? ` (${unreadable.join(', ')})` : ''}; frames only we read: ${framesOnlyOurs}; frames only tshark read: ${framesOnlyTshark}`,
      ...[...byReason].map(([reason, n]) => `  ${String(n).padStart(6)}  ${reason}`),
    ];
    console.log(summary.join('\n'));

    const show = (d: Disagreement): string => `${d.file} frame ${d.frame} ${d.field}: ours ${d.ours ?? '(none)'}, tshark ${d.tshark ?? '(none)'} [${d.stack.tokens.join(':')}]`;
    expect(unexplained.slice(0, 50).map(show), `${unexplained.length} unexplained disagreement(s)`).toEqual([]);
    expect(stale, 'KNOWN rows that no longer match a disagreement (remove or fix them)').toEqual([]);
    expect(filesCompared).toBeGreaterThanOrEqual(MIN_FILES);
    expect(framesCompared).toBeGreaterThanOrEqual(MIN_FRAMES);
    expect(fieldsCompared).toBeGreaterThanOrEqual(MIN_FIELDS);
  });
});
