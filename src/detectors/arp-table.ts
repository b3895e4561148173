/**
 * The IP -> MAC bindings ARP announces, in arpwatch's vocabulary, shared by the ARP change
 * detectors (one table per analysis: they would otherwise build the same table three times).
 *
 * A "claim" is an ARP packet whose sender IP is not 0.0.0.0: request or reply, the sender says
 * "this IP is at this MAC". Bindings are kept per broadcast domain (VLAN + IP). When a claim
 * names another MAC than the current binding, the change is classified:
 *  - conflict: the new MAC did not announce a takeover (no gratuitous ARP) and the current MAC
 *    claimed the address less than `window` seconds before: two stations answer for one IP at
 *    the same time (arp.duplicate_ip);
 *  - flip flop: the address goes back to a MAC that held it before (arp.flip_flop);
 *  - changed: the address goes to a MAC new for it (arp.changed_mac).
 * A failover (VRRP/keepalived, bonding, a moved VM) announces the new binding with a gratuitous
 * ARP and the old owner falls silent, so it is a change or a flip flop, never a conflict; an old
 * owner answering again after such a takeover (split brain) is a conflict.
 */
import { ArpOp, isGratuitousArp } from '../decode/arp.js';
import { Layer, type Frame } from '../decode/frame.js';
import { formatDuration, formatIpv4, formatMac } from '../report/format.js';
import { EvidenceSample, type EvidenceItem } from './finding.js';
import { addToSpanRow, frameItem, scopeIpKey, skipItem, Span, vlanScope, wouldKeep } from './link-util.js';
import { F64Rows } from './rows.js';
import { FrameClass, type LinkDetector, type OptionValues } from './types.js';

export const OPT_WINDOW = 'arp-duplicate-window';
export const OPT_MAX_IPS = 'arp-max-ips';

export const WINDOW_OPTION = {
  key: OPT_WINDOW,
  description:
    'two MACs claiming one IP by ARP within this time, without a gratuitous ARP announcing a takeover, are an IP conflict (arp.duplicate_ip) rather than a change of address (arp.changed_mac, arp.flip_flop)',
  default: 60,
  min: 0,
  max: 1e9,
  unit: 's',
} as const;

export const MAX_IPS_OPTION = {
  key: OPT_MAX_IPS,
  description: 'most IP addresses (per VLAN) each ARP detector keeps a binding for; ARP claims for further addresses are ignored (a bound on memory under ARP floods)',
  default: 65536,
  min: 16,
  max: 1e9,
  unit: 'addresses',
  integer: true,
} as const;

export const ChangeKind = { CHANGED: 1, FLIP_FLOP: 2, CONFLICT: 3 } as const;

/** Evidence of one claim, with what the report needs to describe it. */
export interface ClaimItem extends EvidenceItem {
  op: number;
  gratuitous: boolean;
  senderMac: number;
  /** Set on an evidence item of a change. */
  kind?: number;
  oldMac?: number;
  /** Seconds the old MAC had held the address (since it became the binding). */
  heldSeconds?: number;
  /** Seconds since the old MAC's last claim. */
  sinceOld?: number;
}

/**
 * Answers to one request arrive within this time: a requester that got no answer asks again
 * after 1 s (Linux retrans_time_ms), so two replies from two MACs to one request within it are
 * two live owners, not a reply to a retry.
 */
const ANSWER_SECONDS = 1;

/** Evidence items kept per MAC of an address. */
export const HOLD_SAMPLE = 3;

/** One MAC's claims on one address. */
export class MacHold {
  claims = 0;
  gratuitous = 0;
  readonly span = new Span();
  readonly sample = new EvidenceSample(HOLD_SAMPLE);
  /** Time it was the binding (closed periods only; see `ArpBinding.heldSeconds`). */
  heldSeconds = 0;
  /** Times it became the binding. */
  periods = 1;

  constructor(readonly mac: number) {}
}

