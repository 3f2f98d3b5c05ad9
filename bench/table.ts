// table.ts - the rows every benchmark returns and the table run.ts prints

/** One printed figure: a rate or a ratio measured in this process, never a timed assertion. */
export interface Row {
  /** Benchmark group (one per bench file). */
  group: string;
  what: string;
  /** The figure, already formatted (e.g. "41.2 M insn/s", "0.12"). */
  value: string;
  /** Target and verdict, when the issue sets one ("≥ 0.8  MISS"). */
  target?: string;
  note?: string;
}

/** Format a rate with an SI prefix: 1.23e7 → "12.3 M". */
export function si(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [f, u] of units) if (Math.abs(x) >= f) return `${(x / f).toFixed(x / f >= 100 ? 0 : x / f >= 10 ? 1 : 2)} ${u}`;
  return x.toFixed(x >= 100 ? 0 : 2);
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Render rows as a fixed-width table, grouped. */
export function renderTable(rows: readonly Row[]): string {
  const head = ['benchmark', 'figure', 'target', 'note'];
  const cells = rows.map((r) => [`${r.group}: ${r.what}`, r.value, r.target ?? '', r.note ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 1 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  let group = '';
  for (let i = 0; i < rows.length; i++) {
    if (group && rows[i]!.group !== group) out.push('');
    group = rows[i]!.group;
    out.push(line(cells[i]!));
  }
  return out.join('\n');
}
