/**
 * Every tunable of an analysis: the conntrack emulation's timeouts and switches (named after the
 * nf_conntrack sysctls), the flow table's limits, and each detector's thresholds. One list, so the
 * CLI flags, the config file and the README's reference cannot disagree.
 */
import fs from 'node:fs';
import type { OptionSpec, OptionValues } from './detectors/types.js';
import { DEFAULT_CONNTRACK, DEFAULT_ZEEK_SERVER_PORTS, type TrackerOptions } from './flows/options.js';

const s = (key: string, def: number, description: string, extra: Partial<OptionSpec> = {}): OptionSpec => ({
  key,
  default: def,
  description,
  min: 0,
  max: 1e9,
  unit: 's',
  ...extra,
});
const flag = (key: string, def: boolean, description: string): OptionSpec => ({ key, default: def ? 1 : 0, description, min: 0, max: 1, integer: true, unit: '0/1' });

/** Options of the flow tracker and its conntrack emulation. */
export const TRACKER_OPTIONS: readonly OptionSpec[] = [
  s('tcp-timeout-syn-sent', DEFAULT_CONNTRACK.tcpTimeoutSynSent, 'conntrack SYN_SENT timeout (nf_conntrack_tcp_timeout_syn_sent)'),
  s('tcp-timeout-syn-recv', DEFAULT_CONNTRACK.tcpTimeoutSynRecv, 'conntrack SYN_RECV timeout'),
  s('tcp-timeout-established', DEFAULT_CONNTRACK.tcpTimeoutEstablished, 'conntrack ESTABLISHED timeout (Proxmox sets 7875)'),
  s('tcp-timeout-fin-wait', DEFAULT_CONNTRACK.tcpTimeoutFinWait, 'conntrack FIN_WAIT timeout'),
  s('tcp-timeout-close-wait', DEFAULT_CONNTRACK.tcpTimeoutCloseWait, 'conntrack CLOSE_WAIT timeout'),
  s('tcp-timeout-last-ack', DEFAULT_CONNTRACK.tcpTimeoutLastAck, 'conntrack LAST_ACK timeout'),
  s('tcp-timeout-time-wait', DEFAULT_CONNTRACK.tcpTimeoutTimeWait, 'conntrack TIME_WAIT timeout'),
  s('tcp-timeout-close', DEFAULT_CONNTRACK.tcpTimeoutClose, 'conntrack CLOSE timeout'),
  s('tcp-timeout-max-retrans', DEFAULT_CONNTRACK.tcpTimeoutMaxRetrans, 'conntrack timeout once retransmissions reach tcp-max-retrans'),
  s('tcp-timeout-unacknowledged', DEFAULT_CONNTRACK.tcpTimeoutUnacknowledged, 'conntrack timeout while data is unacknowledged'),
  s('tcp-max-retrans', DEFAULT_CONNTRACK.tcpMaxRetrans, 'retransmissions before the max-retrans timeout applies', { unit: 'packets', integer: true, max: 255 }),
  flag('tcp-loose', DEFAULT_CONNTRACK.tcpLoose, 'nf_conntrack_tcp_loose: a mid-stream packet may create an entry'),
  flag('tcp-be-liberal', DEFAULT_CONNTRACK.tcpBeLiberal, 'nf_conntrack_tcp_be_liberal: only out-of-window RSTs are INVALID'),
  flag('tcp-ignore-invalid-rst', DEFAULT_CONNTRACK.tcpIgnoreInvalidRst, 'nf_conntrack_tcp_ignore_invalid_rst'),
  s('udp-timeout', DEFAULT_CONNTRACK.udpTimeout, 'conntrack UDP timeout before a reply'),
  s('udp-timeout-stream', DEFAULT_CONNTRACK.udpTimeoutStream, 'conntrack UDP stream timeout'),
  s('icmp-timeout', DEFAULT_CONNTRACK.icmpTimeout, 'conntrack ICMP timeout'),
  s('generic-timeout', DEFAULT_CONNTRACK.genericTimeout, 'conntrack timeout for other protocols'),
  s('max-flows', 2_000_000, 'most flows held in memory; the least recently seen are evicted (and counted) beyond', { unit: 'flows', integer: true, min: 16 }),
  s('flow-linger', DEFAULT_CONNTRACK.tcpTimeoutClose, 'how long a flow outlives a conntrack entry deleted early (a RST before any reply)'),
];

