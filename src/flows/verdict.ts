/** The conntrack state a packet would show to `-m conntrack --ctstate` (docs/research/conntrack-tcp.md §7). */
export const Verdict = {
  NEW: 0,
  ESTABLISHED: 1,
  RELATED: 2,
  INVALID: 3,
} as const;

export const VERDICT_NAMES = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'] as const;
export type VerdictName = (typeof VERDICT_NAMES)[number];