export class ArpBinding {
  readonly holds: MacHold[] = [];
  cur: MacHold;
  /** When the current MAC became the binding. */
  sinceSec: number;
  sinceNs: number;
  /** Changes by kind. */
  changed = 0;
  flipFlops = 0;
  conflicts = 0;
  /** Changes and flip flops announced by a gratuitous ARP. */
  changedAnnounced = 0;
  flipAnnounced = 0;
  changedSample: EvidenceSample | null = null;
  flipSample: EvidenceSample | null = null;
  conflictSample: EvidenceSample | null = null;
  /** Frames and times of the changes, by kind. */
  changedSpan: Span | null = null;
  flipSpan: Span | null = null;
  conflictSpan: Span | null = null;
  /** Requests answered by two MACs, and probes (RFC 5227) answered "in use". */
  doubleAnswers = 0;
  doubleSample: EvidenceSample | null = null;
  probesAnswered = 0;
  probeSample: EvidenceSample | null = null;
  /** Request counter value at the last request for this address (0: none seen), its time, and the last reply's. */
  lastRequest = 0;
  lastRequestSec = 0;
  lastRequestNs = 0;
  lastReplyRequest = -1;
  lastReplyMac = -1;
  lastReplyTarget = -1;
  lastDouble = -1;
  /** Time and frame of the last claim of any MAC. */
  readonly span = new Span();

  constructor(
    readonly key: number,
    readonly vlan: number,
    readonly ip: number,
    first: MacHold,
    sinceSec: number,
    sinceNs: number,
  ) {
    this.holds.push(first);
    this.cur = first;
    this.sinceSec = sinceSec;
    this.sinceNs = sinceNs;
  }

  hold(mac: number): MacHold | undefined {
    for (const h of this.holds) if (h.mac === mac) return h;
    return undefined;
  }

  /** Seconds each MAC held the address up to the end (`endSec`/`endNs`: the last frame of the capture). */
  heldSeconds(h: MacHold, endSec: number, endNs: number): number {
    return h === this.cur ? h.heldSeconds + Math.max(0, endSec - this.sinceSec + (endNs - this.sinceNs) / 1e9) : h.heldSeconds;
  }
}

function claimItem(f: Frame, what: string): ClaimItem {
  const it = frameItem(f, what) as ClaimItem;
  it.srcIp = f.arpSenderIp;
  it.dstIp = f.arpTargetIp;
  it.op = f.arpOp;
  it.gratuitous = isGratuitousArp(f);
  it.senderMac = f.arpSenderMac;
  return it;
}

function addClaim(s: EvidenceSample, f: Frame, what: string, limit: number): ClaimItem | null {
  if (!wouldKeep(s, f.frameNo, limit)) {
    skipItem(s);
    return null;
  }
  const it = claimItem(f, what);
  s.add(it);
  return it;
}

/**
 * Columns of a quiet binding's row: an address that one MAC claimed and nothing else happened to
 * (no change of MAC, no probe answered). Its binding and its one hold share the span (every claim
 * is the MAC's), and the hold's first HOLD_SAMPLE claims follow, Q.WIDTH columns each.
 */
const enum R {
  VLAN = 0,
  IP = 1,
  MAC = 2,
  CLAIMS = 3,
  GRATUITOUS = 4,
  /** Span: claims, then first second, ns, frame, last second, ns, frame (see Span.setFrom). */
  SPAN = 5,
  LAST_REQUEST = 12,
  LAST_REQUEST_SEC = 13,
  LAST_REQUEST_NS = 14,
  LAST_REPLY_REQUEST = 15,
  LAST_REPLY_MAC = 16,
  LAST_REPLY_TARGET = 17,
  SAMPLED = 18,
  SAMPLE = 19,
  WIDTH = SAMPLE + HOLD_SAMPLE * 9,
}

/** Columns of a sampled claim: what claimItem keeps besides the sender (the row's IP and MAC). */
const enum Q {
  FRAME = 0,
  TS_SEC = 1,
  TS_NS = 2,
  /** Frame MACs: 0 Ethernet (both), 1 Linux cooked (source only), 2 none. */
  LINK = 3,
  SRC_MAC = 4,
  DST_MAC = 5,
  TARGET_IP = 6,
  OP = 7,
  GRATUITOUS = 8,
  WIDTH = 9,
}

/**
 * The ARP binding table of one detector. Most addresses are claimed by one MAC and never change:
 * each such quiet binding is a row of numbers (about 400 bytes), and becomes an ArpBinding object
 * when something happens to it (another MAC claims it, or it answers a probe). Objects kept per
 * address made V8 grow the reader thread's young generation to its 32 MB maximum, and cost three
 * times the memory.
 */
