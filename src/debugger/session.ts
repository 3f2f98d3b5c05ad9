// session.ts - the Debugger: a booted machine + kernel, breakpoints, run control, current cpu, output sink

import type { Machine, Vcpu } from '../../emu/machine/index.ts';
import type { X86Reg } from '../../emu/types.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { StopQueue } from './stops.ts';
import { Breakpoints } from './breakpoints.ts';
import { Watchpoints } from './watchpoints.ts';
import { Runner } from './runner.ts';
import { PokeLog } from './pokes.ts';
import { Snapshots } from './snapshots.ts';
import type { GuestJob } from './guestJob.ts';
import { ExprError, type EvalContext, type Value } from './expr.ts';
import type { DebugTarget } from './target.ts';
import { CommandError, findCommand, parseLine, type Command } from './commands/table.ts';
import { ALL_COMMANDS } from './commands/index.ts';
import { bytesAndInsn, reportStops } from './report.ts';

/** Registers by the names users type (gdb's, plus $pc/$sp/$fp/$eflags). */
export const REGISTERS: readonly X86Reg[] = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'fs_base', 'gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'efer',
];
const REG_ALIASES: Record<string, X86Reg> = { pc: 'rip', sp: 'rsp', fp: 'rbp', eflags: 'rflags' };

/** Resolve a register name as typed (`rax`, `pc`, `eflags`), or undefined. */
export function registerName(name: string): X86Reg | undefined {
  const n = name.toLowerCase();
  if (Object.hasOwn(REG_ALIASES, n)) return REG_ALIASES[n];
  return (REGISTERS as readonly string[]).includes(n) ? (n as X86Reg) : undefined;
}

export interface DebuggerOptions {
  /** Where output goes (default: stdout). */
  out?: (text: string) => void;
  /** Guest time a `continue` may run before it fails (batch mode sets one; default unlimited). */
  continueLimitNs?: bigint;
}

/**
 * A debugging session. Commands (commands/*.ts) act on it; `execute` runs
 * one command line and never throws: a failing command prints its error and
 * returns false.
 */
export class Debugger {
  readonly kernel: Kernel;
  readonly machine: Machine;
  readonly stops: StopQueue;
  readonly bps: Breakpoints;
  readonly wps: Watchpoints;
  readonly runner: Runner;
  readonly pokes: PokeLog | undefined;
  readonly snapshots: Snapshots;
  readonly commands: readonly Command[] = ALL_COMMANDS;
  /** The vCPU that register, memory and stepping commands act on. */
  cpu = 0;
  /** A guest shell command in flight (cat of a /proc file stopped at a breakpoint). */
  job: GuestJob | undefined;
  continueLimitNs: bigint | undefined;
  /** x's remembered count/format/size (gdb keeps them between calls). */
  lastX = { count: 1, format: 'x', size: 'w' };
  /** Where a bare `x` continues. */
  xNext: bigint | undefined;
  /** `print` history numbers ($1, $2, …). */
  values = 0;
  quitRequested = false;
  /** The user breakpoint of the last stop (`continue N` sets its ignore count). */
  lastBreakpoint: number | undefined;
  /** Commands in progress (a `source` runs commands inside itself). */
  private depth = 0;
  private nextUserId = 1;
  private nextInternalId = -1;
  private readonly out: (text: string) => void;

  constructor(readonly target: DebugTarget, opts: DebuggerOptions = {}) {
    this.kernel = target.kernel;
    this.machine = target.kernel.machine;
    this.out = opts.out ?? ((t) => void process.stdout.write(t));
    this.continueLimitNs = opts.continueLimitNs;
    this.stops = new StopQueue(this.machine);
    this.bps = new Breakpoints(this.machine, this.stops, (cpu) => this.evalCtx(cpu), (internal) => (internal ? this.nextInternalId-- : this.nextUserId++));
    this.pokes = target.ftrace ? new PokeLog(this.machine, target.ftrace.poker, (a, b) => bytesAndInsn(this, a, b)) : undefined;
    this.wps = new Watchpoints(this.machine, this.stops, () => this.nextUserId++, this.pokes);
    this.runner = new Runner(this.machine, this.stops);
    this.snapshots = new Snapshots(target);
  }

  /** Print text followed by a newline (several lines may be passed). */
  print(...lines: string[]): void {
    for (const l of lines) this.out(l + '\n');
  }

  /** Raw output (no newline added). */
  write(text: string): void {
    this.out(text);
  }

  vcpu(cpu = this.cpu): Vcpu {
    const v = this.machine.vcpus[cpu];
    if (!v) throw new Error(`no cpu ${cpu}`);
    return v;
  }

  /** Register `name` of `cpu`. */
  reg(name: X86Reg, cpu = this.cpu): bigint {
    return this.vcpu(cpu).engine.regRead(name);
  }

  /** The expression context of `cpu`: its registers, $cpu, $pid, $comm, kernel symbols, memory. */
  evalCtx(cpu = this.cpu): EvalContext {
    return {
      variable: (name): Value | undefined => {
        const r = registerName(name);
        if (r) return this.reg(r, cpu);
        if (name === 'cpu') return BigInt(cpu);
        const t = name === 'pid' || name === 'comm' ? this.kernel.currentOn(cpu) : undefined;
        if (name === 'pid') return t ? BigInt(t.pid) : -1n;
        if (name === 'comm') return t?.comm ?? '';
        return undefined;
      },
      symbol: (name) => this.kernel.kallsyms.lookup(name)?.addr ?? this.kernel.kallsyms.lookupAll(name)[0]?.addr,
      readU64: (addr) => {
        if (!this.machine.mem.isMapped(addr, 8)) throw new ExprError(`Cannot access memory at address 0x${addr.toString(16)}`);
        return this.machine.mem.readU64(addr);
      },
    };
  }

  /** Run one command line. @returns false when the command failed (its error was printed) */
  async execute(line: string): Promise<boolean> {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return true;
    // a Ctrl-C belongs to the command it interrupted (and to a `source` with all it runs)
    if (this.depth === 0) this.runner.clearInterrupt();
    this.depth++;
    try {
      const p = parseLine(trimmed);
      if (!p) throw new Error(`cannot parse '${trimmed}'`);
      const cmd = findCommand(this.commands, p.word);
      await cmd.run(this, p.args, p.fmt);
      return true;
    } catch (e) {
      this.print(errorText(e));
      return false;
    } finally {
      this.depth--;
      this.reportLeftoverStops();
    }
  }

  /** Hits recorded outside a run (host text pokes during insmod, echo): report them after the command. */
  private reportLeftoverStops(): void {
    const left = this.stops.take();
    if (left.length === 0) return;
    try {
      reportStops(this, left);
    } catch (e) {
      this.print(errorText(e));
    }
  }

  /** Remove every hook and the poke wrapper; the machine stays usable. */
  close(): void {
    this.bps.close();
    this.wps.close();
    this.pokes?.detach();
  }
}

/** The message printed for a failed command. */
export function errorText(e: unknown): string {
  if (e instanceof CommandError || e instanceof ExprError) return e.message;
  if (e instanceof Error) return `error: ${e.message}`;
  return `error: ${String(e)}`;
}
