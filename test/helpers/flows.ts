/**
 * Helpers for the flow-tracker tests: run a capture through `analyzeFile` with the `--flows`
 * export going to a temporary file and get the parsed flow lines and the report back; find a
 * flow with a failure message that lists what was there; and `TcpConversation`, which keeps the
 * sequence and acknowledgment numbers of a TCP exchange so a scenario reads like the notes
 * ("C SYN; S SYN/ACK; C ACK ...").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyzeFile } from '../../src/analysis/analyze.js';
import type { FlowJson } from '../../src/flows/flow-json.js';
import { DEFAULT_CONNTRACK, type ConntrackOptions, type TrackerOptions } from '../../src/flows/options.js';
import type { CaptureReport } from '../../src/report/types.js';
import type { CaptureBuilder, Host, TcpFrameSpec } from './capture-builder.js';

/** One `--flows` line: the flow JSON plus the capture it came from. */
export type FlowLine = FlowJson & { capture: string };

/** Tracker options for a test: like TrackerOptions, but `conntrack` may give only the sysctls that change. */
export interface TrackerOverrides extends Partial<Omit<TrackerOptions, 'conntrack'>> {
  conntrack?: Partial<ConntrackOptions>;
}

export interface FlowRun {
  report: CaptureReport;
  /** Parsed flow lines, in the order they were written. */
  flows: FlowLine[];
  /** The raw lines, as written. */
  lines: string[];
  /** The capture file that was analyzed. */
  file: string;
}

/** Full TrackerOptions overrides for analyzeFile (its `tracker` option replaces `conntrack` as a whole). */
export function trackerOptions(o: TrackerOverrides = {}): Partial<TrackerOptions> {
  const { conntrack, ...rest } = o;
  return conntrack ? { ...rest, conntrack: { ...DEFAULT_CONNTRACK, ...conntrack } } : rest;
}

/**
 * Analyzes a capture (a CaptureBuilder, written to a temporary pcap, or a file path) with the flow
 * export on, and returns the report and the flow lines. `threads` defaults to 1 (tracking on this
 * thread, from the TypeScript sources); more threads run the compiled workers in dist/.
 */
export async function runFlows(input: CaptureBuilder | string, opts: { threads?: number; inlineFlows?: boolean; tracker?: TrackerOverrides } = {}): Promise<FlowRun> {
  const file = typeof input === 'string' ? input : input.writeTemp('flows.pcap');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-flows-'));
  const out = path.join(dir, 'flows.jsonl');
  const fd = fs.openSync(out, 'w');
  let report: CaptureReport;
  try {
    report = await analyzeFile(file, { threads: opts.threads ?? 1, flowsFd: fd, tracker: trackerOptions(opts.tracker), ...(opts.inlineFlows !== undefined ? { inlineFlows: opts.inlineFlows } : {}) });
  } finally {
    fs.closeSync(fd);
  }
  const lines = fs
    .readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  fs.rmSync(dir, { recursive: true, force: true });
  const flows = lines.map((l) => JSON.parse(l) as FlowLine);
  return { report, flows, lines, file };
}

/** One line per flow, for failure messages. */
export function describeFlow(f: FlowJson): string {
  const v = Object.entries(f.verdicts)
    .map(([k, n]) => `${k}:${n}`)
    .join(',');
  return `${f.proto} ${f.orig_h}:${f.orig_p} -> ${f.resp_h}:${f.resp_p} ${f.conn_state} "${f.history}" ct=${f.conntrack.state} {${v}} frames ${f.first_frame}-${f.last_frame} (${f.end_reason})`;
}

export function describeFlows(flows: readonly FlowJson[]): string {
  return flows.length === 0 ? '(no flows)' : flows.map((f) => '  ' + describeFlow(f)).join('\n');
}

export interface FlowFilter {
  proto?: string;
  /** Endpoints in either order unless `exact` (then a is the originator, b the responder). */
  a?: { ip: string; port?: number };
  b?: { ip: string; port?: number };
  exact?: boolean;
  firstFrame?: number;
}

function endpointMatches(ip: string, port: number, e: { ip: string; port?: number } | undefined): boolean {
  return e === undefined || (e.ip === ip && (e.port === undefined || e.port === port));
}

export function findFlows<T extends FlowJson>(flows: readonly T[], filter: FlowFilter): T[] {
  return flows.filter((f) => {
    if (filter.proto !== undefined && f.proto !== filter.proto) return false;
    if (filter.firstFrame !== undefined && f.first_frame !== filter.firstFrame) return false;
    const forward = endpointMatches(f.orig_h, f.orig_p, filter.a) && endpointMatches(f.resp_h, f.resp_p, filter.b);
    if (filter.exact) return forward;
    return forward || (endpointMatches(f.resp_h, f.resp_p, filter.a) && endpointMatches(f.orig_h, f.orig_p, filter.b));
  });
}

