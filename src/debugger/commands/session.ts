// session.ts - snapshot, restore, source, set, help, quit, and the `info` prefix command

import { readFileSync } from 'node:fs';
import type { Debugger } from '../session.ts';
import { fmtTime, parseDuration } from '../format.ts';
import { location } from '../report.ts';
import { runScript } from '../script.ts';
import { CommandError, findCommand, helpFor, helpIndex, type Command } from './table.ts';
import { infoBreakpoints } from './breaking.ts';
import { INFO_CODE } from './code.ts';
import { INFO_TASKS } from './tasks.ts';

function snapshot(d: Debugger, args: string): void {
  const name = args.trim();
  if (!/^[\w.-]+$/.test(name)) throw new CommandError('usage: snapshot NAME (letters, digits, _ . -)');
  if (d.runner.running) throw new CommandError('cannot snapshot while the machine runs');
  try {
    d.snapshots.take(name, d.job);
  } catch (e) {
    throw new CommandError(e instanceof Error ? e.message : String(e));
  }
  d.print(`Snapshot '${name}' taken at guest time ${fmtTime(d.machine.nowNs)}.`);
}

function restore(d: Debugger, args: string): void {
  const name = args.trim();
  if (!name) throw new CommandError(`usage: restore NAME (have: ${d.snapshots.names().join(', ') || 'none'})`);
  let s: ReturnType<typeof d.snapshots.restore>;
  try {
    s = d.snapshots.restore(name);
  } catch (e) {
    throw new CommandError(e instanceof Error ? e.message : String(e));
  }
  d.stops.forgetStopped();
  if (d.job && d.job !== s.job) d.print(`[${d.job.what}: dropped, the guest is back before it]`);
  d.job = s.job;
  d.print(`Restored '${name}' (guest time ${fmtTime(s.timeNs)}).${s.job ? ` [${s.job.what} in flight again]` : ''}`, location(d));
}

/** How deep `source` may nest (a file that sources itself would otherwise never end). */
export const MAX_SOURCE_DEPTH = 16;
const sourceDepth = new WeakMap<Debugger, number>();

async function source(d: Debugger, args: string): Promise<void> {
  const file = args.trim();
  if (!file) throw new CommandError('usage: source FILE');
  const depth = sourceDepth.get(d) ?? 0;
  if (depth >= MAX_SOURCE_DEPTH) throw new CommandError(`source: ${file}: nested too deeply (more than ${MAX_SOURCE_DEPTH} levels; does it source itself?)`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CommandError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  sourceDepth.set(d, depth + 1);
  let failed: Awaited<ReturnType<typeof runScript>>;
  try {
    failed = await runScript(d, text.split('\n'), { echo: true });
  } finally {
    sourceDepth.set(d, depth);
  }
  if (failed?.interrupted) throw new CommandError(`source: ${file}:${failed.line}: interrupted: ${failed.text}`);
  if (failed) throw new CommandError(`source: ${file}:${failed.line}: command failed: ${failed.text}`);
}

/** `set continue-limit 5s|off`, `set cpu N`. */
function set(d: Debugger, args: string): void {
  const [key, value] = args.trim().split(/\s+/, 2);
  if (key === 'continue-limit' && value) {
    d.continueLimitNs = value === 'off' ? undefined : parseDuration(value);
    return d.print(`continue-limit is ${d.continueLimitNs === undefined ? 'off' : fmtTime(d.continueLimitNs)}.`);
  }
  throw new CommandError('usage: set continue-limit DURATION|off');
}

function help(d: Debugger, args: string): void {
  if (!args.trim()) return d.print(...helpIndex(d.commands));
  const words = args.trim().split(/\s+/);
  if (words[0] === 'info' && words[1]) return d.print(...helpFor(findCommand(INFO_SUBCOMMANDS, words[1], 'info command')));
  d.print(...helpFor(findCommand(d.commands, words[0]!)));
}

/** `info X`: a prefix command with its own table, as gdb's. */
export const INFO_SUBCOMMANDS: Command[] = [
  { name: 'breakpoints', aliases: ['b', 'break', 'watchpoints'], category: 'breakpoints', usage: 'info breakpoints', summary: 'List breakpoints and watchpoints', run: (d) => infoBreakpoints(d) },
  { name: 'registers', aliases: ['r', 'reg'], category: 'data', usage: 'info registers [REG...]', summary: 'Registers of the current cpu', run: (d, a) => INFO_CODE.infoRegisters(d, a) },
  { name: 'cpus', aliases: ['threads'], category: 'data', usage: 'info cpus', summary: 'Every vCPU: state, IF, pending vectors, time, RIP, task', run: (d) => INFO_TASKS.infoCpus(d) },
  { name: 'symbol', category: 'data', usage: 'info symbol ADDR', summary: 'The symbol containing ADDR', run: (d, a) => INFO_CODE.infoSymbol(d, a) },
  {
    name: 'snapshots', category: 'session', usage: 'info snapshots', summary: 'Named snapshots',
    run: (d) => d.print(d.snapshots.names().length ? d.snapshots.names().join('\n') : 'No snapshots.'),
  },
];

function info(d: Debugger, args: string): void | Promise<void> {
  const m = /^(\S+)\s*(.*)$/.exec(args.trim());
  if (!m) throw new CommandError(`List of info subcommands:\n${INFO_SUBCOMMANDS.map((c) => `  info ${c.name.padEnd(12)} ${c.summary}`).join('\n')}`);
  return findCommand(INFO_SUBCOMMANDS, m[1]!, 'info command').run(d, m[2]!, undefined);
}

export const SESSION_COMMANDS: Command[] = [
  { name: 'info', aliases: ['i'], category: 'data', usage: 'info breakpoints|registers|cpus|symbol|snapshots', complete: 'info', summary: 'Show things about the machine (see help info SUB)', run: (d, a) => info(d, a) },
  { name: 'snapshot', category: 'session', usage: 'snapshot NAME', summary: 'Save the machine (registers + memory) under NAME', run: (d, a) => snapshot(d, a) },
  {
    name: 'restore', category: 'session', usage: 'restore NAME', summary: 'Go back to snapshot NAME',
    help: 'Refused when host-side kernel state (modules, livepatches, ftrace) changed since the snapshot:\nthat state is not part of machine snapshots. Breakpoints stay.',
    run: (d, a) => restore(d, a),
  },
  { name: 'source', category: 'session', usage: 'source FILE', complete: 'path', summary: 'Run the commands of FILE (stops at the first failure)', run: (d, a) => source(d, a) },
  { name: 'set', category: 'session', usage: 'set continue-limit DURATION|off', summary: 'Session settings', run: (d, a) => set(d, a) },
  { name: 'help', aliases: ['h'], category: 'session', usage: 'help [COMMAND]', complete: 'command', summary: 'List commands, or describe one', run: (d, a) => help(d, a) },
  { name: 'quit', aliases: ['q', 'exit'], category: 'session', usage: 'quit', summary: 'Leave the debugger', run: (d) => void (d.quitRequested = true) },
];
