// running.ts - continue, stepi, nexti, finish, until, wait: the execution commands

import type { Debugger } from '../session.ts';
import type { RunEnd } from '../runner.ts';
import { finishJob, reportRun } from '../report.ts';
import { frameState, returnSlot } from '../frames.ts';
import { decodeAt, describeAddr, hex, fmtTime, parseDuration } from '../format.ts';
import { CommandError, intArg, type Command } from './table.ts';
import { jobDone, parseLocation } from './args.ts';

const runOpts = (d: Debugger) => ({ until: jobDone(d), limitNs: d.continueLimitNs });

/** Run with internal breakpoints that exist only for this command; they go whatever happens. */
async function runWithInternal(d: Debugger, setup: () => void): Promise<RunEnd> {
  try {
    setup();
    return await d.runner.run(runOpts(d));
  } finally {
    d.bps.removeInternal();
  }
}

/** True when the run ended only because of internal breakpoints (the command's own goal). */
const reachedGoal = (end: RunEnd): boolean => end.kind === 'stopped' && end.stops.every((s) => s.kind === 'breakpoint' && s.internal);

async function cont(d: Debugger, args: string): Promise<void> {
  const n = intArg(args, 'continue', 1);
  const bp = d.lastBreakpoint === undefined ? undefined : d.bps.get(d.lastBreakpoint);
  if (n > 1 && bp) {
    bp.ignore = n - 1;
    d.print(`Will ignore next ${n - 1} crossings of breakpoint ${bp.id}.  Continuing.`);
  } else d.print('Continuing.');
  reportRun(d, await d.runner.run(runOpts(d)));
}

/** `stepi N` is one run whose hook counts N instructions (Ctrl-C stops it like a continue). */
async function stepi(d: Debugger, args: string): Promise<void> {
  const n = intArg(args, 'stepi', 1);
  if (n === 0) return;
  reportRun(d, await d.runner.stepInsn(d.cpu, { limitNs: d.continueLimitNs, count: n }));
}

const onlySteps = (end: RunEnd): boolean => end.kind === 'stopped' && end.stops.every((s) => s.kind === 'step');

async function nexti(d: Debugger, args: string): Promise<void> {
  const n = intArg(args, 'nexti', 1);
  for (let i = 1; i <= n; i++) {
    const rip = d.reg('rip');
    const insn = decodeAt(d.machine.mem, rip, 1)[0];
    let end: RunEnd;
    if (insn?.mnemonic !== 'call') end = await d.runner.stepInsn(d.cpu, { limitNs: d.continueLimitNs });
    else {
      const rsp = d.reg('rsp');
      const cpu = d.cpu;
      end = await runWithInternal(d, () => {
        d.bps.add(rip + BigInt(insn.size), { internal: true, cpu, pred: (v) => v.engine.regRead('rsp') >= rsp });
      });
    }
    // report only where it ends: the last instruction, a user stop, Ctrl-C or a failure
    if (i === n || !(onlySteps(end) || reachedGoal(end))) return reportRun(d, end);
    finishJob(d);
    d.stops.noteStopped(d.cpu, d.reg('rip'));
  }
}

/** The current frame's return: where to, and the breakpoint predicate "this frame returned". */
function frameReturn(d: Debugger): { ret: bigint; slot: bigint } {
  const [rip, rsp, rbp] = [d.reg('rip'), d.reg('rsp'), d.reg('rbp')];
  const slot = returnSlot(frameState(d.kernel, rip), rsp, rbp);
  if (!d.machine.mem.isMapped(slot, 8)) throw new CommandError(`cannot read the return address at ${hex(slot)}`);
  const ret = d.machine.mem.readU64(slot);
  if (!d.kernel.isKernelText(ret)) throw new CommandError('"finish" not meaningful in the outermost frame.');
  return { ret, slot };
}

