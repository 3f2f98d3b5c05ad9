// records.ts - dyn_ftrace records from __mcount_loc (kernel/trace/ftrace.c ftrace_process_locs)

import { FTRACE_NOP, MCOUNT_INSN_SIZE } from '../abi/layout.ts';
import type { Kallsyms, KSym } from '../kernel/kallsyms.ts';

/** dyn_ftrace flag bits (include/linux/ftrace.h); the low bits count the ops. */
export const FTRACE_FL = {
  ENABLED: 1 << 31,
  REGS: 1 << 30,
  REGS_EN: 1 << 29,
  TRAMP: 1 << 28,
  TRAMP_EN: 1 << 27,
  IPMODIFY: 1 << 26,
  DISABLED: 1 << 25,
  DIRECT: 1 << 24,
  DIRECT_EN: 1 << 23,
  CALL_OPS: 1 << 22,
  CALL_OPS_EN: 1 << 21,
  TOUCHED: 1 << 20,
  MODIFIED: 1 << 19,
} as const;
export const FTRACE_REF_MAX_SHIFT = 19;
export const FTRACE_REF_MAX = (1 << FTRACE_REF_MAX_SHIFT) - 1;

/** One traceable site: struct dyn_ftrace plus what is installed there now. */
export interface DynFtrace {
  ip: bigint;
  /** Ops count in the low bits, FTRACE_FL_* above. */
  flags: number;
  /** The function the site begins. */
  sym: KSym;
  /** Where the site's call goes now (0 = the nop is installed). */
  target: bigint;
}

export const ftraceRecCount = (r: DynFtrace): number => r.flags & FTRACE_REF_MAX;

/** A site that failed ftrace_nop_initialize: the kernel's ftrace_bug() input. */
export interface BadSite {
  ip: bigint;
  actual: Uint8Array;
}

const isNop = (b: Uint8Array): boolean => b.length === FTRACE_NOP.length && b.every((v, i) => v === FTRACE_NOP[i]);

/**
 * ftrace_process_locs(): sort the __mcount_loc entries and make one record
 * per site that holds exactly the ftrace nop; sites that do not are returned
 * (reported by the caller with ftraceBug, and left untouched).
 */
export function processLocs(
  locs: readonly bigint[],
  read: (ip: bigint, size: number) => Uint8Array | undefined,
  kallsyms: Kallsyms,
): { records: DynFtrace[]; bad: BadSite[] } {
  const records: DynFtrace[] = [];
  const bad: BadSite[] = [];
  const sorted = [...new Set(locs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const ip of sorted) {
    const bytes = read(ip, MCOUNT_INSN_SIZE);
    const sym = kallsyms.find(ip);
    if (!bytes || !sym || !isNop(bytes)) {
      bad.push({ ip, actual: bytes ? Uint8Array.from(bytes) : new Uint8Array(0) });
      continue;
    }
    records.push({ ip, flags: 0, sym, target: 0n });
  }
  return { records, bad };
}

/** Binary search of the sorted records for `ip`. */
export function lookupRec(records: readonly DynFtrace[], ip: bigint): DynFtrace | undefined {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = records[mid]!;
    if (r.ip === ip) return r;
    if (r.ip < ip) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

/** `aa:bb:cc` as ftrace_bug prints bytes. */
export const hexBytes = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/**
 * ftrace_bug()'s lines (kernel/trace/ftrace.c) for a failed modification of
 * the site at `ip` (`sym` is its %pS): headline by error, `[<ip>] sym`, the
 * actual and expected bytes, the record's flags and the expected trampoline.
 */
export function ftraceBugLines(err: 'EFAULT' | 'EINVAL' | 'EPERM', ip: bigint, sym: string, actual: Uint8Array, expected: Uint8Array | undefined, flags: number, tramp: bigint): string[] {
  const head = { EFAULT: 'ftrace faulted on modifying ', EINVAL: 'ftrace failed to modify ', EPERM: 'ftrace faulted on writing ' }[err];
  const lines = ['------------[ ftrace bug ]------------', head, `[<${ip.toString(16).padStart(16, '0')}>] ${sym}`];
  if (err === 'EINVAL') {
    lines.push(` actual:   ${hexBytes(actual)}`);
    if (expected) lines.push(` expected: ${hexBytes(expected)}`);
  }
  lines.push(`ftrace record flags: ${(flags >>> 0).toString(16)}`);
  lines.push(` (${flags & FTRACE_REF_MAX})${flags & FTRACE_FL.REGS ? ' R' : '  '}${flags & FTRACE_FL.CALL_OPS ? ' O' : '  '}`);
  lines.push(` expected tramp: ${tramp.toString(16)}`);
  return lines;
}
