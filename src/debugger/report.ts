// report.ts - what the user sees when the machine stops: breakpoint/watchpoint/step lines, location, errors

import { disassemble } from '../asm/disasm.ts';
import { strerror } from '../kernel/errno.ts';
import { ftraceRecCount } from '../ftrace/index.ts';
import type { Debugger } from './session.ts';
import type { RunEnd } from './runner.ts';
import type { Stop } from './stops.ts';
import { CommandError } from './commands/table.ts';
import { annotateInsn, decodeAt, describeAddr, fmtTime, hex, hexBytes, insnLine } from './format.ts';

/** `pid 7 klpsh` of the task current on `cpu`. */
export function taskLabel(d: Debugger, cpu: number): string {
  const t = d.kernel.currentOn(cpu);
  return t ? `pid ${t.pid} ${t.comm}` : 'no task';
}

/** `<- ftrace site (nop)` / `(patched, N ops)` for an ftrace record's address. */
export function siteNote(d: Debugger, addr: bigint): string {
  const rec = d.target.ftrace?.records.find((r) => r.ip === addr);
  if (!rec) return '';
  if (rec.target === 0n) return '\t<- ftrace site (nop)';
  return `\t<- ftrace site (patched, ${ftraceRecCount(rec)} ops)`;
}

/** The instruction line at `cpu`'s RIP (`=> 0x… <sym+off>:\tinsn`). */
export function location(d: Debugger, cpu = d.cpu): string {
  const rip = d.reg('rip', cpu);
  if (!d.machine.mem.isMapped(rip, 1)) return `=> ${hex(rip)}:\t<cannot access memory>`;
  const [i] = decodeAt(d.machine.mem, rip, 1);
  return i ? insnLine(d.kernel.kallsyms, i, rip, siteNote(d, rip)) : `=> ${hex(rip)}:\t(bad)`;
}

/** Bytes as `0f 1f 44 00 00  nop dword ptr [rax + rax]` (one instruction, symbolized). */
export function bytesAndInsn(d: Debugger, addr: bigint, b: Uint8Array): string {
  const i = disassemble(b, addr, 1)[0];
  return `${hexBytes(b)}  ${i && i.size === b.length ? annotateInsn(d.kernel.kallsyms, i) : '(not one instruction)'}`;
}

function reportOne(d: Debugger, s: Stop): void {
  const ks = d.kernel.kallsyms;
  switch (s.kind) {
    case 'breakpoint': {
      if (s.internal) return;
      const bp = d.bps.get(s.id);
      d.lastBreakpoint = s.id;
      d.print('', `${bp?.temporary ? 'Temporary breakpoint' : 'Breakpoint'} ${s.id}, ${ks.symbolize(s.addr)} on cpu ${s.cpu} (${taskLabel(d, s.cpu)})`);
      if (bp?.temporary) d.bps.remove(bp);
      return;
    }
    case 'cond-error':
      d.print('', s.message, `Breakpoint ${s.id}, ${ks.symbolize(s.addr)} on cpu ${s.cpu} (${taskLabel(d, s.cpu)})`);
      return;
    case 'step':
      return;
    case 'watch': {
      const wp = d.wps.get(s.id);
      d.print('', `Hardware watchpoint ${s.id}: ${wp?.expr ?? describeAddr(ks, s.addr)}`, '');
      d.print(`Old value = ${hex(s.old)}`, `New value = ${hex(s.new)}`);
      d.print(`written at ${describeAddr(ks, s.addr)} (${s.size} bytes) by cpu ${s.cpu} (${taskLabel(d, s.cpu)}) at ${describeAddr(ks, s.rip)}`);
      return;
    }
    case 'poke': {
      const wp = d.wps.get(s.id);
      d.print('', `Watchpoint ${s.id}: ${wp?.expr ?? ''}: text_poke_bp by ${s.by} at ${describeAddr(ks, s.addr)}`);
      d.print(`  before: ${s.text.before}`, `  after:  ${s.text.after}`);
    }
  }
}

/** Print the stops of a run, switch to the vCPU that stopped, and show where it is. */
export function reportStops(d: Debugger, stops: Stop[]): void {
  for (const s of stops) reportOne(d, s);
  const onCpu = stops.filter((s): s is Exclude<Stop, { kind: 'poke' }> => s.kind !== 'poke');
  for (const s of onCpu) d.stops.noteStopped(s.cpu, d.reg('rip', s.cpu));
  const first = onCpu[0];
  if (!first) return;
  if (first.cpu !== d.cpu) d.print(`[Switching to cpu ${first.cpu} (${taskLabel(d, first.cpu)})]`);
  d.cpu = first.cpu;
  d.print(location(d));
}

/** Print a finished guest shell job's output. @returns whether it succeeded */
export function finishJob(d: Debugger): boolean | undefined {
  const job = d.job;
  if (!job?.done()) return undefined;
  d.job = undefined;
  const r = job.result();
  if (r.out) d.write(r.out.endsWith('\n') ? r.out : r.out + '\n');
  if (r.status < 0n) d.print(`${job.what.replace(/^(\w+) /, '$1: ')}: ${strerror(Number(r.status))}`);
  d.print(`[${job.what}: done, status ${r.status}]`);
  return r.status >= 0n;
}

/**
 * Report how a run ended. A breakpoint, step, Ctrl-C or the caller's goal is
 * a normal end; a panic, an emulation error, a machine that cannot run, or
 * (unless `limitOk`) the guest-time limit fail the command.
 * @throws CommandError for a failing end
 */
export function reportRun(d: Debugger, end: RunEnd, opts: { limitOk?: boolean } = {}): void {
  finishJob(d);
  switch (end.kind) {
    case 'stopped':
      return reportStops(d, end.stops);
    case 'interrupted':
      d.print('', `Program received signal SIGINT, Interrupt. [cpu ${d.cpu} (${taskLabel(d, d.cpu)})]`, location(d));
      return;
    case 'until':
      return;
    case 'limit':
      if (opts.limitOk) return;
      throw new CommandError(`no stop within the continue limit (guest time now ${fmtTime(d.machine.nowNs)}); the machine is paused`);
    case 'idle':
      throw new CommandError('the machine cannot run: every vCPU is halted with interrupts off or offline');
    case 'panic':
      throw new CommandError(`Kernel panic - not syncing: ${end.message}`);
    case 'error':
      throw new CommandError(`emulation error: ${end.message}`);
  }
}
