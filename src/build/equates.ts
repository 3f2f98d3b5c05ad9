// equates.ts - the guest ABI (src/abi/layout.ts) as assembler equates prepended to every unit

import * as layout from '../abi/layout.ts';

const hex = (v: bigint): string => (v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);

function numeric(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/**
 * Every numeric constant of layout.ts as `NAME = value`: top-level numbers keep
 * their name (THREAD_SIZE), object members become `<Object>_<field>`
 * (TASK_patch_state, Hypercall_PANIC, TIF_PATCH_PENDING), and each TIF bit also
 * gets its mask `_TIF_<name>` as in thread_info.h.
 */
export function layoutEquates(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, value] of Object.entries(layout)) {
    const n = numeric(value);
    if (n !== undefined) {
      out.set(name, n);
      continue;
    }
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array || value instanceof Set) continue;
    for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
      const fv = numeric(v);
      if (fv !== undefined) out.set(`${name}_${field}`, fv);
    }
  }
  for (const [bit, n] of Object.entries(layout.TIF)) out.set(`_TIF_${bit}`, 1n << BigInt(n));
  return out;
}

/** Equates as assembly lines (they must precede every use: keystone resolves them in order). */
export function equateLines(extra: ReadonlyMap<string, bigint> = new Map()): string[] {
  const lines: string[] = [];
  for (const [k, v] of layoutEquates()) lines.push(`${k} = ${hex(v)}`);
  for (const [k, v] of extra) lines.push(`${k} = ${hex(v)}`);
  return lines;
}

const EXPR_OK = /^[0-9a-fxn\s+\-*|&()<>~]*$/i;

/** Evaluate an equate's right-hand side over known equates; undefined if it names anything else. */
export function evalExpr(expr: string, known: ReadonlyMap<string, bigint>): bigint | undefined {
  let bad = false;
  const js = expr
    .replace(/'(.)'/g, (_, c: string) => `${c.charCodeAt(0)}`)
    .replace(/(?<![\w.$])[A-Za-z_.$][\w.$]*/g, (id) => {
      const v = known.get(id);
      if (v === undefined) bad = true;
      return v === undefined ? '0' : `(${v})`;
    })
    .replace(/\b(0x[0-9a-f]+|\d+)\b/gi, (n) => `${BigInt(n)}n`);
  if (bad || !EXPR_OK.test(js.replace(/\d+n/g, ''))) return undefined;
  try {
    return (Function(`"use strict"; return (${js});`) as () => bigint)();
  } catch {
    return undefined;
  }
}

/** Numeric values of `NAME = expr` definitions, in order, over `known`. */
export function collectEquates(defs: readonly string[], known: Map<string, bigint>): Map<string, bigint> {
  const out = new Map(known);
  for (const d of defs) {
    const m = /^([A-Za-z_][\w.$]*)\s*=\s*(.+)$/.exec(d);
    if (!m) continue;
    const v = evalExpr(m[2]!, out);
    if (v !== undefined) out.set(m[1]!, v);
  }
  return out;
}

/**
 * Keystone encodes `[reg - SYMBOL]` as `[reg + SYMBOL]` (and `[reg - SYM + 4]`
 * as `+SYM+4`), silently. Inside every memory operand, replace numeric
 * equates by their values so keystone only ever sees numbers there.
 */
export function foldBrackets(line: string, equates: ReadonlyMap<string, bigint>): string {
  if (!line.includes('[')) return line;
  return line.replace(/\[([^\]]*)\]/g, (whole, inner: string) => {
    let changed = false;
    const folded = inner.replace(/(?<![\w.$])[A-Za-z_][\w.$]*/g, (id) => {
      const v = equates.get(id);
      if (v === undefined) return id;
      changed = true;
      return v < 0n ? `(${v})` : `${v}`;
    });
    if (!changed) return whole;
    const tidy = folded.replace(/\+\s*\((-\d+)\)/g, (_, n: string) => `- ${n.slice(1)}`).replace(/-\s*\((-\d+)\)/g, (_, n: string) => `+ ${n.slice(1)}`);
    return `[${tidy}]`;
  });
}

/**
 * Keystone also mis-assembles some immediates built from equates (`mov rax,
 * -EQUATE` becomes a load from address EQUATE). So outside string literals
 * every numeric equate is replaced by its value, and memory operands are
 * tidied as foldBrackets does: keystone then only sees numbers.
 */
export function foldEquates(line: string, equates: ReadonlyMap<string, bigint>): string {
  const parts = line.split(/("(?:[^"\\]|\\.)*")/);
  const folded = parts.map((p, i) => (i % 2 ? p : p.replace(/(?<![\w.$\\])[A-Za-z_][\w.$]*/g, (id) => {
    const v = equates.get(id);
    return v === undefined ? id : v < 0n ? `(${v})` : `${v}`;
  }))).join('');
  return foldBrackets(folded.replace(/\[([^\]]*)\]/g, (_, inner: string) => `[${inner.replace(/\+\s*\((-\d+)\)/g, (_x, n: string) => `- ${n.slice(1)}`).replace(/-\s*\((-\d+)\)/g, (_x, n: string) => `+ ${n.slice(1)}`)}]`), equates);
}
