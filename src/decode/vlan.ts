import { u16be } from '../bytes.js';
import { Ev } from '../events.js';
import { isVlanTpid } from './ethertypes.js';
import { Layer, MAX_VLAN_DEPTH, type Frame } from './frame.js';

export const VLAN_TAG_BYTES = 4;

/** Output of `decodeVlanTags`: the EtherType after the last tag. */
export const vlanOut = { type: 0 };

/**
 * Follows stacked 802.1Q / 802.1ad / 0x9100 tags from `off`, where `type` is the TPID that
 * announced the first tag. Keeps up to MAX_VLAN_DEPTH VLAN ids; deeper stacks are a
 * malformed frame. Returns the offset after the last tag (with `vlanOut.type` the inner type),
 * or -1 if the frame ends inside a tag or the stack is too deep.
 */
export function decodeVlanTags(f: Frame, b: Uint8Array, off: number, end: number, type: number): number {
  while (isVlanTpid(type)) {
    if (f.vlanDepth === MAX_VLAN_DEPTH) {
      f.note(Ev.VLAN_TOO_DEEP);
      return -1;
    }
    if (end - off < VLAN_TAG_BYTES) {
      f.noteTruncated(Ev.VLAN_TRUNCATED);
      return -1;
    }
    const vid = u16be(b, off) & 0x0fff;
    switch (f.vlanDepth) {
      case 0:
        f.vlan0 = vid;
        break;
      case 1:
        f.vlan1 = vid;
        break;
      case 2:
        f.vlan2 = vid;
        break;
      default:
        f.vlan3 = vid;
    }
    f.vlanDepth++;
    f.layers |= Layer.VLAN;
    type = u16be(b, off + 2);
    off += VLAN_TAG_BYTES;
  }
  vlanOut.type = type;
  return off;
}
