import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CaptureBuilder, writeTempFile } from './helpers/capture-builder.js';

const CLI = path.resolve('dist/src/cli.js');

function run(args: string[], input?: Uint8Array, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
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

/** One SYN answered by a forged RST (another MAC, REJECT fingerprint) and by the real SYN+ACK. */
function conflict(): CaptureBuilder {
  const b = new CaptureBuilder();
  b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1000, synOpts: true });
  b.at(0.0001).tcp(server, client, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 1001, window: 0, df: false, srcMac: '02:00:00:00:00:99' });
  b.at(0.0003).tcp(server, client, { sport: 22, dport: 40001, flags: 'SA', seq: 5000, ack: 1001, synOpts: true });
  b.at(0.0004).tcp(client, server, { sport: 40001, dport: 22, flags: 'R', seq: 1001 });
  return b;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-cli-'));
}

describe('pcapscan CLI', () => {
  it('is built (npm test runs tsc first)', () => {
    expect(fs.existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
  });

  it('prints the per-capture summary and "no problem found" for a clean capture, exit 0', () => {
    const r = run([sample().writeTemp('s.pcap')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pcap-us-le');
    expect(r.stdout).toContain('frames 4');
    expect(r.stdout).toContain('IPv4 (0x0800) 3');
    expect(r.stdout).toContain('ARP (0x0806) 1');
    expect(r.stdout).toContain('No problem found.');
  });

  it('prints the findings table, then the explanation, evidence frames and fix of each finding', () => {
    const r = run([conflict().writeTemp('c.pcap')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/HIGH\s+│ tcp.conflicting_responses/);
    expect(r.stdout).toContain('1. tcp.conflicting_responses  HIGH  10.0.0.2:22');
    expect(r.stdout).toMatch(/frame\s+1 .* SYN/);
    expect(r.stdout).toMatch(/frame\s+2 .* RST answering the SYN \(window 0, no TCP options, IP id 0/);
    expect(r.stdout).toContain('Fix');
    expect(r.stdout).toContain('DROP policy instead of REJECT');
  });

  it('--brief prints the table only', () => {
    const r = run(['--brief', conflict().writeTemp('c.pcap')]);
    expect(r.stdout).toContain('tcp.conflicting_responses');
    expect(r.stdout).not.toContain('Fix');
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
    expect(c.flows).toMatchObject({ total: 1, connStates: { S1: 1 }, verdicts: { NEW: 1, ESTABLISHED: 2, RELATED: 0, INVALID: 0 } });
  });

  it('--ndjson streams one line per finding, then one per capture', () => {
    const r = run(['--ndjson', conflict().writeTemp('c.pcap')]);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const findings = lines.filter((l) => l.type === 'finding');
    expect(findings.map((l) => l.id)).toContain('tcp.conflicting_responses');
    expect(findings[0].capture).toMatch(/c\.pcap$/);
    expect(lines[lines.length - 1]).toMatchObject({ type: 'capture', frames: 4, findings: findings.length });
  });

  it('--fail-on sets exit code 1 when a finding reaches the severity, 0 otherwise', () => {
    const file = conflict().writeTemp('c.pcap');
    expect(run(['--quiet', '--fail-on', 'high', file]).code).toBe(1);
    expect(run(['--quiet', '--fail-on', 'medium', file]).code).toBe(1);
    expect(run(['--quiet', '--fail-on', 'high', sample().writeTemp('s.pcap')]).code).toBe(0);
  });

  it('--quiet prints nothing on stdout', () => {
    const r = run(['--quiet', conflict().writeTemp('c.pcap')]);
    expect(r.stdout).toBe('');
  });

  it('reads standard input, gzip included', () => {
    const r = run(['--json', '-'], zlib.gzipSync(sample().pcap()));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).captures[0]).toMatchObject({ file: '<stdin>', format: 'pcap-us-le+gzip', frames: 4 });
  });

  it('exits 2 on an unreadable capture, naming the file, offset and problem, and still analyzes the others', () => {
    const bad = writeTempFile('notes.pcap', new TextEncoder().encode('hello world'));
    const good = sample().writeTemp('g.pcap');
    const r = run(['--jobs', '1', bad, good]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: byte offset 0: not a capture file: magic bytes 68 65 6c 6c`);
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

  it('walks directories for captures by magic and extension, reports misnamed files, in order, with a summary table', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'a.pcap'), sample().pcap());
    fs.writeFileSync(path.join(dir, 'sub', 'no-extension'), conflict().pcapng());
    fs.writeFileSync(path.join(dir, 'sub', 'notes.txt'), 'not a capture, not named like one');
    fs.writeFileSync(path.join(dir, 'z.pcap'), 'named like a capture, but text');
    const r = run(['--jobs', '2', dir]);
    expect(r.code).toBe(2); // z.pcap is unreadable
    const order = ['a.pcap', 'no-extension', 'z.pcap'].map((n) => r.stdout.indexOf(n));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    expect(r.stdout).not.toContain('notes.txt');
    expect(r.stdout).toMatch(/│ capture\s+│ frames\s+│ high\s+│ medium\s+│ low\s+│ info\s+│ read error\s+│/);
    expect(r.stderr).toContain('z.pcap: byte offset 0: not a capture file');
  });

  it('batch output is the same with --jobs 1 and --jobs 2', () => {
    const dir = tempDir();
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(dir, `c${i}.pcap`), (i % 2 ? conflict() : sample()).pcap());
    const one = JSON.parse(run(['--json', '--jobs', '1', dir]).stdout);
    const two = JSON.parse(run(['--json', '--jobs', '2', dir]).stdout);
    expect(two).toEqual(one);
  });

  it('takes thresholds from flags and from a config file, and rejects unknown or bad ones', () => {
    const b = new CaptureBuilder();
    const quiet = { mac: '02:00:00:00:00:05', ip: '10.0.0.5' };
    b.at(0).tcp(quiet, client, { sport: 22, dport: 40000, flags: 'PA', seq: 1, ack: 1, len: 10 });
    b.at(100).tcp(client, quiet, { sport: 40000, dport: 22, flags: 'PA', seq: 1, ack: 11, len: 10 });
    const file = b.writeTemp('q.pcap');
    const ids = (args: string[]) => JSON.parse(run(['--json', ...args, file]).stdout).captures[0].findings.map((f: { id: string }) => f.id);
    expect(ids([])).not.toContain('l2.unknown_unicast_flood');
    expect(ids(['--fdb-ageing', '60'])).toContain('l2.unknown_unicast_flood');
    const config = writeTempFile('config.json', new TextEncoder().encode(JSON.stringify({ 'fdb-ageing': 60 })));
    expect(ids(['--config', config])).toContain('l2.unknown_unicast_flood');
    expect(ids(['--config', config, '--fdb-ageing', '300'])).not.toContain('l2.unknown_unicast_flood');
    const badKey = writeTempFile('bad.json', new TextEncoder().encode(JSON.stringify({ 'no-such-option': 1 })));
    const r = run(['--config', badKey, file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option "no-such-option" in the config file');
    expect(run(['--fdb-ageing', '0', file]).stderr).toContain('fdb-ageing must be between 1 and');
  });

  it('writes the flow export with --flows', () => {
    const out = path.join(tempDir(), 'flows.jsonl');
    run(['--flows', out, conflict().writeTemp('c.pcap')]);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ orig_h: '10.0.0.1', orig_p: 40001, resp_h: '10.0.0.2', resp_p: 22, conn_state: 'REJ' });
    expect(lines[0].handshake.map((h: { kind: string; frame: number }) => `${h.kind}@${h.frame}`)).toEqual(['SYN@1', 'RST@2', 'SYN+ACK@3', 'RST@4']);
  });

  it('escapes control characters that would reach the terminal', () => {
    const dir = tempDir();
    const evil = path.join(dir, 'evil\u001b[31mname.pcap');
    fs.writeFileSync(evil, sample().pcap());
    const r = run([evil]);
    expect(r.stdout).not.toContain('\u001b[31m');
    expect(r.stdout).toContain('evil\\x1b[31mname.pcap');
  });

  it('exits 2 on a usage error', () => {
    expect(run(['--no-such-option', 'x']).code).toBe(2);
    expect(run([]).code).toBe(2);
    expect(run(['--threads', '0', 'x']).code).toBe(2);
  });

  it('prints its version', () => {
    const out = execFileSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('pcapscan check', () => {
  function checkDir(): string {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'conflict.pcap'), conflict().pcap());
    fs.writeFileSync(
      path.join(dir, 'conflict.expect.json'),
      JSON.stringify({ findings: [{ id: 'tcp.conflicting_responses', subject: '10.0.0.2:22', count: { min: 1, max: 1 }, severity: 'high' }], absent: ['tcp.syn_recv_buildup'], error: null }),
    );
    fs.writeFileSync(path.join(dir, 'clean.pcap'), sample().pcap());
    fs.writeFileSync(path.join(dir, 'clean.expect.json'), JSON.stringify({ findings: [], absent: ['tcp.conflicting_responses'] }));
    fs.writeFileSync(path.join(dir, 'unchecked.pcap'), sample().pcap());
    return dir;
  }

  it('passes captures that meet their expectations and writes JUnit', () => {
    const dir = checkDir();
    const junit = path.join(dir, 'junit.xml');
    const r = run(['check', dir, '--junit', junit]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`PASS ${path.join(dir, 'clean.pcap')}`);
    expect(r.stdout).toContain(`PASS ${path.join(dir, 'conflict.pcap')}`);
    expect(r.stdout).toContain('2 capture(s) checked, 0 failed');
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toContain('<testsuites name="pcapscan check" tests="2" failures="0" errors="0"');
    expect(xml).toContain('conflict.pcap');
  });

  it('fails with a readable diff when a finding is missing, unexpected, or counted wrong', () => {
    const dir = checkDir();
    fs.writeFileSync(
      path.join(dir, 'conflict.expect.json'),
      JSON.stringify({ findings: [{ id: 'tcp.conflicting_responses', subject: '10.0.0.2:22', count: { min: 2 } }, { id: 'l2.stp' }], absent: ['ct.invalid'] }),
    );
    const junit = path.join(dir, 'junit.xml');
    const r = run(['check', dir, '--junit', junit]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL ${path.join(dir, 'conflict.pcap')}`);
    expect(r.stdout).toContain('~ count     tcp.conflicting_responses [10.0.0.2:22] count 2..∞: got 1');
    expect(r.stdout).toContain('- missing   l2.stp');
    expect(r.stdout).toContain('+ unexpected ct.invalid');
    expect(fs.readFileSync(junit, 'utf8')).toContain('failures="1"');
  });

  it('--update writes the expectations from the current results', () => {
    const dir = checkDir();
    fs.writeFileSync(path.join(dir, 'conflict.expect.json'), JSON.stringify({ description: 'kept', options: { 'fdb-ageing': 60 }, findings: [] }));
    const r = run(['check', dir, '--update']);
    expect(r.code).toBe(0);
    const exp = JSON.parse(fs.readFileSync(path.join(dir, 'conflict.expect.json'), 'utf8'));
    expect(exp.description).toBe('kept');
    expect(exp.options).toEqual({ 'fdb-ageing': 60 });
    expect(exp.findings).toContainEqual({ id: 'tcp.conflicting_responses', subject: '10.0.0.2:22', count: { min: 1, max: 1 }, severity: 'high' });
    expect(exp.absent).toContain('tcp.syn_recv_buildup');
    expect(run(['check', dir]).code).toBe(0);
  });
});
