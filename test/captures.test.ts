import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkedCaptures } from '../src/check/run.js';

const CLI = path.resolve('dist/src/cli.js');

describe('pcapscan check captures/ (the project sample captures against their reviewed expectations)', () => {
  it('every genuine lab capture has an expectations file', () => {
    const checked = checkedCaptures('captures').map((f) => path.basename(f));
    expect(checked).toEqual(
      expect.arrayContaining([
        'bridge-flood-reject-samemac.pcapng',
        'bridge-flood-reject-diffmac.pcap',
        'bridge-flood-reject-diffmac-vm2port.pcap',
        'syn-flood.pcap',
        'ethertype-fe68-stp.pcap',
        'asymmetric-oneway.pcap',
        'arp-duplicate-ip.pcap',
        'arp-ip-moves.pcapng',
        'conntrack-verdicts.pcap',
        'conntrack-verdicts.nflog.pcap',
        'conntrack-log.nflog.pcap',
      ]),
    );
  });

  it('passes, with --threads 1 and --threads 2', () => {
    for (const threads of ['1', '2']) {
      const r = spawnSync(process.execPath, [CLI, 'check', 'captures', '--threads', threads], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect(r.stdout + r.stderr).toMatch(/\d+ capture\(s\) checked, 0 failed/);
      expect(r.status, r.stdout).toBe(0);
    }
  });
});