/** "02:00:00:01:00:30" → 48-bit number, or null. */
export function parseMacOption(text: string): number | null {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text.trim());
  if (!m) return null;
  return m.slice(1).reduce((n, h) => n * 256 + parseInt(h, 16), 0);
}

/** Checks a value against its spec; returns an error message or null. */
export function checkOption(spec: OptionSpec, value: unknown): string | null {
  if (typeof value === 'boolean' && spec.unit === '0/1') return null;
  if (spec.mac && typeof value === 'string') return parseMacOption(value) === null ? `${spec.key} must be a MAC address like 02:00:00:01:00:30, not ${JSON.stringify(value)}` : null;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${spec.key} must be a number, not ${JSON.stringify(value)}`;
  if (spec.integer && !Number.isInteger(value)) return `${spec.key} must be a whole number, not ${value}`;
  if (value < spec.min || value > spec.max) return `${spec.key} must be between ${spec.min} and ${spec.max}, not ${value}`;
  return null;
}

/**
 * Resolves option values: defaults, then the config file, then the command line. Unknown keys
 * and bad values are errors (thrown as Error with a message for the user).
 */
export function resolveOptions(specs: readonly OptionSpec[], config: Record<string, unknown>, cli: Record<string, unknown>): OptionValues {
  const byKey = new Map(specs.map((sp) => [sp.key, sp]));
  const out: Record<string, number> = {};
  for (const sp of specs) out[sp.key] = sp.default;
  for (const [source, values] of [
    ['config file', config],
    ['command line', cli],
  ] as const) {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      const sp = byKey.get(key);
      if (!sp) throw new Error(`unknown option "${key}" in the ${source}`);
      const err = checkOption(sp, value);
      if (err) throw new Error(`${err} (${source})`);
      out[key] = typeof value === 'boolean' ? (value ? 1 : 0) : typeof value === 'string' ? parseMacOption(value)! : (value as number);
    }
  }
  return out;
}

/** Reads a JSON config file of option values: { "fdb-ageing": 600, "ct-max": 65536 }. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`config file ${file} must hold a JSON object of option values`);
  return parsed as Record<string, unknown>;
}

/** The flow tracker's settings from resolved option values. */
export function trackerOptionsFrom(v: OptionValues): TrackerOptions {
  return {
    conntrack: {
      tcpTimeoutSynSent: v['tcp-timeout-syn-sent']!,
      tcpTimeoutSynRecv: v['tcp-timeout-syn-recv']!,
      tcpTimeoutEstablished: v['tcp-timeout-established']!,
      tcpTimeoutFinWait: v['tcp-timeout-fin-wait']!,
      tcpTimeoutCloseWait: v['tcp-timeout-close-wait']!,
      tcpTimeoutLastAck: v['tcp-timeout-last-ack']!,
      tcpTimeoutTimeWait: v['tcp-timeout-time-wait']!,
      tcpTimeoutClose: v['tcp-timeout-close']!,
      tcpTimeoutSynSent2: v['tcp-timeout-syn-sent']!,
      tcpTimeoutMaxRetrans: v['tcp-timeout-max-retrans']!,
      tcpTimeoutUnacknowledged: v['tcp-timeout-unacknowledged']!,
      tcpMaxRetrans: v['tcp-max-retrans']!,
      tcpLoose: v['tcp-loose'] === 1,
      tcpBeLiberal: v['tcp-be-liberal'] === 1,
      tcpIgnoreInvalidRst: v['tcp-ignore-invalid-rst'] === 1,
      udpTimeout: v['udp-timeout']!,
      udpTimeoutStream: v['udp-timeout-stream']!,
      icmpTimeout: v['icmp-timeout']!,
      genericTimeout: v['generic-timeout']!,
    },
    maxFlows: v['max-flows']!,
    lingerSeconds: v['flow-linger']!,
    zeekLikelyServerPorts: DEFAULT_ZEEK_SERVER_PORTS,
    exportFlows: false,
  };
}
