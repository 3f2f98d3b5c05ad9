// report.ts - render a validation report: grouped ✓/✗ lines with evidence, a verdict line, or JSON

import type { CheckResult, Report } from './types.ts';

export interface RenderOptions {
  /** Show the evidence of passing checks too (failures always show theirs). */
  verbose?: boolean;
  /** Evidence lines per check (default 24). */
  maxEvidence?: number;
  /** Use ANSI colours. */
  color?: boolean;
}

const MARK = { pass: '✓', fail: '✗', skip: '-' } as const;
const COLOR = { pass: '\x1b[32m', fail: '\x1b[31m', skip: '\x1b[33m' } as const;
const RESET = '\x1b[0m';

/** Counts of a report's checks by status. */
export function summarize(r: Report): { passed: number; failed: number; skipped: number; total: number } {
  const n = (s: CheckResult['status']): number => r.checks.filter((c) => c.status === s).length;
  return { passed: n('pass'), failed: n('fail'), skipped: n('skip'), total: r.checks.length };
}

/** Groups in order of first appearance: a group name plus the subject (a patch, a klp func). */
function groups(checks: CheckResult[]): { title: string; checks: CheckResult[] }[] {
  const out: { title: string; checks: CheckResult[] }[] = [];
  for (const c of checks) {
    const title = c.subject ? `${c.group}: ${c.subject}` : c.group;
    const g = out.find((x) => x.title === title);
    if (g) g.checks.push(c);
    else out.push({ title, checks: [c] });
  }
  return out;
}

/** The final line: `verdict: PASS ...` or `verdict: FAIL ...` with the failed ids. */
export function verdictLine(r: Report): string {
  const s = summarize(r);
  const skipped = s.skipped ? `, ${s.skipped} skipped` : '';
  if (r.ok) return `verdict: PASS - ${s.passed} checks passed${skipped}`;
  const ids = [...new Set(r.checks.filter((c) => c.status === 'fail').map((c) => c.id))];
  return `verdict: FAIL - ${s.failed} of ${s.total} checks failed${skipped}: ${ids.join(', ')}`;
}

/** The human report: one line per check, grouped, evidence indented under it, then the verdict. */
export function renderText(r: Report, o: RenderOptions = {}): string {
  const max = o.maxEvidence ?? 24;
  const width = Math.max(...r.checks.map((c) => c.id.length), 10) + 2;
  const paint = (s: CheckResult['status'], t: string): string => (o.color ? `${COLOR[s]}${t}${RESET}` : t);
  const lines = [`klpemu validate: ${r.input}`, `  kernel: ${r.kernel}`];
  for (const g of groups(r.checks)) {
    lines.push('', g.title);
    for (const c of g.checks) {
      lines.push(`  ${paint(c.status, MARK[c.status])} ${c.id.padEnd(width)}${c.verdict}`);
      if (c.status === 'fail' || o.verbose) {
        const ev = c.evidence.slice(0, max);
        for (const e of ev) lines.push(`      ${e}`);
        if (c.evidence.length > max) lines.push(`      ... ${c.evidence.length - max} more lines (--json has them all)`);
      }
    }
  }
  lines.push('', paint(r.ok ? 'pass' : 'fail', verdictLine(r)));
  return lines.join('\n') + '\n';
}

/** The JSON report for tools: the report plus counts and the failed ids. */
export function renderJson(r: Report): string {
  const failed = [...new Set(r.checks.filter((c) => c.status === 'fail').map((c) => c.id))];
  return JSON.stringify({ ...r, summary: summarize(r), failed }, null, 2) + '\n';
}

/** Several reports (one per input) as one text. */
export function renderAll(reports: Report[], o: RenderOptions = {}): string {
  return reports.map((r) => renderText(r, o)).join('\n');
}
