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

/** ftrace_bug_type: what the failed modification was doing (print_bug_type's line). */
export type FtraceBugType = 'INIT' | 'NOP' | 'CALL' | 'UPDATE';

const BUG_TYPE_LINE: Record<FtraceBugType, string> = {
  INIT: 'Initializing ftrace call sites',
  NOP: 'Setting ftrace call site to NOP',
  CALL: 'Setting ftrace call site to call ftrace function',
  UPDATE: 'Updating ftrace call site to call a different ftrace function',
};

/** What ftrace_bug() prints about one failed site (kernel/trace/ftrace.c). */
export interface FtraceBugReport {
  err: 'EFAULT' | 'EINVAL' | 'EPERM';
  ip: bigint;
  /** %pS of ip. */
  sym: string;
  actual: Uint8Array;
  /** ftrace_expected: the bytes the site should have held. */
  expected?: Uint8Array;
  type: FtraceBugType;
  flags: number;
  /** `\ttramp: %pS (%pS)` for each trampoline ops of a TRAMP_EN record. */
  tramps: { tramp: string; func: string }[];
  /** ftrace_get_addr_curr(rec): where the site's call goes now (ftrace_caller for a nop). */
  expectedTramp: bigint;
}

/**
 * ftrace_bug()'s lines: headline by error, `[<ip>] sym`, the actual and
 * expected bytes, print_bug_type(), the record's flags with its trampolines,
 * and the expected trampoline (pr_cont pieces joined as the log shows them).
 */
export function ftraceBugLines(r: FtraceBugReport): string[] {
  const head = { EFAULT: 'ftrace faulted on modifying ', EINVAL: 'ftrace failed to modify ', EPERM: 'ftrace faulted on writing ' }[r.err];
  const lines = ['------------[ ftrace bug ]------------', head, `[<${r.ip.toString(16).padStart(16, '0')}>] ${r.sym}`];
  if (r.err === 'EINVAL') {
    lines.push(` actual:   ${hexBytes(r.actual)}`);
    if (r.expected) lines.push(` expected: ${hexBytes(r.expected)}`);
  }
  lines.push(BUG_TYPE_LINE[r.type]);
  lines.push(`ftrace record flags: ${(r.flags >>> 0).toString(16)}`);
  let refs = ` (${r.flags & FTRACE_REF_MAX})${r.flags & FTRACE_FL.REGS ? ' R' : '  '}${r.flags & FTRACE_FL.CALL_OPS ? ' O' : '  '}`;
  if (r.flags & FTRACE_FL.TRAMP_EN) refs += r.tramps.length ? r.tramps.map((t) => `\ttramp: ${t.tramp} (${t.func})`).join('') : '\ttramp: ERROR!';
  lines.push(refs);
  lines.push(` expected tramp: ${r.expectedTramp.toString(16)}`);
  return lines;
}
