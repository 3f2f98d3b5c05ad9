// tasks.ts - cpu N, info cpus, bt [PID], ps: the machine's vCPUs and the kernel's tasks

import type { Debugger } from '../session.ts';
import type { TaskView } from '../../kernel/tasks.ts';
import { stateLetter, testTif, TIF } from '../../kernel/tasks.ts';
import { KlpState } from '../../abi/layout.ts';
import { formatBacktrace, taskBacktrace, vcpuBacktrace } from '../frames.ts';
import { location, taskLabel } from '../report.ts';
import { fmtTime, hex, symOff, table } from '../format.ts';
import { CommandError, intArg, type Command } from './table.ts';

const RFLAGS_IF = 1n << 9n;

function switchCpu(d: Debugger, args: string): void {
  if (!args.trim()) return d.print(`[Current cpu is ${d.cpu} (${taskLabel(d, d.cpu)})]`);
  const n = intArg(args.trim(), 'cpu');
  if (n >= d.machine.vcpus.length) throw new CommandError(`Invalid cpu ${n} (the machine has ${d.machine.vcpus.length})`);
  d.cpu = n;
  d.print(`[Switching to cpu ${n} (${taskLabel(d, n)})]`, location(d));
}

function infoCpus(d: Debugger): void {
  const rows = [['', 'CPU', 'State', 'IF', 'Pending', 'Time', 'RIP', 'Task']];
  for (const v of d.machine.vcpus) {
    const [rip, rflags] = v.engine.regReadBatch(['rip', 'rflags']);
    const state = v.dead ? 'offline' : v.halted ? 'halted' : 'runnable';
    const pending = [...v.pending].map((x) => hex(x)).join(',') || '-';
    const where = `${hex(rip!)} ${symOff(d.kernel.kallsyms, rip!)}`.trimEnd();
    rows.push([v.id === d.cpu ? '*' : '', String(v.id), state, (rflags! & RFLAGS_IF) !== 0n ? 'on' : 'off', pending, fmtTime(v.timeNs), where, taskLabel(d, v.id)]);
  }
  d.print(...table(rows), `guest time ${fmtTime(d.machine.nowNs)}`);
}

/** The vCPU a task is running on (it is that CPU's current), if any. */
function runningOn(d: Debugger, t: TaskView): number | undefined {
  for (const v of d.machine.vcpus) if (d.kernel.currentOn(v.id)?.addr === t.addr) return v.id;
  return undefined;
}

function allTasks(d: Debugger): TaskView[] {
  return [...d.kernel.idleTasks(), ...d.kernel.tasks()];
}

function backtrace(d: Debugger, args: string): void {
  if (!args.trim()) {
    d.print(`cpu ${d.cpu}, ${taskLabel(d, d.cpu)} (running; frozen by the debugger):`);
    d.print(...formatBacktrace(d.kernel, vcpuBacktrace(d.kernel, d.cpu)));
    d.print('note: livepatch never switches a running task (klp_try_switch_task: "running")');
    return;
  }
  const pid = intArg(args.trim(), 'bt');
  const t = allTasks(d).find((x) => x.pid === pid);
  if (!t) throw new CommandError(`No task with pid ${pid}.`);
  const cpu = runningOn(d, t);
  if (cpu !== undefined) return btOnCpu(d, cpu, t);
  d.print(`pid ${t.pid} ${t.comm} (${stateLetter(t.state)}, switched out, last on cpu ${t.cpu}):`);
  d.print(...formatBacktrace(d.kernel, taskBacktrace(d.kernel, t)));
}

function btOnCpu(d: Debugger, cpu: number, t: TaskView): void {
  d.print(`pid ${t.pid} ${t.comm} is running on cpu ${cpu} (frozen by the debugger):`);
  d.print(...formatBacktrace(d.kernel, vcpuBacktrace(d.kernel, cpu)));
}

/** `0 (unpatched)` for a task's patch_state. */
export function patchStateName(s: number): string {
  const name = s === KlpState.PATCHED ? 'patched' : s === KlpState.UNPATCHED ? 'unpatched' : s === KlpState.UNDEFINED ? 'idle' : '?';
  return `${s} (${name})`;
}

function ps(d: Debugger): void {
  const rows = [['', 'PID', 'COMM', 'STATE', 'CPU', 'PATCH_STATE', 'TIF_PATCH_PENDING']];
  for (const t of allTasks(d)) {
    const on = runningOn(d, t);
    rows.push([on !== undefined ? '*' : '', String(t.pid), t.comm, stateLetter(t.state), String(t.cpu), patchStateName(t.patchState), testTif(t, TIF.PATCH_PENDING) ? '1' : '0']);
  }
  d.print(...table(rows), '(* = current task of its cpu)');
}

export const TASK_COMMANDS: Command[] = [
  { name: 'cpu', category: 'data', usage: 'cpu [N]', summary: 'Select the vCPU that registers, x, stepi, bt act on', run: (d, a) => switchCpu(d, a) },
  {
    name: 'backtrace', aliases: ['bt', 'where'], category: 'data', usage: 'bt [PID]',
    summary: 'Call trace of the current cpu, or of task PID, with the reliable unwinder\'s verdict',
    help: 'A switched-out task is walked as livepatch walks it (stack_trace_save_tsk_reliable);\nan unreliable stack is marked with the reason; "?" marks a return address that is not text.',
    run: (d, a) => backtrace(d, a),
  },
  { name: 'ps', category: 'kernel', usage: 'ps', summary: 'Tasks: pid, comm, state, cpu, patch_state, TIF_PATCH_PENDING', run: (d) => ps(d) },
];

export const INFO_TASKS = { infoCpus };
