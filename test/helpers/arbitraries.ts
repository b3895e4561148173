/** fast-check arbitraries for the wire values the packet builders (packets.ts) take. */
import fc from 'fast-check';

export const u8Arb = fc.integer({ min: 0, max: 0xff });
export const u16Arb = fc.integer({ min: 0, max: 0xffff });
export const u32Arb = fc.integer({ min: 0, max: 0xffffffff });
/** A MAC as packets.ts writes it: "aa:bb:cc:dd:ee:ff". */
export const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
/** A dotted IPv4 address. */
export const ipArb = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => b.join('.'));
