/**
 * The conntrack emulation against the kernel's own reasons, packet by packet, IGNORE included.
 * captures/conntrack-log.nflog.pcap (captures/lab/07-conntrack-log.sh) holds the traffic of the
 * verdicts scenario (06) as the router's conntrack saw it: each packet once in NFLOG group 6,
 * tagged with its --ctstate, and, for every TCP packet conntrack called INVALID or ignored, the
 * kernel's log message in group 0, which carries the packet too (nf_conntrack_log_invalid=255 through
 * nfnetlink_log): "SEQ is under lower bound ... (already ACKed data retransmitted)", "packet
 * (index 1) in dir 1 ignored, state ESTABLISHED", "invalid new", "invalid rst"...
 *
 * A verdict cannot tell an ignored packet from an accepted one (both ESTABLISHED), and ignoring
 * means conntrack did not update its window or timer: so this is the check of the window
 * tracking itself, which the verdict test (kernel-conntrack.test.ts) cannot make.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Layer, type Frame } from '../../src/decode/frame.js';
import { defaultTrackerOptions, type TrackerOptions } from '../../src/flows/options.js';
import { packFrame, RECORD_WORDS } from '../../src/flows/record.js';
import { FlowTracker } from '../../src/flows/tracker.js';
import { InvalidReason, INVALID_REASON_NAMES, KERNEL_LOG_MESSAGES, matchesKernelLog, VERDICT_NAMES } from '../../src/flows/verdict.js';
import { formatIpv4 } from '../../src/report/format.js';
import { decodeFile } from '../helpers/frame-fields.js';

const CAPTURE = fileURLToPath(new URL('../../captures/conntrack-log.nflog.pcap', import.meta.url));
const VERDICT_GROUP = 6;
const LOG_GROUP = 0;

/** What conntrack did with a TCP packet. */
type Action = 'accept' | 'ignore' | 'invalid';

interface Judged {
  /** Frame number of the packet's verdict record in the NFLOG capture. */
  frame: number;
  packet: string;
  kernelVerdict: string;
  /** The kernel's log message for the packet (prefix "nf_ct_proto_6: " removed), or null. */
  kernelMessage: string | null;
  ourVerdict: string;
  ourAction: Action;
  ourReason: string;
}

function prefixOf(f: Frame): string {
  return new TextDecoder().decode(f.buf.subarray(f.nflogPrefixOff, f.nflogPrefixOff + f.nflogPrefixLen));
}

/** A packet as the kernel's two records of it both carry it: addresses, ports, sequence numbers, flags, IP id. */
function describe4(f: Frame): string {
  const ports = (f.layers & (Layer.TCP | Layer.UDP)) !== 0 ? `:${f.srcPort} > ${formatIpv4(f.ipDst)}:${f.dstPort}` : ` > ${formatIpv4(f.ipDst)}`;
  const tcp = (f.layers & Layer.TCP) !== 0 ? ` tcp flags 0x${f.tcpFlags.toString(16)} seq ${f.tcpSeq} ack ${f.tcpAck} len ${f.tcpPayloadLen}` : ` proto ${f.ipProto}`;
  return `${formatIpv4(f.ipSrc)}${ports}${tcp} id ${f.ipId}`;
}

/** The kernel's message as what conntrack did: the ignore cases of its table and its window checks, or INVALID. */
function kernelAction(message: string | null): Action {
  if (message === null) return 'accept';
  return /ignored|under lower bound|more than expected/.test(message) ? 'ignore' : 'invalid';
}

/** The reason pcapscan should give for an INVALID the kernel logged with `message`. */
function expectedReason(message: string): string {
  const reasons: Array<[RegExp, number]> = [
    [/^invalid new/, InvalidReason.NO_ENTRY],
    [/^(SEQ|ACK) is over upper bound/, InvalidReason.OUT_OF_WINDOW],
    [/^invalid rst/, InvalidReason.RST_SEQ],
    [/^packet \(index \d\) in dir \d invalid, state /, InvalidReason.BAD_STATE],
    [/tcp flag/, InvalidReason.BAD_TCP_FLAGS],
  ];
  const hit = reasons.find(([re]) => re.test(message));
  return hit ? INVALID_REASON_NAMES[hit[1]] : `(no mapping for "${message}")`;
}

/**
 * Every packet of the capture through pcapscan's tracker, next to the kernel's verdict and message.
 * A message comes before its packet's verdict record, but not always right before: the two groups
 * reach the capture through separate queues. So messages are matched to packets by content, in
 * order for identical packets (a SYN+ACK and its retransmission).
 */
