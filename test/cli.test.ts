import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CaptureBuilder, writeTempFile } from '../helpers/capture-builder.js';

const CLI = path.resolve('dist/src/cli.js');

function run(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const client = { mac: '02:00:00:00:00:01', ip: '10.0.0.1' };
const server = { mac: '02:00:00:00:00:02', ip: '10.0.0.2' };

function sample(): CaptureBuilder {
  const b = new CaptureBuilder();
  b.at(0).tcp(client, server, { sport: 40000, dport: 22, flags: 'S', seq: 100 });
  b.at(0.001).tcp(server, client, { sport: 22, dport: 40000, flags: 'SA', seq: 500, ack: 101 });
  b.at(0.002).tcp(client, server, { sport: 40000, dport: 22, flags: 'A', seq: 101, ack: 501 });
  b.at(0.5).arp({ op: 1, from: client, target: { mac: '00:00:00:00:00:00', ip: server.ip } });
  return b;
}

describe('pcapscan CLI', () => {
  it('is built (npm test runs tsc first)', () => {
    expect(fs.existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
  });

  it('prints the per-capture summary and exits 0', () => {
    const file = sample().writeTemp('s.pcap');
    const r = run([file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pcap-us-le');
    expect(r.stdout).toContain('frames 4');
    expect(r.stdout).toContain('IPv4 (0x0800) 3');
    expect(r.stdout).toContain('ARP (0x0806) 1');
    expect(r.stdout).toContain('IPv4 protocols: TCP 3');
  });

  it('prints one JSON document with the stable fields', () => {
    const file = sample().writeTemp('s.pcapng', 'pcapng');
    const r = run(['--json', file]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.tool).toBe('pcapscan');
    const c = doc.captures[0];
    expect(c).toMatchObject({ file, format: 'pcapng-le', frames: 4, linkTypes: { 'ETHERNET(1)': 4 }, etherTypes: { '0x0800': 3, '0x0806': 1 }, stp: 0, vlanFrames: 0, error: null, findings: [] });
    expect(c.start).toBe('2023-11-14T22:13:20.000000000Z');
    expect(typeof c.events).toBe('object');
  });

  it('reads standard input, gzip included', () => {
    const bytes = sample().pcap();
    const r = run(['--json', '-'], zlib.gzipSync(bytes));
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout).captures[0];
    expect(c).toMatchObject({ file: '<stdin>', format: 'pcap-us-le+gzip', frames: 4 });
  });

  it('exits 2 on an unreadable capture and names the file, offset and problem', () => {
    const bad = writeTempFile('notes.pcap', new TextEncoder().encode('hello world'));
    const good = sample().writeTemp('g.pcap');
    const r = run([bad, good]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: byte offset 0: not a capture file: magic bytes 68 65 6c 6c`);
    // The good capture is still analyzed.
    expect(r.stdout).toContain('frames 4');
  });

  it('exits 0 and warns when only the last record is truncated; the frames before are counted', () => {
    const bytes = sample().pcap();
    const file = writeTempFile('cut.pcap', bytes.subarray(0, bytes.length - 3));
    const r = run(['--json', file]);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout).captures[0];
    expect(c.frames).toBe(3);
    expect(c.error).toMatchObject({ kind: 'truncated', frame: 4 });
    expect(r.stderr).toContain('truncated last record: frame 4');
  });

  it('exits 2 on a usage error', () => {
    expect(run(['--no-such-option', 'x']).code).toBe(2);
    expect(run([]).code).toBe(2);
  });

  it('prints its version', () => {
    const out = execFileSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
