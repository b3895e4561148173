/** JUnit XML for `pcapscan check --junit FILE`, as CI systems read it. */

export interface CheckResult {
  capture: string;
  /** Differences; empty when the capture passed. */
  diff: string[];
  /** Why the check could not run (unreadable expectations), or null. */
  error: string | null;
  seconds: number;
}

function xml(s: string): string {
  // Also drop characters XML 1.0 cannot carry at all.
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function toJUnit(results: readonly CheckResult[]): string {
  const failures = results.filter((r) => r.diff.length > 0).length;
  const errors = results.filter((r) => r.error !== null).length;
  const time = results.reduce((t, r) => t + r.seconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="pcapscan check" tests="${results.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">`,
    `  <testsuite name="pcapscan check" tests="${results.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">`,
  ];
  for (const r of results) {
    lines.push(`    <testcase classname="pcapscan.check" name="${xml(r.capture)}" time="${r.seconds.toFixed(3)}">`);
    if (r.error !== null) lines.push(`      <error message="${xml(r.error)}"/>`);
    else if (r.diff.length > 0) lines.push(`      <failure message="${xml(`${r.diff.length} difference(s)`)}">${xml(r.diff.join('\n'))}</failure>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>');
  return lines.join('\n') + '\n';
}