async function judge(options: TrackerOptions = defaultTrackerOptions()): Promise<{ judged: Judged[]; unmatched: string[] }> {
  const messages = new Map<string, Array<{ frame: number; message: string }>>();
  await decodeFile(CAPTURE, (f) => {
    if ((f.layers & Layer.NFLOG) === 0) throw new Error(`frame ${f.frameNo} is not an NFLOG record`);
    if (f.nflogGroup !== LOG_GROUP) return;
    const packet = describe4(f);
    const queue = messages.get(packet) ?? [];
    queue.push({ frame: f.frameNo, message: prefixOf(f).replace(/^nf_ct_proto_\d+: /, '').trim() });
    messages.set(packet, queue);
  });
  const tracker = new FlowTracker(options, 1024);
  let ourVerdict = '';
  tracker.addObserver({
    packets: 'all',
    onPacket: (_tr, _slot, _r, _base, _dir, verdict) => {
      ourVerdict = VERDICT_NAMES[verdict]!;
    },
    onFlowEnd: () => {},
  });
  const r = new Uint32Array(RECORD_WORDS);
  const judged: Judged[] = [];
  const unmatched: string[] = [];
  await decodeFile(CAPTURE, (f) => {
    if (f.nflogGroup === LOG_GROUP) return;
    expect(f.nflogGroup).toBe(VERDICT_GROUP);
    const packet = describe4(f);
    // A message is logged while conntrack judges the packet, before the verdict rule logs it: an
    // identical packet verdicted before the message (a retransmission's original) is not its own.
    // This takes identical packets to be judged in order and far enough apart that a message
    // never overtakes the verdict of an earlier copy; true here (the SYN+ACK retransmissions are
    // a second apart), and a wrong match would fail the comparisons below rather than pass them.
    const queue = messages.get(packet);
    const message = queue !== undefined && queue.length > 0 && queue[0]!.frame < f.frameNo ? queue.shift() : undefined;
    if (!packFrame(f, r, 0, 0x5eed)) throw new Error(`frame ${f.frameNo} carries nothing conntrack tracks`);
    ourVerdict = '';
    tracker.process(r, 0);
    const action: Action = ourVerdict === 'INVALID' ? 'invalid' : tracker.conntrackIgnored ? 'ignore' : 'accept';
    judged.push({
      frame: f.frameNo,
      packet,
      kernelVerdict: prefixOf(f),
      kernelMessage: message?.message ?? null,
      ourVerdict,
      ourAction: action,
      ourReason: ourVerdict === 'INVALID' ? INVALID_REASON_NAMES[tracker.invalidReason]! : '',
    });
  });
  for (const [packet, left] of messages) for (const m of left) unmatched.push(`frame ${m.frame}: ${m.message} (${packet}): no such packet`);
  return { judged, unmatched };
}

const isTcp = (j: Judged): boolean => j.packet.includes(' tcp flags ');

describe('conntrack emulation against the kernel log of what conntrack ignored or rejected, and why', () => {
  it('finds the packet of each kernel message among the packets logged after it', async () => {
    const { judged, unmatched } = await judge();
    expect(unmatched).toEqual([]);
    const messages = judged.filter((j) => j.kernelMessage !== null);
    expect(messages.length).toBeGreaterThan(0);
    // nf_conntrack_log_invalid=255 (every protocol), but the kernel logged no ICMP packet: TCP only.
    expect(messages.filter((j) => !isTcp(j)).map((j) => j.frame)).toEqual([]);
  });

  it('gives every packet the kernel verdict, and every TCP packet the kernel action: accepted, ignored or INVALID', async () => {
    const { judged } = await judge();
    const show = (j: Judged): string => `frame ${j.frame} ${j.packet}: kernel ${j.kernelVerdict}${j.kernelMessage ? ` "${j.kernelMessage}"` : ''}, ours ${j.ourVerdict} ${j.ourAction}${j.ourReason ? ` (${j.ourReason})` : ''}`;
    expect(judged.filter((j) => j.ourVerdict !== j.kernelVerdict).map(show), 'verdicts').toEqual([]);
    expect(judged.filter((j) => isTcp(j) && j.ourAction !== kernelAction(j.kernelMessage)).map(show), 'TCP actions').toEqual([]);
    const invalid = judged.filter((j) => isTcp(j) && j.kernelMessage !== null && kernelAction(j.kernelMessage) === 'invalid');
    expect(invalid.filter((j) => j.ourReason !== expectedReason(j.kernelMessage!)).map(show), 'INVALID reasons').toEqual([]);
    // What ct.invalid tells the user the kernel will log for each reason is what it logged.
    const told = (j: Judged): readonly string[] => KERNEL_LOG_MESSAGES[INVALID_REASON_NAMES.indexOf(j.ourReason as (typeof INVALID_REASON_NAMES)[number])] ?? [];
    expect(invalid.filter((j) => !told(j).some((m) => matchesKernelLog(m, j.kernelMessage!))).map(show), 'kernel log messages').toEqual([]);
  });

  it('covers both kinds of IGNORE (a window check and the state table) and every TCP INVALID reason but bad flags', async () => {
    const { judged } = await judge();
    const messages = judged.map((j) => j.kernelMessage).filter((m): m is string => m !== null);
    expect(messages.some((m) => /SEQ is under lower bound/.test(m)), 'an old retransmission (window IGNORE)').toBe(true);
    expect(messages.some((m) => /^packet \(index \d\) in dir \d ignored, state ESTABLISHED/.test(m)), 'a table IGNORE in ESTABLISHED').toBe(true);
    expect(messages.some((m) => /^packet \(index \d\) in dir \d ignored, state SYN_RECV/.test(m)), 'a table IGNORE in SYN_RECV').toBe(true);
    for (const re of [/^invalid new/, /^invalid rst/, /^SEQ is over upper bound/, /^packet \(index \d\) in dir \d invalid, state SYN_SENT/]) expect(messages.some((m) => re.test(m)), String(re)).toBe(true);
    // The 300 kB download with losses: hundreds of data segments under window scaling, all accepted.
    expect(judged.filter((j) => isTcp(j) && j.ourAction === 'accept').length).toBeGreaterThan(400);
  });
});
