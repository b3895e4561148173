/**
 * Formatting of the numbers the engine keeps (MACs as 48-bit integers, IPv4 as uint32,
 * timestamps as seconds + nanoseconds) into the text an engineer types into Wireshark.
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** "00:1b:21:3a:4f:5e" */
export function formatMac(mac: number): string {
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac % 0x100000000;
  return `${HEX[(hi >>> 8) & 0xff]}:${HEX[hi & 0xff]}:${HEX[lo >>> 24]}:${HEX[(lo >>> 16) & 0xff]}:${HEX[(lo >>> 8) & 0xff]}:${HEX[lo & 0xff]}`;
}

/** "192.0.2.10" */
export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** "0x0800" */
export function formatEtherType(type: number): string {
  return '0x' + type.toString(16).padStart(4, '0');
}

/** ISO 8601 UTC with all nine fractional digits: "2021-04-10T12:00:00.123456789Z". */
export function formatTimestamp(sec: number, ns: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return formatSeconds(sec, ns);
  const iso = d.toISOString(); // "2021-04-10T12:00:00.000Z", or "+010000-01-01T..." beyond year 9999
  return `${iso.slice(0, iso.lastIndexOf('.'))}.${String(ns).padStart(9, '0')}Z`;
}

/** Seconds as a decimal with nanoseconds: "12.000345678". */
export function formatSeconds(sec: number, ns: number): string {
  return `${sec}.${String(ns).padStart(9, '0')}`;
}

/** A duration in seconds, for people: "0.3 ms", "12.4 s", "2 h 03 min". */
export function formatDuration(seconds: number): string {
  const a = Math.abs(seconds);
  if (a < 1e-3) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (a < 1) return `${(seconds * 1e3).toFixed(a < 0.01 ? 2 : 1)} ms`;
  if (a < 120) return `${seconds.toFixed(a < 10 ? 2 : 1)} s`;
  if (a < 7200) return `${Math.floor(a / 60)} min ${String(Math.round(a % 60)).padStart(2, '0')} s`;
  return `${Math.floor(a / 3600)} h ${String(Math.floor((a % 3600) / 60)).padStart(2, '0')} min`;
}
