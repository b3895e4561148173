import { mac48, u16be, u32be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';

/** BPDU types. */
export const BpduType = {
  CONFIG: 0x00,
  TCN: 0x80,
  /** RST and MST BPDUs. */
  RST: 0x02,
} as const;

/** Flag bits of a BPDU. */
export const BpduFlag = {
  TOPOLOGY_CHANGE: 0x01,
  PROPOSAL: 0x02,
  LEARNING: 0x10,
  FORWARDING: 0x20,
  AGREEMENT: 0x40,
  TOPOLOGY_CHANGE_ACK: 0x80,
} as const;

const CONFIG_BPDU_BYTES = 35;

/**
 * A spanning-tree BPDU (802.1D STP, 802.1w RSTP, the CIST part of 802.1s MSTP): protocol id,
 * version, type; for configuration and RST BPDUs also flags, root id, path cost, bridge id,
 * port id and the four timers.
 */
export function decodeStp(f: Frame, b: Uint8Array, off: number, end: number): void {
  if (end - off < 4) {
    f.noteTruncated(Ev.STP_TRUNCATED);
    return;
  }
  if (u16be(b, off) !== 0) {
    f.note(Ev.STP_BAD_PROTOCOL);
    return;
  }
  f.layers |= Layer.STP;
  f.stpVersion = b[off + 2];
  f.stpType = b[off + 3];
  if (f.stpType === BpduType.TCN) {
    clearConfig(f);
    return;
  }
  if (end - off < CONFIG_BPDU_BYTES) {
    clearConfig(f);
    f.noteTruncated(Ev.STP_TRUNCATED);
    return;
  }
  f.stpFlags = b[off + 4];
  f.stpRootPriority = u16be(b, off + 5);
  f.stpRootMac = mac48(b, off + 7);
  f.stpRootPathCost = u32be(b, off + 13);
  f.stpBridgePriority = u16be(b, off + 17);
  f.stpBridgeMac = mac48(b, off + 19);
  f.stpPortId = u16be(b, off + 25);
  f.stpMessageAge = u16be(b, off + 27);
  f.stpMaxAge = u16be(b, off + 29);
  f.stpHelloTime = u16be(b, off + 31);
  f.stpForwardDelay = u16be(b, off + 33);
}

/**
 * A TCN or a cut BPDU has no flags, ids or timers: zero them, so that a reused Frame does not
 * show the previous BPDU's (its topology-change flag, its root) for this one.
 */
function clearConfig(f: Frame): void {
  f.stpFlags = 0;
  f.stpRootPriority = 0;
  f.stpRootMac = 0;
  f.stpRootPathCost = 0;
  f.stpBridgePriority = 0;
  f.stpBridgeMac = 0;
  f.stpPortId = 0;
  f.stpMessageAge = 0;
  f.stpMaxAge = 0;
  f.stpHelloTime = 0;
  f.stpForwardDelay = 0;
}
