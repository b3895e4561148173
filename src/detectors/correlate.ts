/**
 * Ties findings that explain each other. Unknown-unicast flooding toward a host is the root cause
 * of "one SYN, two answers" on that host (incident 1): each finding then names the other, and the
 * conflict finding's explanation says which frames show the flooding.
 */
import type { Finding } from '../report/types.js';
import { severityAtLeast } from './finding.js';

interface ConflictDetails {
  server?: string;
  hits?: Array<{ synAckMac?: string }>;
}

interface FloodDetails {
  mac?: string;
  ips?: string[];
}

export function correlate(findings: Finding[]): Finding[] {
  const conflicts = findings.filter((f) => f.id === 'tcp.conflicting_responses');
  const floods = findings.filter((f) => f.id === 'l2.unknown_unicast_flood');
  for (const c of conflicts) {
    const cd = (c.details ?? {}) as ConflictDetails;
    const serverIp = cd.server?.split(':')[0];
    const serverMacs = new Set((cd.hits ?? []).map((h) => h.synAckMac).filter((m): m is string => m !== undefined));
    for (const fl of floods) {
      const fd = (fl.details ?? {}) as FloodDetails;
      const sameHost = (fd.mac !== undefined && serverMacs.has(fd.mac)) || (serverIp !== undefined && (fd.ips ?? []).includes(serverIp));
      if (!sameHost) continue;
      link(c, fl);
      link(fl, c);
      // The root cause of a problem is as serious as the problem.
      if (!severityAtLeast(fl.severity, c.severity)) fl.severity = c.severity;
      c.explanation += ` Root cause found in this capture: l2.unknown_unicast_flood on ${fl.subject} — frames addressed to this server were flooded (first at ${fl.first}, frames ${fl.evidence.map((e) => e.frame).slice(0, 4).join(', ')}).`;
      fl.explanation += ` This flooding is the root cause of tcp.conflicting_responses on ${c.subject}: the flooded SYNs reached a firewall that answered them.`;
    }
  }
  return findings;
}

function link(from: Finding, to: Finding): void {
  const details = (from.details ??= {});
  const related = ((details['related'] as Array<{ id: string; subject: string }> | undefined) ?? []).filter((r) => !(r.id === to.id && r.subject === to.subject));
  related.push({ id: to.id, subject: to.subject });
  details['related'] = related;
}