export class ArpTable {
  /** Bindings something happened to (the only ones the detectors may report). */
  readonly bindings = new Map<number, ArpBinding>();
  /** Quiet bindings: address key -> row of `quiet`. */
  private readonly quietRows = new Map<number, number>();
  private readonly quiet = new F64Rows(R.WIDTH);
  /** Claims for addresses beyond `maxIps`, not tracked. */
  ignoredClaims = 0;
  private requests = 0;
  /** The last frame fed: each detector sharing the table passes it every ARP frame. */
  private lastFrame = -1;

  constructor(
    private readonly window: number,
    private readonly maxIps: number,
    /**
     * False: every binding becomes an object at its first claim (its row is used once and left),
     * the reference the tests compare the rows with.
     */
    private readonly quietRowsOn = true,
  ) {}

  /** Addresses bound. */
  get size(): number {
    return this.bindings.size + this.quietRows.size;
  }

  /** Feeds one ARP frame (again: ignored). */
  onArp(f: Frame): void {
    if (f.frameNo === this.lastFrame) return;
    this.lastFrame = f.frameNo;
    const vlan = vlanScope(f);
    const op = f.arpOp;
    const sip = f.arpSenderIp;
    const gratuitous = sip !== 0 && sip === f.arpTargetIp;
    if (op === ArpOp.REQUEST && !gratuitous && f.arpTargetIp !== 0) {
      const tk = scopeIpKey(vlan, f.arpTargetIp);
      const r = this.quietRows.get(tk);
      if (r !== undefined) {
        const d = this.quiet.data;
        d[r * R.WIDTH + R.LAST_REQUEST] = ++this.requests;
        d[r * R.WIDTH + R.LAST_REQUEST_SEC] = f.tsSec;
        d[r * R.WIDTH + R.LAST_REQUEST_NS] = f.tsNs;
      } else {
        const t = this.bindings.get(tk);
        if (t !== undefined) {
          t.lastRequest = ++this.requests;
          t.lastRequestSec = f.tsSec;
          t.lastRequestNs = f.tsNs;
        }
      }
    }
    const mac = f.arpSenderMac;
    if (sip === 0 || mac === 0 || (op !== ArpOp.REQUEST && op !== ArpOp.REPLY)) return;
    const key = scopeIpKey(vlan, sip);
    let b = this.bindings.get(key);
    if (b === undefined) {
      let r = this.quietRows.get(key);
      if (r === undefined) {
        if (this.size >= this.maxIps) {
          this.ignoredClaims++;
          return;
        }
        r = this.quiet.append() / R.WIDTH;
        const d = this.quiet.data;
        d[r * R.WIDTH + R.VLAN] = vlan;
        d[r * R.WIDTH + R.IP] = sip;
        d[r * R.WIDTH + R.MAC] = mac;
        d[r * R.WIDTH + R.LAST_REPLY_REQUEST] = -1;
        d[r * R.WIDTH + R.LAST_REPLY_MAC] = -1;
        d[r * R.WIDTH + R.LAST_REPLY_TARGET] = -1;
        this.quietRows.set(key, r);
      }
      // The same MAC again, and no probe to answer: the binding stays quiet.
      const probeAnswer = op === ArpOp.REPLY && !gratuitous && f.arpTargetIp === 0;
      if (this.quietRowsOn && this.quiet.data[r * R.WIDTH + R.MAC] === mac && !probeAnswer) {
        this.quietClaim(r, f, gratuitous);
        return;
      }
      b = this.wake(key, r, f);
    }
    b.span.add(f);

    let h = b.cur;
    if (h.mac !== mac) {
      const old = h;
      const sinceOld = f.tsSec - old.span.lastSec + (f.tsNs - old.span.lastNs) / 1e9;
      const existing = b.hold(mac);
      const held = f.tsSec - b.sinceSec + (f.tsNs - b.sinceNs) / 1e9;
      old.heldSeconds += Math.max(0, held);
      let kind: number;
      if (!gratuitous && sinceOld <= this.window) {
        kind = ChangeKind.CONFLICT;
        b.conflicts++;
      } else if (existing !== undefined) {
        kind = ChangeKind.FLIP_FLOP;
        b.flipFlops++;
        if (gratuitous) b.flipAnnounced++;
      } else {
        kind = ChangeKind.CHANGED;
        b.changed++;
        if (gratuitous) b.changedAnnounced++;
      }
      if (existing === undefined) {
        h = new MacHold(mac);
        b.holds.push(h);
      } else {
        h = existing;
        h.periods++;
      }
      b.cur = h;
      b.sinceSec = f.tsSec;
      b.sinceNs = f.tsNs;
      let s: EvidenceSample;
      if (kind === ChangeKind.CONFLICT) {
        s = b.conflictSample ??= new EvidenceSample();
        (b.conflictSpan ??= new Span()).add(f);
      } else if (kind === ChangeKind.FLIP_FLOP) {
        s = b.flipSample ??= new EvidenceSample();
        (b.flipSpan ??= new Span()).add(f);
      } else {
        s = b.changedSample ??= new EvidenceSample();
        (b.changedSpan ??= new Span()).add(f);
      }
      const it = addClaim(s, f, 'change', 8);
      if (it !== null) {
        it.kind = kind;
        it.oldMac = old.mac;
        it.heldSeconds = Math.max(0, held);
        it.sinceOld = Math.max(0, sinceOld);
      }
    }
    h.claims++;
    if (gratuitous) h.gratuitous++;
    h.span.add(f);
    addClaim(h.sample, f, 'claim', HOLD_SAMPLE);

    if (op === ArpOp.REPLY && !gratuitous) {
      if (f.arpTargetIp === 0) {
        // The answer to an RFC 5227 probe: "this address is in use".
        b.probesAnswered++;
        addClaim((b.probeSample ??= new EvidenceSample()), f, 'probe answered', 8);
      } else {
        if (
          b.lastRequest !== 0 &&
          b.lastReplyRequest === b.lastRequest &&
          b.lastReplyMac !== mac &&
          b.lastReplyTarget === f.arpTargetMac &&
          b.lastDouble !== b.lastRequest &&
          f.tsSec - b.lastRequestSec + (f.tsNs - b.lastRequestNs) / 1e9 <= ANSWER_SECONDS
        ) {
          b.doubleAnswers++;
          b.lastDouble = b.lastRequest;
          const it = addClaim((b.doubleSample ??= new EvidenceSample()), f, 'second answer', 8);
          if (it !== null) it.oldMac = b.lastReplyMac;
        }
        b.lastReplyRequest = b.lastRequest;
        b.lastReplyMac = mac;
        b.lastReplyTarget = f.arpTargetMac;
      }
    }
  }

