// table.ts - the command table: one small handler per command, gdb names, aliases and unique prefixes

import type { Debugger } from '../session.ts';

/** A failed command: its message is printed and the session goes on (batch mode exits non-zero). */
export class CommandError extends Error {}

/** What a command's arguments complete to. */
export type Completion = 'symbol' | 'path' | 'command' | 'info' | 'none';

export interface Command {
  name: string;
  /** gdb's short forms (`c`, `si`, `b`, `bt`, `i`). */
  aliases?: string[];
  category: 'running' | 'breakpoints' | 'data' | 'kernel' | 'shell' | 'session';
  usage: string;
  summary: string;
  /** Longer help (`help CMD`). */
  help?: string;
  complete?: Completion;
  /** `fmt` is the `/FMT` suffix (`x/4gx` → `4gx`). Throw CommandError to fail. */
  run(d: Debugger, args: string, fmt: string | undefined): void | Promise<void>;
}

/** A parsed command line: `name[/fmt] args`. */
export interface Parsed {
  word: string;
  fmt: string | undefined;
  args: string;
}

/** Split `x/4gx $rsp` into word `x`, fmt `4gx`, args `$rsp`. @returns undefined for a blank line */
export function parseLine(line: string): Parsed | undefined {
  const m = /^\s*([A-Za-z_][\w-]*)(?:\/(\S*))?\s*(.*?)\s*$/.exec(line);
  if (!m) return undefined;
  return { word: m[1]!, fmt: m[2], args: m[3]! };
}

/**
 * Find a command by name, alias or unique prefix of a name (gdb's rule; an
 * exact name or alias wins over prefixes).
 * @throws CommandError for an unknown or ambiguous word
 */
export function findCommand(cmds: readonly Command[], word: string, what = 'command'): Command {
  const exact = cmds.find((c) => c.name === word || c.aliases?.includes(word));
  if (exact) return exact;
  const hits = cmds.filter((c) => c.name.startsWith(word));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new CommandError(`Ambiguous ${what} "${word}": ${hits.map((c) => c.name).sort().join(', ')}.`);
  throw new CommandError(`Undefined ${what}: "${word}".  Try "help".`);
}

/** Every name and alias (for completion). */
export function commandWords(cmds: readonly Command[]): string[] {
  return cmds.flatMap((c) => [c.name, ...(c.aliases ?? [])]).sort();
}

const CATEGORY_TITLES: Record<Command['category'], string> = {
  running: 'Running the machine',
  breakpoints: 'Breakpoints and watchpoints',
  data: 'Registers, memory, code, stacks',
  kernel: 'Kernel views',
  shell: 'The machine shell',
  session: 'Session',
};

/** `help`: every command by category with its one-line summary. */
export function helpIndex(cmds: readonly Command[]): string[] {
  const lines: string[] = [];
  for (const [cat, title] of Object.entries(CATEGORY_TITLES)) {
    const list = cmds.filter((c) => c.category === cat);
    if (!list.length) continue;
    lines.push(`${title}:`);
    for (const c of list) {
      const names = [c.name, ...(c.aliases ?? [])].join(', ');
      lines.push(`  ${names.padEnd(24)} ${c.summary}`);
    }
  }
  lines.push('', 'Type "help COMMAND" for details. Commands may be abbreviated if unambiguous.');
  return lines;
}

/** `help CMD`: usage, summary, aliases and details. */
export function helpFor(c: Command): string[] {
  const lines = [`usage: ${c.usage}`, c.summary];
  if (c.aliases?.length) lines.push(`aliases: ${c.aliases.join(', ')}`);
  if (c.help) lines.push('', ...c.help.split('\n'));
  return lines;
}

/** Parse a non-negative integer argument. @throws CommandError */
export function intArg(text: string, what: string, dflt?: number): number {
  if (text === '' && dflt !== undefined) return dflt;
  if (!/^\d+$/.test(text)) throw new CommandError(`${what}: expected a number, got '${text}'`);
  return Number(text);
}