async function finish(d: Debugger): Promise<void> {
  const { ret, slot } = frameReturn(d);
  const cpu = d.cpu;
  d.print(`Run till exit from #0  ${describeAddr(d.kernel.kallsyms, d.reg('rip'))}`);
  const end = await runWithInternal(d, () => {
    d.bps.add(ret, { internal: true, cpu, pred: (v) => v.engine.regRead('rsp') > slot });
  });
  reportRun(d, end);
  if (reachedGoal(end)) d.print(`Value returned is $rax = ${hex(d.reg('rax'))}`);
}

/** Backward jump target of the instruction at rip, if it is one (a loop's closing jump). */
function backwardJump(d: Debugger, rip: bigint): { next: bigint } | undefined {
  const i = decodeAt(d.machine.mem, rip, 1)[0];
  if (!i || !i.mnemonic.startsWith('j')) return undefined;
  const m = /^0x([0-9a-f]+)$/.exec(i.opStr);
  return m && BigInt(`0x${m[1]}`) < rip ? { next: rip + BigInt(i.size) } : undefined;
}

async function until(d: Debugger, args: string): Promise<void> {
  const rip = d.reg('rip');
  const target = args.trim() ? parseLocation(d, args) : backwardJump(d, rip)?.next;
  if (target === undefined) return nexti(d, '1');
  let frame: { ret: bigint; slot: bigint } | undefined;
  try {
    frame = frameReturn(d);
  } catch {
    frame = undefined; // outermost frame: only the location ends the run
  }
  const cpu = d.cpu;
  const end = await runWithInternal(d, () => {
    d.bps.add(target, { internal: true, cpu });
    if (frame) d.bps.add(frame.ret, { internal: true, cpu, pred: (v) => v.engine.regRead('rsp') > frame.slot });
  });
  reportRun(d, end);
}

async function wait(d: Debugger, args: string): Promise<void> {
  if (!args.trim()) throw new CommandError('usage: wait DURATION (e.g. 500ms, 2s)');
  const ns = parseDuration(args);
  const end = await d.runner.run({ limitNs: ns });
  reportRun(d, end, { limitOk: true });
  if (end.kind === 'limit') d.print(`[${fmtTime(ns)} of guest time passed; now ${fmtTime(d.machine.nowNs)}]`);
}

export const RUNNING_COMMANDS: Command[] = [
  {
    name: 'continue', aliases: ['c', 'cont'], category: 'running', usage: 'continue [N]',
    summary: 'Resume the machine until a breakpoint, watchpoint, Ctrl-C or a guest shell command finishes',
    help: 'N > 1 ignores the breakpoint just hit N-1 more times.\nIn batch mode a continue that sees no stop within the continue limit fails.',
    run: (d, a) => cont(d, a),
  },
  {
    name: 'stepi', aliases: ['si'], category: 'running', usage: 'stepi [N]',
    summary: 'Execute N instructions on the current cpu (others may run meanwhile)',
    help: 'Stops before the next instruction, which is an interrupt handler when one is delivered first.',
    run: (d, a) => stepi(d, a),
  },
  {
    name: 'nexti', aliases: ['ni'], category: 'running', usage: 'nexti [N]',
    summary: 'Like stepi, but a call runs to its return',
    run: (d, a) => nexti(d, a),
  },
  {
    name: 'finish', aliases: ['fin'], category: 'running', usage: 'finish',
    summary: 'Run until the current function returns; print $rax',
    run: (d) => finish(d),
  },
  {
    name: 'until', aliases: ['u'], category: 'running', usage: 'until [LOCATION]', complete: 'symbol',
    summary: 'Run until LOCATION or the current frame returns (no argument: past a loop\'s backward jump)',
    run: (d, a) => until(d, a),
  },
  {
    name: 'wait', category: 'running', usage: 'wait DURATION',
    summary: 'Let DURATION of guest time pass (e.g. 500ms, 2s); breakpoints still stop it',
    run: (d, a) => wait(d, a),
  },
];