  /**
   * A claim on quiet binding row `r` by its MAC (the same steps as the object path below: the
   * binding's and the hold's span, counts, sample, and the reply it may be).
   */
  private quietClaim(r: number, f: Frame, gratuitous: boolean): void {
    const d = this.quiet.data;
    const at = r * R.WIDTH;
    addToSpanRow(d, at + R.SPAN + 1, d[at + R.SPAN]!, f);
    d[at + R.SPAN]++;
    d[at + R.CLAIMS]++;
    if (gratuitous) d[at + R.GRATUITOUS]++;
    // Frames arrive in order: the first claims are the lowest frames a sample keeps.
    const k = d[at + R.SAMPLED]!;
    if (k < HOLD_SAMPLE) {
      const q = at + R.SAMPLE + k * Q.WIDTH;
      d[q + Q.FRAME] = f.frameNo;
      d[q + Q.TS_SEC] = f.tsSec;
      d[q + Q.TS_NS] = f.tsNs;
      d[q + Q.LINK] = (f.layers & Layer.ETHERNET) !== 0 ? 0 : (f.layers & Layer.SLL) !== 0 ? 1 : 2;
      d[q + Q.SRC_MAC] = f.srcMac;
      d[q + Q.DST_MAC] = f.dstMac;
      d[q + Q.TARGET_IP] = f.arpTargetIp;
      d[q + Q.OP] = f.arpOp;
      d[q + Q.GRATUITOUS] = gratuitous ? 1 : 0;
      d[at + R.SAMPLED] = k + 1;
    }
    // A second answer to one request needs a second MAC: a quiet binding only notes the reply.
    if (f.arpOp === ArpOp.REPLY && !gratuitous) {
      d[at + R.LAST_REPLY_REQUEST] = d[at + R.LAST_REQUEST]!;
      d[at + R.LAST_REPLY_MAC] = f.arpSenderMac;
      d[at + R.LAST_REPLY_TARGET] = f.arpTargetMac;
    }
  }

