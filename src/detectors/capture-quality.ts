/**
 * capture.quality (info): how far the capture itself can be trusted. One finding summarizing
 * the reader and decoder events, frames cut inside a header, packets the capturing tool said it
 * dropped, flows evicted from the flow table, and the read error that stopped the analysis.
 * Sees no frames (interest 0): everything comes from the ReduceContext. Emitted only when there
 * is something to say.
 */
import { EVENT_COUNT, eventDescription, eventName } from '../events.js';
import type { Finding } from '../report/types.js';
import { makeFinding } from './finding.js';
import { plural } from './link-util.js';
import type { Detector, LinkDetector, OptionValues, ReduceContext } from './types.js';

export const ID = 'capture.quality';

const DESCRIPTIONS: ReadonlyMap<string, string> = new Map(Array.from({ length: EVENT_COUNT }, (_, i) => [eventName(i), eventDescription(i)] as const));

class NoFrames implements LinkDetector {
  readonly interest = 0;
  onFrame(): void {}
  partial(): null {
    return null;
  }
}

function qualityFinding(ctx: ReduceContext): Finding | null {
  const c = ctx.capture;
  const events = Object.entries(c.events)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const dropped = c.droppedByCapture ?? 0;
  if (events.length === 0 && c.truncatedFrames === 0 && dropped === 0 && c.flowEvictions === 0 && c.error === null) return null;

  const eventTotal = events.reduce((n, [, k]) => n + k, 0);
  const parts: string[] = [];
  const explanation: string[] = [];
  const remediation: string[] = [];
  if (dropped > 0) {
    parts.push(`${plural(dropped, 'packet')} dropped by the capturing tool`);
    explanation.push(
      `The capturing tool reported ${plural(dropped, 'packet')} it could not keep (its buffer overflowed: tcpdump's "packets dropped by kernel"): they crossed the wire but are not in the file, so missing answers, retransmissions, gaps or one-way flows in the other findings may be artefacts of the capture, not of the network.`,
    );
    remediation.push('Re-capture with a bigger buffer (`tcpdump -B 16384`), a capture filter for the traffic of interest (`tcpdump -i <if> host <ip>`), writing to a file on a fast disk (`-w`), or from a SPAN port/TAP instead of a busy host.');
  }
  if (c.truncatedFrames > 0) {
    parts.push(`${plural(c.truncatedFrames, 'frame')} cut inside a header`);
    explanation.push(
      `${plural(c.truncatedFrames, 'frame')} end inside a protocol header they started: cut by a small snapshot length or damaged; their upper layers (ports, flags, sequence numbers) could not be read, so they count less or not at all in the findings.`,
    );
    remediation.push('Capture whole frames: `tcpdump -s 0` (262144 bytes), not a short snaplen.');
  }
  if (c.error !== null) {
    parts.push(`reading stopped at frame ${c.error.frame}, byte offset ${c.error.offset}`);
    explanation.push(
      `Reading stopped before the end of the file (${c.error.message}). The ${plural(ctx.frames, 'frame')} before it were analyzed; whatever follows is missing from this report - a capture still being written, cut by a copy or transfer, or damaged.`,
    );
    remediation.push('Copy the file again once the capture has ended (stop tcpdump cleanly), or repair it (`pcapfix`) and analyze the result.');
  }
  if (c.flowEvictions > 0) {
    parts.push(`${plural(c.flowEvictions, 'flow')} evicted from the flow table`);
    explanation.push(
      `The flow table reached its limit (--max-flows) and dropped the ${plural(c.flowEvictions, 'least recently seen flow')}; their later packets started new flows, so conntrack states, handshakes and per-flow findings can be wrong for them.`,
    );
    remediation.push('Raise `--max-flows` (about 1 KB of memory per flow) or analyze a filtered capture.');
  }
  if (events.length > 0) {
    parts.push(`${plural(eventTotal, 'decode event')} (${events.map(([k, n]) => `${k} ${n}`).join(', ')})`);
    explanation.push(
      'Decode events: ' +
        events.map(([k, n]) => `${k} x${n}: ${DESCRIPTIONS.get(k) ?? 'see the documentation'}`).join('; ') +
        '. Each one is counted, never fatal; frames with header anomalies are analyzed as far as they can be.',
    );
    if (remediation.length === 0) remediation.push('Nothing to fix in the network for these alone; look at the frames concerned in Wireshark if a finding depends on them.');
  }

  return makeFinding({
    id: ID,
    severity: 'info',
    subject: 'capture',
    summary: `Capture quality: ${parts.join('; ')}`,
    count: eventTotal + dropped + c.flowEvictions + (c.error !== null ? 1 : 0),
    first: ctx.startSec === null ? null : { sec: ctx.startSec, ns: ctx.startNs },
    last: ctx.endSec === null ? null : { sec: ctx.endSec, ns: ctx.endNs },
    evidence: [],
    evidenceTotal: 0,
    explanation: explanation.join(' '),
    remediation: remediation.join(' '),
    details: {
      frames: ctx.frames,
      events: Object.fromEntries(events),
      truncatedFrames: c.truncatedFrames,
      droppedByCapture: c.droppedByCapture,
      flowEvictions: c.flowEvictions,
      untrackedFrames: c.untrackedFrames,
      error: c.error,
    },
  });
}

export const captureQualityDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [],
  createLink(_options: OptionValues): LinkDetector {
    return new NoFrames();
  },
  reduce(_partials, ctx): Finding[] {
    const f = qualityFinding(ctx);
    return f ? [f] : [];
  },
};
