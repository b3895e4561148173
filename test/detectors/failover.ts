/** A virtual IP moving between two nodes, announced by gratuitous ARPs (like the lab's arp-ip-moves capture). */
import { CaptureBuilder } from '../helpers/capture-builder.js';

export const ZERO = '00:00:00:00:00:00';
export const BCAST = 'ff:ff:ff:ff:ff:ff';
export const observer = { mac: '02:00:00:05:01:50', ip: '10.5.1.50' };
export const node1 = { mac: '02:00:00:05:01:01', ip: '10.5.1.100' };
export const node2 = { mac: '02:00:00:05:01:02', ip: '10.5.1.100' };

export interface Failover {
  b: CaptureBuilder;
  /** Gratuitous ARPs of each move: node1 -> node2 (requests), node2 -> node1 (replies), node1 -> node2 (requests). */
  move1: number[];
  move2: number[];
  move3: number[];
  echoReplies: number[];
}

export function failover(): Failover {
  const b = new CaptureBuilder();
  const echoReplies: number[] = [];
  b.at(0).arp({ op: 1, from: observer, target: { mac: ZERO, ip: node1.ip } });
  b.at(0.0001).arp({ op: 2, from: node1, target: observer });
  let owner = node1;
  let seq = 0;
  const pingUntil = (t0: number, t1: number) => {
    for (let t = t0; t < t1; t += 0.5) {
      seq++;
      b.at(t).ping(observer, owner, { type: 8, id: 9, seq });
      echoReplies.push(b.at(t + 0.0002).ping(owner, observer, { type: 0, id: 9, seq }));
    }
  };
  const garp = (n: typeof node1, op: 1 | 2, t: number) =>
    b.at(t).arp({ op, from: n, target: { mac: op === 1 ? BCAST : n.mac, ip: n.ip }, dstMac: BCAST });
  pingUntil(0.5, 4.6);
  const move1 = [garp(node2, 1, 4.8), garp(node2, 1, 5.8), garp(node2, 1, 6.8)];
  owner = node2;
  pingUntil(5.1, 10.8);
  const move2 = [garp(node1, 2, 10.9), garp(node1, 2, 11.9)];
  owner = node1;
  pingUntil(11.1, 16.9);
  const move3 = [garp(node2, 1, 17)];
  owner = node2;
  pingUntil(17.4, 19);
  return { b, move1, move2, move3, echoReplies };
}
