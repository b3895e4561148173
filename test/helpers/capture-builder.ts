import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writePcap, writePcapng, type PcapWriteOptions, type PcapngWriteOptions, type WriteFrame } from '../../src/capture/writer.js';
import { arp, ethernet, icmpEcho, icmpError, ipv4, synOptions, tcp, udp, type TcpSpec } from './packets.js';

/** An endpoint on the test network. */
export interface Host {
  mac: string;
  ip: string;
}

export interface TcpFrameSpec extends Omit<TcpSpec, 'sport' | 'dport'> {
  sport: number;
  dport: number;
  /** Payload length in bytes (zeros), when `payload` is not given. */
  len?: number;
  ttl?: number;
  ipId?: number;
  df?: boolean;
  /** Override the Ethernet addresses (e.g. a forged RST from another MAC, or a flooded frame). */
  srcMac?: string;
  dstMac?: string;
  vlans?: number[];
  /** Add typical SYN options (MSS, SACK, timestamps, wscale). */
  synOpts?: boolean;
}

/**
 * Describes a capture as a list of frames at given times (seconds from the start) and writes it
 * as pcap or pcapng. `add*` methods return the 1-based frame number, as Wireshark shows it.
 */
export class CaptureBuilder {
  readonly frames: WriteFrame[] = [];
  private nowSec = 0;
  private readonly startSec: number;

  constructor(opts: { startSec?: number } = {}) {
    this.startSec = opts.startSec ?? 1_700_000_000;
  }

  /** Sets the time of the following frames, in seconds since the capture start. */
  at(seconds: number): this {
    this.nowSec = seconds;
    return this;
  }

  /** Advances the time by `seconds`. */
  after(seconds: number): this {
    this.nowSec += seconds;
    return this;
  }

  /** Absolute epoch seconds of a relative time (for assertions). */
  epoch(seconds: number): number {
    return this.startSec + seconds;
  }

  add(data: Uint8Array, wireLen?: number): number {
    const whole = Math.floor(this.nowSec);
    const ns = Math.round((this.nowSec - whole) * 1e9);
    const frame: WriteFrame = { data, tsSec: this.startSec + whole, tsNs: Math.min(ns, 999_999_999) };
    if (wireLen !== undefined) frame.wireLen = wireLen;
    this.frames.push(frame);
    return this.frames.length;
  }

  tcp(from: Host, to: Host, spec: TcpFrameSpec): number {
    const payload = spec.payload ?? (spec.len ? new Uint8Array(spec.len) : undefined);
    const seg = tcp({
      ...spec,
      ...(payload ? { payload } : {}),
      ...(spec.synOpts ? { options: synOptions() } : {}),
    });
    const ip = ipv4({ src: from.ip, dst: to.ip, proto: 6, ttl: spec.ttl ?? 64, id: spec.ipId ?? 0, df: spec.df ?? true }, seg);
    return this.add(ethernet({ src: spec.srcMac ?? from.mac, dst: spec.dstMac ?? to.mac, type: 0x0800, ...(spec.vlans ? { vlans: spec.vlans } : {}) }, ip));
  }

  udp(from: Host, to: Host, spec: { sport: number; dport: number; len?: number; ttl?: number; srcMac?: string; dstMac?: string }): number {
    const seg = udp({ sport: spec.sport, dport: spec.dport, payload: new Uint8Array(spec.len ?? 0) });
    const ip = ipv4({ src: from.ip, dst: to.ip, proto: 17, ttl: spec.ttl ?? 64 }, seg);
    return this.add(ethernet({ src: spec.srcMac ?? from.mac, dst: spec.dstMac ?? to.mac, type: 0x0800 }, ip));
  }

  ping(from: Host, to: Host, spec: { type: 0 | 8; id: number; seq: number; dstMac?: string }): number {
    const ip = ipv4({ src: from.ip, dst: to.ip, proto: 1 }, icmpEcho(spec));
    return this.add(ethernet({ src: from.mac, dst: spec.dstMac ?? to.mac, type: 0x0800 }, ip));
  }

  /** An ICMP error from `from` about `quotedDatagram` (an IPv4 packet built with `ipv4`). */
  icmpError(from: Host, to: Host, spec: { type: number; code: number }, quotedDatagram: Uint8Array): number {
    const ip = ipv4({ src: from.ip, dst: to.ip, proto: 1 }, icmpError(spec, quotedDatagram));
    return this.add(ethernet({ src: from.mac, dst: to.mac, type: 0x0800 }, ip));
  }

  arp(spec: { op: number; from: Host; target: { mac: string; ip: string }; dstMac?: string; srcMac?: string }): number {
    const body = arp({ op: spec.op, senderMac: spec.from.mac, senderIp: spec.from.ip, targetMac: spec.target.mac, targetIp: spec.target.ip });
    const dst = spec.dstMac ?? (spec.op === 1 ? 'ff:ff:ff:ff:ff:ff' : spec.target.mac);
    return this.add(ethernet({ src: spec.srcMac ?? spec.from.mac, dst, type: 0x0806 }, body));
  }

  pcap(opts: PcapWriteOptions = {}): Uint8Array {
    return writePcap(this.frames, opts);
  }

  pcapng(opts: PcapngWriteOptions = {}): Uint8Array {
    return writePcapng(this.frames, opts);
  }

  /** Writes the capture to a new temporary file and returns its path. */
  writeTemp(name = 'capture.pcap', format: 'pcap' | 'pcapng' = 'pcap', opts: PcapWriteOptions & PcapngWriteOptions = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-test-'));
    const file = path.join(dir, name);
    fs.writeFileSync(file, format === 'pcap' ? this.pcap(opts) : this.pcapng(opts));
    return file;
  }
}

/** Writes bytes to a new temporary file and returns its path. */
export function writeTempFile(name: string, bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-test-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}