/** The one flow that matches, or an error that lists every flow of the run. */
export function onlyFlow<T extends FlowJson>(flows: readonly T[], filter: FlowFilter = {}): T {
  const found = findFlows(flows, filter);
  if (found.length !== 1) {
    throw new Error(`expected exactly one flow matching ${JSON.stringify(filter)}, found ${found.length}; all flows:\n${describeFlows(flows)}`);
  }
  return found[0]!;
}

/** Anything that can put a TCP segment on the wire: a CaptureBuilder, or a unit-test harness. */
export interface TcpSink<R> {
  tcp(from: Host, to: Host, spec: TcpFrameSpec): R;
}

/** Overrides for one segment of a TcpConversation. */
export interface SegmentOptions {
  /** Payload bytes. */
  len?: number;
  /** Sequence number (default: this side's next sequence number). An explicit one (a retransmission,
   * a spurious SYN, a forged RST) does not move the side's next sequence number. */
  seq?: number;
  /** Acknowledgment number (default with A: everything the peer sent; without A: 0). */
  ack?: number;
  window?: number;
  synOpts?: boolean;
  ttl?: number;
  ipId?: number;
  srcMac?: string;
  dstMac?: string;
}

const seqAfter = (a: number, b: number): boolean => ((b - a) | 0) < 0;

/**
 * A TCP exchange between a client and a server: `c(flags)` and `s(flags)` send a segment with the
 * side's next sequence number and (with A) an ACK of everything the other side sent, and advance
 * the sequence numbers by payload + SYN + FIN, as a real stack would.
 */
export class TcpConversation<R> {
  /** Next sequence number of each side. */
  cNext: number;
  sNext: number;

  constructor(
    readonly sink: TcpSink<R>,
    readonly client: Host,
    readonly server: Host,
    readonly o: { sport: number; dport: number; cIsn?: number; sIsn?: number; cTtl?: number; sTtl?: number; cWindow?: number; sWindow?: number },
  ) {
    this.cNext = o.cIsn ?? 1000;
    this.sNext = o.sIsn ?? 5000;
  }

  /** A segment from the client. `flags` in packets.ts letters: "S", "SA", "A", "PA", "FA", "R", "RA". */
  c(flags: string, x: SegmentOptions = {}): R {
    return this.send(true, flags, x);
  }

  /** A segment from the server. */
  s(flags: string, x: SegmentOptions = {}): R {
    return this.send(false, flags, x);
  }

  private send(fromClient: boolean, flags: string, x: SegmentOptions): R {
    const next = fromClient ? this.cNext : this.sNext;
    const peerNext = fromClient ? this.sNext : this.cNext;
    const seq = (x.seq ?? next) >>> 0;
    const ack = (x.ack ?? (flags.includes('A') ? peerNext : 0)) >>> 0;
    const len = x.len ?? 0;
    const end = (seq + len + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    if (x.seq === undefined && seqAfter(end, next)) {
      if (fromClient) this.cNext = end;
      else this.sNext = end;
    }
    const o = this.o;
    const window = x.window ?? (fromClient ? o.cWindow : o.sWindow);
    const ttl = x.ttl ?? (fromClient ? o.cTtl : o.sTtl);
    const spec: TcpFrameSpec = {
      sport: fromClient ? o.sport : o.dport,
      dport: fromClient ? o.dport : o.sport,
      flags,
      seq,
      ack,
      ...(len > 0 ? { len } : {}),
      ...(window !== undefined ? { window } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
      ...(x.synOpts ? { synOpts: true } : {}),
      ...(x.ipId !== undefined ? { ipId: x.ipId } : {}),
      ...(x.srcMac !== undefined ? { srcMac: x.srcMac } : {}),
      ...(x.dstMac !== undefined ? { dstMac: x.dstMac } : {}),
    };
    return fromClient ? this.sink.tcp(this.client, this.server, spec) : this.sink.tcp(this.server, this.client, spec);
  }
}

/**
 * A flow line serialized with sorted keys, so lines compare as strings; `drop` leaves out fields
 * given as dotted paths (e.g. "conntrack.alive_at_end").
 */
export function canonicalLine(f: FlowLine, drop: readonly string[] = []): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  const copy = JSON.parse(JSON.stringify(f)) as Record<string, unknown>;
  for (const key of drop) {
    const parts = key.split('.');
    let o: Record<string, unknown> | undefined = copy;
    for (let i = 0; i < parts.length - 1 && o; i++) o = o[parts[i]!] as Record<string, unknown> | undefined;
    if (o) delete o[parts[parts.length - 1]!];
  }
  return JSON.stringify(sortKeys(copy));
}