  /**
   * Turns quiet binding row `r` into the ArpBinding the object path would have built by now,
   * before claim `f` (the first one when it answers a probe) goes through that path.
   */
  private wake(key: number, r: number, f: Frame): ArpBinding {
    const d = this.quiet.data;
    const at = r * R.WIDTH;
    const mac = d[at + R.MAC]!;
    const ip = d[at + R.IP]!;
    const h = new MacHold(mac);
    h.claims = d[at + R.CLAIMS]!;
    h.gratuitous = d[at + R.GRATUITOUS]!;
    h.span.setFrom(d[at + R.SPAN]!, d, at + R.SPAN + 1);
    for (let k = 0; k < d[at + R.SAMPLED]!; k++) {
      const q = at + R.SAMPLE + k * Q.WIDTH;
      const it = { frame: d[q + Q.FRAME]!, tsSec: d[q + Q.TS_SEC]!, tsNs: d[q + Q.TS_NS]!, what: 'claim' } as ClaimItem;
      if (d[q + Q.LINK] === 0) {
        it.srcMac = d[q + Q.SRC_MAC]!;
        it.dstMac = d[q + Q.DST_MAC]!;
      } else if (d[q + Q.LINK] === 1) it.srcMac = d[q + Q.SRC_MAC]!;
      it.srcIp = ip;
      it.dstIp = d[q + Q.TARGET_IP]!;
      it.op = d[q + Q.OP]!;
      it.gratuitous = d[q + Q.GRATUITOUS] === 1;
      it.senderMac = mac;
      h.sample.items.push(it);
    }
    h.sample.total = h.claims;
    // Until a change, the binding became what it is at its first claim.
    const claimed = d[at + R.SPAN]! > 0;
    const b = new ArpBinding(key, d[at + R.VLAN]!, ip, h, claimed ? d[at + R.SPAN + 1]! : f.tsSec, claimed ? d[at + R.SPAN + 2]! : f.tsNs);
    b.span.setFrom(d[at + R.SPAN]!, d, at + R.SPAN + 1);
    b.lastRequest = d[at + R.LAST_REQUEST]!;
    b.lastRequestSec = d[at + R.LAST_REQUEST_SEC]!;
    b.lastRequestNs = d[at + R.LAST_REQUEST_NS]!;
    b.lastReplyRequest = d[at + R.LAST_REPLY_REQUEST]!;
    b.lastReplyMac = d[at + R.LAST_REPLY_MAC]!;
    b.lastReplyTarget = d[at + R.LAST_REPLY_TARGET]!;
    // The row stays behind, unused: a binding wakes once, and few ever do.
    this.quietRows.delete(key);
    this.bindings.set(key, b);
    return b;
  }

  /** Bindings in a stable order (VLAN, then address). */
  sorted(): ArpBinding[] {
    return [...this.bindings.values()].sort((a, b) => a.key - b.key);
  }
}

/** "ARP reply", "gratuitous ARP request"... */
export function arpKind(op: number, gratuitous: boolean): string {
  const name = op === ArpOp.REQUEST ? 'request' : op === ArpOp.REPLY ? 'reply' : `op ${op}`;
  return gratuitous ? `gratuitous ARP ${name}` : `ARP ${name}`;
}

/** Describes a claim or change for the report. */
export function describeClaim(it: ClaimItem, ipText: string): EvidenceItem {
  const fmtMac = formatMac;
  const fmtDur = formatDuration;
  const kind = arpKind(it.op, it.gratuitous);
  const at = `${ipText} is at ${fmtMac(it.senderMac)}`;
  let what: string;
  if (it.what === 'probe answered') what = `${kind} to an address probe (RFC 5227): ${at}, already in use`;
  else if (it.what === 'second answer') what = `${kind}: ${at}, a second answer to one request (${fmtMac(it.oldMac!)} answered it too)`;
  else if (it.kind === ChangeKind.CONFLICT) what = `${kind}: ${at}, while ${fmtMac(it.oldMac!)} claimed it ${fmtDur(it.sinceOld!)} before`;
  else if (it.kind !== undefined) what = `${kind}: ${at}, was ${fmtMac(it.oldMac!)} for ${fmtDur(it.heldSeconds!)}`;
  else what = `${kind}: ${at}`;
  const out: EvidenceItem = { frame: it.frame, tsSec: it.tsSec, tsNs: it.tsNs, what };
  if (it.srcMac !== undefined) out.srcMac = it.srcMac;
  if (it.dstMac !== undefined) out.dstMac = it.dstMac;
  if (it.srcIp !== undefined) out.srcIp = it.srcIp;
  if (it.dstIp !== undefined) out.dstIp = it.dstIp;
  return out;
}

