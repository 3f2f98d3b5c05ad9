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
