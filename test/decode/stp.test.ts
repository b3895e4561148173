import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { BpduFlag, BpduType } from '../../src/decode/stp.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { ieee8023, macNumber, stpBpdu, type BpduSpec } from '../helpers/packets.js';

const SRC = '00:1b:2c:3d:4e:5f';
const STP_DST = '01:80:c2:00:00:00';

function bpduFrame(spec: BpduSpec): Uint8Array {
  return ieee8023({ src: SRC, dst: STP_DST }, stpBpdu(spec));
}

describe('configuration BPDU (802.1D)', () => {
  it('decodes every field: root and bridge ids, cost, port, timers in 1/256 s', () => {
    const { f, events } = decodeBytes(
      bpduFrame({
        flags: 0,
        rootPriority: 4096 + 1,
        rootMac: '00:00:0c:9f:f0:01',
        rootPathCost: 19,
        bridgePriority: 32768 + 1,
        bridgeMac: '00:1b:2c:3d:4e:5f',
        portId: 0x8002,
        messageAge: 1,
        maxAge: 20,
        helloTime: 2,
        forwardDelay: 15,
      }),
    );
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.STP);
    expect(f.stpVersion).toBe(0);
    expect(f.stpType).toBe(BpduType.CONFIG);
    expect(f.stpFlags).toBe(0);
    expect(f.stpRootPriority).toBe(4097);
    expect(f.stpRootMac).toBe(macNumber('00:00:0c:9f:f0:01'));
    expect(f.stpRootPathCost).toBe(19);
    expect(f.stpBridgePriority).toBe(32769);
    expect(f.stpBridgeMac).toBe(macNumber('00:1b:2c:3d:4e:5f'));
    expect(f.stpPortId).toBe(0x8002);
    expect(f.stpMessageAge).toBe(256);
    expect(f.stpMaxAge).toBe(20 * 256);
    expect(f.stpHelloTime).toBe(2 * 256);
    expect(f.stpForwardDelay).toBe(15 * 256);
    expect(events).toEqual({});
  });

  it('reads the topology change and topology change acknowledgment flags', () => {
    const tc = decodeBytes(bpduFrame({ flags: BpduFlag.TOPOLOGY_CHANGE, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' })).f;
    expect(tc.stpFlags & BpduFlag.TOPOLOGY_CHANGE).toBe(BpduFlag.TOPOLOGY_CHANGE);
    expect(tc.stpFlags & BpduFlag.TOPOLOGY_CHANGE_ACK).toBe(0);
    const tca = decodeBytes(bpduFrame({ flags: 0x81, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' })).f;
    expect(tca.stpFlags).toBe(BpduFlag.TOPOLOGY_CHANGE | BpduFlag.TOPOLOGY_CHANGE_ACK);
  });

  it('keeps a path cost above 2^31 unsigned', () => {
    const { f } = decodeBytes(bpduFrame({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02', rootPathCost: 0xfffffffe }));
    expect(f.stpRootPathCost).toBe(0xfffffffe);
  });
});

describe('topology change notification BPDU', () => {
  it('has a version and type and nothing else', () => {
    const { f, events } = decodeBytes(bpduFrame({ type: 0x80, rootMac: '00:00:00:00:00:00', bridgeMac: '00:00:00:00:00:00' }));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.STP);
    expect(f.stpVersion).toBe(0);
    expect(f.stpType).toBe(BpduType.TCN);
    expect(f.stpFlags).toBe(0);
    expect(f.stpRootMac).toBe(0);
    expect(events).toEqual({});
  });
});

describe('RST BPDU (802.1w)', () => {
  it('decodes version 2, type 2 and the RSTP flags (role, proposal, agreement, learning, forwarding)', () => {
    // Designated role (0b11 << 2), learning, forwarding, agreement, proposal, topology change.
    const flags = 0x0c | BpduFlag.LEARNING | BpduFlag.FORWARDING | BpduFlag.AGREEMENT | BpduFlag.PROPOSAL | BpduFlag.TOPOLOGY_CHANGE;
    const { f, events } = decodeBytes(bpduFrame({ version: 2, flags, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02', portId: 0x8010 }));
    expect(f.stpVersion).toBe(2);
    expect(f.stpType).toBe(BpduType.RST);
    expect(f.stpFlags).toBe(0x7f);
    expect((f.stpFlags >> 2) & 0x03).toBe(3);
    expect(f.stpFlags & BpduFlag.TOPOLOGY_CHANGE_ACK).toBe(0);
    expect(f.stpPortId).toBe(0x8010);
    expect(f.lengthField).toBe(39);
    expect(events).toEqual({});
  });
});

describe('malformed and cut BPDUs', () => {
  it('stops at a protocol identifier other than 0 (decoder.stp.bad_protocol_id)', () => {
    const bytes = bpduFrame({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' });
    bytes[14 + 3 + 1] = 0x01;
    const { f, events } = decodeBytes(bytes);
    expect(events).toEqual({ 'decoder.stp.bad_protocol_id': 1 });
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
    expect(f.truncated).toBe(0);
  });

  it('counts decoder.stp.truncated at every cut, decoding version and type once 4 bytes are there', () => {
    const whole = bpduFrame({ version: 2, flags: 0x3c, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' }).subarray(0, 14 + 39);
    const bpduStart = 14 + 3;
    for (let n = bpduStart; n < bpduStart + 35; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.stp.truncated': 1 });
      expect(f.truncated).toBe(1);
      const four = n - bpduStart >= 4;
      expect((f.layers & Layer.STP) !== 0, `cut at ${n}`).toBe(four);
      expect(f.stpVersion).toBe(four ? 2 : 0);
      expect(f.stpType).toBe(four ? 2 : 0);
      expect(f.stpFlags).toBe(0);
    }
    // The RSTP version-1-length byte is not needed.
    const { f, events } = decodeCut(whole, bpduStart + 35);
    expect(events).toEqual({});
    expect(f.stpFlags).toBe(0x3c);
  });

  it('decodes a TCN from 4 bytes', () => {
    const whole = bpduFrame({ type: 0x80, rootMac: '00:00:00:00:00:00', bridgeMac: '00:00:00:00:00:00' });
    const { f, events } = decodeCut(whole, 14 + 3 + 4);
    expect(events).toEqual({});
    expect(f.stpType).toBe(0x80);
  });
});