/** What arp.changed_mac and arp.flip_flop report for one address: the changes and how long each MAC held it. */
export function changeReport(
  b: ArpBinding,
  kind: number,
  endSec: number,
  endNs: number,
): { ipText: string; changes: number; span: Span; items: EvidenceItem[]; moves: string; announced: number; holds: Array<Record<string, unknown>>; heldText: string } {
  const ipText = formatIpv4(b.ip);
  const sample = kind === ChangeKind.FLIP_FLOP ? b.flipSample : b.changedSample;
  const span = (kind === ChangeKind.FLIP_FLOP ? b.flipSpan : b.changedSpan) ?? new Span();
  const changes = kind === ChangeKind.FLIP_FLOP ? b.flipFlops : b.changed;
  const raw = (sample?.items ?? []) as ClaimItem[];
  const shown = raw.slice(0, 3).map((it) => `${formatMac(it.oldMac!)} -> ${formatMac(it.senderMac)} at frame ${it.frame} (${it.gratuitous ? 'gratuitous ARP' : 'not announced'}, after ${formatDuration(it.heldSeconds!)})`);
  const moves = shown.join('; ') + (changes > shown.length ? `; ${changes - shown.length} more` : '');
  const holds = [...b.holds].sort((x, y) => x.span.firstFrame - y.span.firstFrame);
  const heldText = holds.map((h) => `${formatMac(h.mac)} ${formatDuration(b.heldSeconds(h, endSec, endNs))}`).join(', ');
  return {
    ipText,
    changes,
    span,
    items: raw.map((it) => describeClaim(it, ipText)),
    moves,
    announced: kind === ChangeKind.FLIP_FLOP ? b.flipAnnounced : b.changedAnnounced,
    heldText,
    holds: holds.map((h) => ({
      mac: formatMac(h.mac),
      claims: h.claims,
      gratuitous: h.gratuitous,
      periods: h.periods,
      heldSeconds: Math.round(b.heldSeconds(h, endSec, endNs) * 1e6) / 1e6,
      firstFrame: h.span.firstFrame,
      lastFrame: h.span.lastFrame,
    })),
  };
}

/** The changes of one kind as stable detail records (from the evidence sample). */
export function changeDetails(b: ArpBinding, kind: number): Array<Record<string, unknown>> {
  const sample = kind === ChangeKind.FLIP_FLOP ? b.flipSample : kind === ChangeKind.CONFLICT ? b.conflictSample : b.changedSample;
  return ((sample?.items ?? []) as ClaimItem[]).map((it) => ({
    frame: it.frame,
    from: formatMac(it.oldMac!),
    to: formatMac(it.senderMac),
    heldSeconds: Math.round(it.heldSeconds! * 1e6) / 1e6,
    announced: it.gratuitous,
    arp: arpKind(it.op, it.gratuitous),
  }));
}

/** What an ARP detector's link part returns: the bindings it reports on. */
export interface ArpPartial {
  bindings: ArpBinding[];
}

/** The ARP table of each analysis (its option values are one object per capture), shared by its ARP detectors. */
const tables = new WeakMap<OptionValues, ArpTable>();

/**
 * The link part of the three ARP change detectors (duplicate IP, changed MAC, flip flop): the
 * analysis's ARP table, fed every ARP frame, whose bindings with something to report (`keep`)
 * are the partial.
 */
export class ArpTableLink implements LinkDetector {
  readonly interest = FrameClass.ARP;
  private readonly table: ArpTable;

  constructor(
    options: OptionValues,
    private readonly keep: (b: ArpBinding) => boolean,
  ) {
    let table = tables.get(options);
    if (table === undefined) {
      table = new ArpTable(options[OPT_WINDOW] ?? WINDOW_OPTION.default, options[OPT_MAX_IPS] ?? MAX_IPS_OPTION.default);
      tables.set(options, table);
    }
    this.table = table;
  }

  onFrame(f: Frame): void {
    this.table.onArp(f);
  }

  partial(): ArpPartial {
    return { bindings: this.table.sorted().filter(this.keep) };
  }
}
