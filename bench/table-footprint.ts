/**
 * How much the bytes kept per flow cost a bare flow-table loop, apart from everything else:
 *
 *   node dist/bench/table-footprint.js [capture] [slot bytes,...] [lines touched,...]
 *
 * Decodes the capture into flow records in memory first (untimed), then, for each slot size and
 * number of cache lines touched per packet, times one pass of the barest loop over them: the
 * canonical key, an open-addressing lookup (index entries carry the hash, as in FlowTable), an
 * insert for a new flow, and one counter per line touched. Flows never expire. FlowTable's slot
 * is 400 bytes, and a packet of an established flow touches about five of its lines; the issue's
 * reference loop ("a bare decode-plus-flow-table loop reaches 5 to 6 M/s") does not say what it
 * kept per flow, and this shows what that choice alone is worth. CPU time of the pass, the best
 * of three after one that warms up.
 */
import { readCapture } from '../src/capture/reader.js';
import type { CaptureRecord } from '../src/capture/record.js';
import { decodeRecord } from '../src/decode/decoder.js';
import { Frame } from '../src/decode/frame.js';
import { newEventCounters } from '../src/events.js';
import { packFrame, R, RECORD_WORDS } from '../src/flows/record.js';
import { canonicalKey, K } from './flow-key.js';
import { SMALL_FRAMES } from './generate.js';

const LINE_BYTES = 64;
const TIMED_PASSES = 3;

async function loadRecords(file: string): Promise<{ records: Uint32Array; count: number }> {
  const events = newEventCounters();
  const frame = new Frame(events);
  let records = new Uint32Array(RECORD_WORDS * 1024);
  let count = 0;
  const outcome = await readCapture(
    file,
    {
      record: frame,
      onRecord(rec: CaptureRecord): void {
        decodeRecord(frame, rec);
        if ((count + 1) * RECORD_WORDS > records.length) {
          const grown = new Uint32Array(records.length * 2);
          grown.set(records);
          records = grown;
        }
        if (packFrame(frame, records, count * RECORD_WORDS, 0x5eed)) count++;
      },
    },
    { events },
  );
  if (outcome.error) throw outcome.error;
  return { records, count };
}

/**
 * One pass with room for `room` flows (the table never grows: FlowTable too reserves its room up
 * front); returns CPU seconds and the flows found, or -1 flows when there was not room.
 */
function pass(records: Uint32Array, count: number, slotBytes: number, lines: number, room: number): { cpuS: number; flows: number } {
  const u32PerSlot = slotBytes / 4;
  const f64PerSlot = slotBytes / 8;
  const f64PerLine = LINE_BYTES / 8;
  const slots = new ArrayBuffer(room * slotBytes);
  const u32 = new Uint32Array(slots);
  const f64 = new Float64Array(slots);
  // Index entries at a load of at most 1/2, as in FlowTable.
  let entries = 1;
  while (entries < 2 * room) entries *= 2;
  const mask = entries - 1;
  const index = new Uint32Array(2 * entries);
  let flows = 0;
  const key = new Uint32Array(K.WORDS);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const base = i * RECORD_WORDS;
    canonicalKey(records, base, key);
    const hash = records[base + R.HASH]!;
    const ipA = key[K.IP_A]!;
    const ipB = key[K.IP_B]!;
    const ports = key[K.PORTS]!;
    let s = -1;
    for (let j = hash & mask; ; j = (j + 1) & mask) {
      const e = index[2 * j]!;
      if (e === 0) {
        s = flows++;
        index[2 * j] = s + 1;
        index[2 * j + 1] = hash;
        u32[s * u32PerSlot] = ipA;
        u32[s * u32PerSlot + 1] = ipB;
        u32[s * u32PerSlot + 2] = ports;
        break;
      }
      if (index[2 * j + 1] !== hash) continue;
      const b = (e - 1) * u32PerSlot;
      if (u32[b] === ipA && u32[b + 1] === ipB && u32[b + 2] === ports) {
        s = e - 1;
        break;
      }
    }
    const d = s * f64PerSlot + 2 + key[K.DIR]!;
    for (let l = 0; l < lines; l++) f64[d + l * f64PerLine]!++;
    if (flows === room) return { cpuS: NaN, flows: -1 };
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuS: (cpu.user + cpu.system) / 1e6, flows };
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? `bench/out/small-${SMALL_FRAMES.frames / 1_000_000}M.pcap`;
  const slotSizes = (process.argv[3] ?? '64,128,256,400,512').split(',').map(Number);
  const lineCounts = (process.argv[4] ?? '1,5').split(',').map(Number);
  for (const b of slotSizes) if (!Number.isInteger(b) || b < LINE_BYTES || b % LINE_BYTES !== 0 && b % 16 !== 0) throw new Error(`slot size ${b}: a multiple of 16 bytes, at least ${LINE_BYTES}`);
  const { records, count } = await loadRecords(file);
  console.log(`${file}: ${count} flow records in memory`);
  for (const lines of lineCounts) {
    for (const slotBytes of slotSizes) {
      if (lines * LINE_BYTES > slotBytes) continue;
      // The first pass warms up the compiler and counts the flows; the best of the next three is
      // reported (other load on the machine only ever slows a pass down).
      let room = 1 << 16;
      let warm = pass(records, count, slotBytes, lines, room);
      while (warm.flows < 0) warm = pass(records, count, slotBytes, lines, (room *= 2));
      let cpuS = Infinity;
      let flows = 0;
      for (let i = 0; i < TIMED_PASSES; i++) {
        const p = pass(records, count, slotBytes, lines, warm.flows + 1);
        cpuS = Math.min(cpuS, p.cpuS);
        flows = p.flows;
      }
      console.log(`slot ${String(slotBytes).padStart(4)} B, ${lines} line(s) touched per packet: ${(count / cpuS / 1e6).toFixed(2)} M records/s (${cpuS.toFixed(2)} CPU-s, ${flows} flows, ${((flows * slotBytes) / 1e6).toFixed(0)} MB of slots)`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
