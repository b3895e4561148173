import { u16be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';
import { decodeStp } from './stp.js';
import { decodeTypeField } from './network.js';

/** 802.2 SAP values. */
export const Sap = {
  STP: 0x42,
  SNAP: 0xaa,
} as const;

/** SNAP organization codes. */
export const Oui = {
  /** RFC 1042 encapsulation: the protocol id is an EtherType. */
  ENCAPSULATED_ETHERNET: 0x000000,
  CISCO: 0x00000c,
} as const;

/** Cisco's SNAP protocol id for PVST+ BPDUs. */
const CISCO_PVST_PID = 0x010b;

/**
 * 802.2 LLC after an 802.3 length field: DSAP, SSAP and a 1- or 2-byte control field, then SNAP
 * (OUI + protocol id) when both SAPs are 0xAA. STP BPDUs (SAP 0x42, or Cisco PVST+ over SNAP)
 * are decoded; SNAP with OUI 0 carries an EtherType and is decoded as such.
 */
export function decodeLlc(f: Frame, b: Uint8Array, off: number, end: number): void {
  if (end - off < 3) {
    f.noteTruncated(Ev.LLC_TRUNCATED);
    return;
  }
  f.layers |= Layer.LLC;
  const dsap = b[off];
  const ssap = b[off + 1];
  f.llcDsap = dsap;
  f.llcSsap = ssap;
  let control = b[off + 2];
  let hdr = 3;
  // I-format and S-format PDUs have a 2-byte control field; U-format (low bits 11) has one byte.
  if ((control & 0x03) !== 0x03) {
    if (end - off < 4) {
      f.llcControl = 0;
      f.noteTruncated(Ev.LLC_TRUNCATED);
      return;
    }
    control = (control << 8) | b[off + 3];
    hdr = 4;
  }
  f.llcControl = control;
  off += hdr;
  if (dsap === Sap.STP && ssap === Sap.STP) {
    decodeStp(f, b, off, end);
    return;
  }
  if (dsap === Sap.SNAP && ssap === Sap.SNAP) {
    if (end - off < 5) {
      f.noteTruncated(Ev.LLC_TRUNCATED);
      return;
    }
    const oui = (b[off] << 16) | (b[off + 1] << 8) | b[off + 2];
    const pid = u16be(b, off + 3);
    f.snapOui = oui;
    f.snapPid = pid;
    off += 5;
    if (oui === Oui.CISCO && pid === CISCO_PVST_PID) {
      decodeStp(f, b, off, end);
    } else if (oui === Oui.ENCAPSULATED_ETHERNET && pid >= 0x0600) {
      decodeTypeField(f, b, off, end, pid);
    }
  }
}
