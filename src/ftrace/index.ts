// index.ts - the ftrace subsystem: attach to a booted kernel (ftrace_init + tracefs)
import type { Kernel } from '../kernel/kernel.ts';
import { Ftrace } from './ftrace.ts';
import { Tracefs } from './tracefs.ts';

export { Ftrace, ftraceCallInsn } from './ftrace.ts';
export type { OpsState } from './ftrace.ts';
export { Tracefs, globToRegExp } from './tracefs.ts';
export type { TraceEntry } from './tracefs.ts';
export { TextPoker, TP_VEC_MAX, pokeOpcode } from './textPoke.ts';
export type { PokeSite, PokeMismatch } from './textPoke.ts';
export { FTRACE_FL, ftraceRecCount, ftraceBugLines, processLocs, lookupRec } from './records.ts';
export type { DynFtrace } from './records.ts';

/** ftrace_init() and tracefs for `kernel`; returns the ftrace core. */
export function attachFtrace(kernel: Kernel): { ftrace: Ftrace; tracefs: Tracefs } {
  const ftrace = new Ftrace(kernel);
  const tracefs = new Tracefs(kernel, ftrace);
  return { ftrace, tracefs };
}
