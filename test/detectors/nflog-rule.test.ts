/**
 * fw.nflog_rule: what each logging rule (NFLOG group and prefix) logged, in a capture taken with
 * `tcpdump -i nflog:N`. Checked on the lab's NFLOG capture against the table tshark made of it
 * (captures/conntrack-verdicts.kernel.tsv: each packet's prefix, addresses and ports), and on
 * built captures for the cases the lab does not have.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/report/types.js';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { ipv4, nflogRecord, tcp, udp } from '../helpers/packets.js';
import { tsharkFields, tsharkVersion } from '../helpers/tshark.js';
import { findingsOf, frames, reportOf } from './helpers.js';

const ID = 'fw.nflog_rule';
const NFLOG = 239;
const CAPTURES = fileURLToPath(new URL('../../captures', import.meta.url));

interface TsvRow {
  frame: number;
  prefix: string;
  src: string;
  dst: string;
  proto: string;
  dport: string;
  icmpType: string;
}

/** The lab's table: one row per packet of the NFLOG capture, in order (frame = row + 1). */
function labRows(): TsvRow[] {
  return fs
    .readFileSync(path.join(CAPTURES, 'conntrack-verdicts.kernel.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .slice(1)
    .map((l, i) => {
      const [prefix, src, dst, proto, , dport, , icmpType] = l.split('\t') as [string, string, string, string, string, string, string, string];
      return { frame: i + 1, prefix, src, dst, proto, dport, icmpType };
    });
}

function details(f: Finding): Record<string, any> {
  return f.details as Record<string, any>;
}

describe('fw.nflog_rule', () => {
  it('reports, per prefix of the lab capture, the packets, protocols, top flows and first frames tshark lists', async () => {
    const rows = labRows();
    expect(rows).toHaveLength(641);
    const report = await reportOf(path.join(CAPTURES, 'conntrack-verdicts.nflog.pcap'));
    const found = report.findings.filter((f) => f.id === ID);
    const prefixes = [...new Set(rows.map((r) => r.prefix))].sort();
    expect(found.map((f) => f.subject)).toEqual(prefixes.map((p) => `NFLOG prefix "${p}", group 6`));
    for (const f of found) {
      const d = details(f);
      const mine = rows.filter((r) => r.prefix === d.prefix);
      expect(f.severity).toBe('info');
      expect(f.count, d.prefix).toBe(mine.length);
      expect(d.group).toBe(6);
      // The table gives an ICMP packet's type (an error's addresses are those it quotes).
      const icmp = mine.filter((r) => r.icmpType !== '-').length;
      expect(d.protocols, d.prefix).toEqual({
        tcp: mine.filter((r) => r.icmpType === '-' && r.proto === '6').length,
        udp: mine.filter((r) => r.icmpType === '-' && r.proto === '17').length,
        icmp,
        otherIpv4: 0,
        ipv6: 0,
        other: 0,
      });
      expect([d.firstFrame, d.lastFrame]).toEqual([mine[0]!.frame, mine.at(-1)!.frame]);
      expect(frames(f)).toEqual(mine.slice(0, 8).map((r) => r.frame));
      expect(f.evidenceTotal).toBe(mine.length);
      // Each listed TCP/UDP flow has the packets the table counts for it, most first.
      const counts = d.topFlows.map((t: { packets: number }) => t.packets);
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
      for (const t of d.topFlows) {
        if (t.dstPort === null) continue;
        const proto = t.proto === 'tcp' ? '6' : '17';
        const same = mine.filter((r) => r.icmpType === '-' && r.proto === proto && r.src === t.src && r.dst === t.dst && r.dport === String(t.dstPort));
        expect([t.packets, t.firstFrame, t.lastFrame], `${d.prefix} ${t.src} → ${t.dst}:${t.dstPort}`).toEqual([same.length, same[0]!.frame, same.at(-1)!.frame]);
      }
      expect(d.displayFilter).toBe(`nflog.res_id == 6 && nflog.prefix == "${d.prefix}"`);
    }
    // The connection with the most logged packets is the 300 kB download's (server to client).
    const established = found.find((f) => details(f).prefix === 'ESTABLISHED')!;
    const top = details(established).topFlows[0];
    const tcpRows = rows.filter((r) => r.prefix === 'ESTABLISHED' && r.icmpType === '-' && r.proto === '6');
    const byFlow = new Map<string, number>();
    for (const r of tcpRows) byFlow.set(`${r.src}>${r.dst}:${r.dport}`, (byFlow.get(`${r.src}>${r.dst}:${r.dport}`) ?? 0) + 1);
    const [bestKey, best] = [...byFlow].sort((a, b) => b[1] - a[1])[0]!;
    expect(`${top.src}>${top.dst}:${top.dstPort}`).toBe(bestKey);
    expect(top.packets).toBe(best);
    expect(established.summary).toContain(`most: ${top.src} → ${top.dst}:${top.dstPort}/tcp (${best} packets`);
  });

  it('tells rules apart by group and by prefix byte for byte, in either TLV byte order, with or without a prefix', async () => {
    const b = new CaptureBuilder();
    const syn = (sport: number): Uint8Array => ipv4({ src: '192.0.2.7', dst: '198.51.100.1', proto: 6 }, tcp({ sport, dport: 22, flags: 0x02 }));
    const dns = ipv4({ src: '192.0.2.8', dst: '198.51.100.53', proto: 17 }, udp({ sport: 5353, dport: 53 }));
    const drop: number[] = [];
    for (let i = 0; i < 3; i++) drop.push(b.at(i).add(nflogRecord({ group: 5, prefix: "DROP 'in'", littleEndian: i !== 1 }, syn(40000 + i))));
    const otherGroup = b.at(3).add(nflogRecord({ group: 7, prefix: "DROP 'in'" }, syn(40010)));
    // Linux sends an empty prefix for a rule without one; a record may also have none at all.
    const noPrefix = [b.at(4).add(nflogRecord({ group: 5, prefix: '' }, dns)), b.at(4.5).add(nflogRecord({ group: 5 }, dns))];
    const longer = b.at(5).add(nflogRecord({ group: 5, prefix: "DROP 'in'x" }, dns));
    const found = await findingsOf(b, ID, {}, 'pcap', NFLOG);
    // In the report's order: by subject.
    expect(found.map((f) => [f.subject, f.count, frames(f)])).toEqual([
      [`NFLOG group 5, no prefix`, 2, noPrefix],
      [`NFLOG prefix "DROP 'in'", group 5`, 3, drop],
      [`NFLOG prefix "DROP 'in'", group 7`, 1, [otherGroup]],
      [`NFLOG prefix "DROP 'in'x", group 5`, 1, [longer]],
    ]);
    const [none, dropIn] = found;
    expect(details(none!).prefix).toBeNull();
    expect(details(none!).displayFilter).toBe('nflog.res_id == 5 && (!nflog.prefix || nflog.prefix == "")');
    expect(details(none!).topFlows).toEqual([{ proto: 'udp', src: '192.0.2.8', dst: '198.51.100.53', dstPort: 53, icmpType: null, packets: 2, firstFrame: noPrefix[0], lastFrame: noPrefix[1] }]);
    // iptables-save prints neither an empty prefix nor --nflog-group 0; nft prints `log group 5`.
    expect(none!.remediation).toContain(`iptables-save | grep -F -- '-j NFLOG' | grep -v -F -- '--nflog-prefix' | grep -E -- '--nflog-group 5( |$)'`);
    expect(none!.remediation).toContain(`nft -a list ruleset | grep -E -- 'log group 5( |$)'`);
    // Three source ports, one flow as the rule sees it: source, destination and its port.
    expect(details(dropIn!).flows).toBe(1);
    expect(details(dropIn!).topFlows[0]).toMatchObject({ proto: 'tcp', src: '192.0.2.7', dst: '198.51.100.1', dstPort: 22, packets: 3 });
    expect(dropIn!.summary).toBe(`3 packets logged by the rule with prefix "DROP 'in'", group 5: 3 TCP; most: 192.0.2.7 → 198.51.100.1:22/tcp (3 packets, frames 1-3)`);
    expect(dropIn!.evidence[0]).toMatchObject({ frame: 1, src: '192.0.2.7:40000', dst: '198.51.100.1:22', what: `logged to NFLOG group 5 with prefix "DROP 'in'"` });
    // iptables-save writes such a prefix in double quotes, with a backslash before ' (and " and \);
    // nft writes it as is. In the shell word, a single quote closes, is escaped and reopens.
    expect(dropIn!.remediation).toContain(`iptables-save | grep -F -- '--nflog-prefix "DROP \\'\\''in\\'\\''"'`);
    expect(dropIn!.remediation).toContain(`nft -a list ruleset | grep -F -- 'prefix "DROP '\\''in'\\''"'`);
    expect(dropIn!.explanation).toContain('tcpdump -i nflog:5');
  });

  it.skipIf(!tsharkVersion() && !process.env.CI)("gives each rule a Wireshark filter that selects exactly its packets (checked with tshark)", async () => {
    if (!tsharkVersion()) throw new Error('tshark is needed on CI (apt-get install -y tshark)');
    const b = new CaptureBuilder();
    const dns = ipv4({ src: '192.0.2.8', dst: '198.51.100.53', proto: 17 }, udp({ sport: 5353, dport: 53 }));
    // Quotes, a backslash, a byte above 0x7f (UTF-8 é), a control byte, none, a longer one.
    const prefixes = [`DROP 'in'`, 'a"b\\c', 'bloqué', 'x\u0001y', '', undefined, 'DROP'];
    prefixes.forEach((prefix, i) => {
      for (let k = 0; k <= i % 2; k++) b.at(i + k * 0.1).add(nflogRecord({ group: 5, ...(prefix !== undefined ? { prefix } : {}) }, dns));
    });
    const file = b.writeTemp('t.pcap', 'pcap', { linkType: NFLOG });
    const found = (await reportOf(file)).findings.filter((f) => f.id === ID);
    expect(found).toHaveLength(6);
    for (const f of found) {
      const t = await tsharkFields(file, [], { extra: ['-Y', details(f).displayFilter] });
      expect(t.status, `${details(f).displayFilter}: ${t.stderr}`).toBe(0);
      expect(t.rows.map((r) => Number(r[0])), details(f).displayFilter).toEqual(frames(f));
    }
  });

  it('keeps at most 256 rules and 64 flows per rule apart, and counts the rest', async () => {
    const b = new CaptureBuilder();
    const pkt = (dst: number): Uint8Array => ipv4({ src: '192.0.2.7', dst: `198.51.${dst >> 8}.${dst & 0xff}`, proto: 17 }, udp({ sport: 1000, dport: 53 }));
    for (let i = 0; i < 300; i++) b.at(i * 0.01).add(nflogRecord({ group: 1, prefix: `rule ${String(i).padStart(3, '0')}` }, pkt(1)));
    for (let i = 0; i < 100; i++) b.at(10 + i * 0.01).add(nflogRecord({ group: 1, prefix: 'busy' }, pkt(i)));
    const found = await findingsOf(b, ID, {}, 'pcap', NFLOG);
    // The first 256 prefixes met are kept; "busy" comes after them.
    expect(found).toHaveLength(256);
    expect(found.every((f) => f.count === 1)).toBe(true);
    expect(details(found[0]!).otherRulePackets).toBe(44 + 100);
    expect(found[0]!.explanation).toContain('More than 256 distinct rules logged; 144 packets of the others are not reported per rule.');

    const b2 = new CaptureBuilder();
    for (let i = 0; i < 100; i++) b2.at(i * 0.01).add(nflogRecord({ group: 1, prefix: 'busy' }, pkt(i)));
    const [busy] = await findingsOf(b2, ID, {}, 'pcap', NFLOG);
    expect(busy!.count).toBe(100);
    expect([details(busy!).flows, details(busy!).flowsCapped, details(busy!).packetsInUncountedFlows]).toEqual([64, true, 36]);
  });

  it("tells conntrack's own messages (nf_conntrack_log_invalid) from a rule's", async () => {
    // captures/conntrack-log.nflog.pcap, group 0: 12 messages (GROUND_TRUTH.md §10, from tshark).
    const report = await reportOf(path.join(CAPTURES, 'conntrack-log.nflog.pcap'));
    const found = report.findings.filter((f) => f.id === ID);
    const conntrack = found.filter((f) => details(f).group === 0);
    expect(conntrack.map((f) => f.count).reduce((a, b) => a + b, 0)).toBe(12);
    expect(conntrack.find((f) => details(f).prefix === 'nf_ct_proto_6: invalid new ')!.count).toBe(5);
    for (const f of conntrack) {
      expect(f.summary).toContain('logged by conntrack itself');
      expect(f.explanation).toContain('nf_conntrack_log_invalid');
      expect(f.remediation).toContain('nf_conntrack_log_invalid=0');
    }
    const rules = found.filter((f) => details(f).group === 6);
    expect(rules.map((f) => [details(f).prefix, f.count])).toEqual([
      ['ESTABLISHED', 534],
      ['INVALID', 10],
      ['NEW', 25],
      ['RELATED', 3],
    ]);
    for (const f of rules) expect(f.summary).toContain('logged by the rule with prefix');
  });

    it("tells a conntrack helper's drops from conntrack's INVALID log and from a rule's", async () => {
    const b = new CaptureBuilder();
    const ftp = ipv4({ src: '192.0.2.7', dst: '198.51.100.1', proto: 6 }, tcp({ sport: 40000, dport: 21, flags: 0x18 }));
    b.at(0).add(nflogRecord({ group: 0, prefix: 'nf_ct_ftp: dropping packet ' }, ftp));
    b.at(1).add(nflogRecord({ group: 0, prefix: 'nf_ct_proto_6: invalid new ' }, ftp));
    b.at(2).add(nflogRecord({ group: 0, prefix: 'nf_ct_weird' }, ftp));
    const found = await findingsOf(b, ID, {}, 'pcap', NFLOG);
    const by = (prefix: string): Finding => found.find((f) => details(f).prefix === prefix)!;
    expect(by('nf_ct_ftp: dropping packet ').summary).toContain('dropped and logged by a conntrack helper');
    expect(by('nf_ct_ftp: dropping packet ').remediation).toContain('helper=');
    expect(by('nf_ct_proto_6: invalid new ').summary).toContain('logged by conntrack itself');
    expect(by('nf_ct_proto_6: invalid new ').explanation).toContain('/proc/sys/net/netfilter/nf_log/2');
    expect(by('nf_ct_weird').summary).toContain('logged by the rule with prefix');
  });

  it('with --nflog-group, analyzes one group only: the kernel\'s INVALID packets, once each, for its reasons', async () => {
    // conntrack-log.nflog.pcap: group 6 holds every packet once, with the kernel's verdict (10
    // INVALID); group 0 conntrack's copies of the TCP ones, with its reasons (GROUND_TRUTH.md §10).
    const file = path.join(CAPTURES, 'conntrack-log.nflog.pcap');
    const all = await reportOf(file);
    const one = await reportOf(file, { 'nflog-group': 6 });
    const invalid = (r: typeof all): Finding[] => r.findings.filter((f) => f.id === 'ct.invalid');
    const reasons = (r: typeof all): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const f of invalid(r)) for (const [k, n] of Object.entries(details(f).byReason as Record<string, number>)) out[k] = (out[k] ?? 0) + n;
      return out;
    };
    // Every group: conntrack's copies are read as packets too, some before the packets they copy.
    expect(invalid(all).reduce((n, f) => n + f.count, 0)).toBeGreaterThan(10);
    // Group 6 alone: the kernel's 10 INVALID packets, for the reasons its log gives (5 "invalid
    // new", 1 "invalid rst", 1 "... invalid, state SYN_SENT", 1 "SEQ is over upper bound") and the
    // two ICMP packets it does not log.
    expect(reasons(one)).toEqual({
      'no conntrack entry': 5,
      'RST below the acknowledged sequence': 1,
      'invalid in the entry state': 1,
      'out of window': 1,
      'ICMP error without an entry': 1,
      'ICMP reply without a request': 1,
    });
    // fw.nflog_rule still lists group 0, and says it was not analyzed.
    const group0 = one.findings.filter((f) => f.id === ID && details(f).group === 0);
    expect(group0.reduce((n, f) => n + f.count, 0)).toBe(12);
    for (const f of group0) {
      expect(details(f).analyzed).toBe(false);
      expect(f.summary).toMatch(/\(not analyzed: --nflog-group 6\)$/);
    }
    expect(all.findings.filter((f) => f.id === ID).every((f) => details(f).analyzed === true)).toBe(true);
    expect(one.frames).toBe(all.frames);
  });

  it('says nothing about a capture that is not a netfilter log', async () => {
    const report = await reportOf(path.join(CAPTURES, 'conntrack-verdicts.pcap'));
    expect(report.findings.filter((f) => f.id === ID)).toEqual([]);
  });
});
