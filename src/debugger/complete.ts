// complete.ts - tab completion: command names, kernel symbols, info subcommands, machine and host paths

import { readdirSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { Debugger } from './session.ts';
import { commandWords, findCommand } from './commands/table.ts';
import { INFO_SUBCOMMANDS } from './commands/index.ts';
import { MODULE_DIR } from './commands/shell.ts';

/** readline's completer result: candidates and the text they replace. */
export type CompleterResult = [string[], string];

const uniqSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

/** Kernel symbols starting with `prefix` (a leading `*` is kept, as in `b *sym`). */
function symbols(d: Debugger, token: string): string[] {
  const star = token.startsWith('*') ? '*' : '';
  const prefix = token.slice(star.length);
  return uniqSorted(d.kernel.kallsyms.all().filter((s) => s.name.startsWith(prefix)).map((s) => star + s.name));
}

/** Paths in the machine's files: the vfs (sysfs, tracefs, host procfs) and the guest's own /proc files. */
function machinePaths(d: Debugger, token: string): string[] {
  const dir = token.includes('/') ? token.slice(0, token.lastIndexOf('/') + 1) : '/';
  const vfs = d.kernel.vfs;
  const names = vfs.isDir(dir) || dir === '/' ? vfs.list(dir).map((n) => dir + n + (vfs.isDir(dir + n) ? '/' : '')) : [];
  if (dir === '/') names.push('/proc/', '/sys/');
  if (dir === '/proc/') {
    for (const s of d.kernel.kallsyms.all()) {
      if (!s.name.startsWith('path_') || s.type !== 'object') continue;
      const p = d.machine.mem.readCString(s.addr, 256);
      if (p.startsWith('/proc/')) names.push(p);
    }
  }
  return uniqSorted(names.filter((n) => n.startsWith(token)));
}

/** Host files (source FILE, insmod FILE); insmod also offers the built modules by name. */
function hostPaths(token: string, modules: boolean): string[] {
  const dir = token.endsWith('/') ? token : dirname(token);
  const base = token.endsWith('/') ? '' : basename(token);
  const out: string[] = [];
  try {
    for (const n of readdirSync(dir || '.')) {
      if (!n.startsWith(base)) continue;
      const p = token.includes('/') ? join(dir, n) : n;
      out.push(statSync(join(dir || '.', n)).isDirectory() ? p + '/' : p);
    }
  } catch {
    // unreadable directory: no candidates
  }
  if (modules && !token.includes('/')) {
    try {
      out.push(...readdirSync(MODULE_DIR).filter((n) => n.endsWith('.ko') && n.startsWith(token)));
    } catch {
      // no built modules
    }
  }
  return uniqSorted(out);
}

/** Complete the last word of `line`. Never throws. */
export function complete(d: Debugger, line: string): CompleterResult {
  try {
    return completeUnsafe(d, line);
  } catch {
    return [[], ''];
  }
}

function completeUnsafe(d: Debugger, line: string): CompleterResult {
  const token = /(\S*)$/.exec(line)![1]!;
  const words = line.trimStart().split(/\s+/);
  if (words.length <= 1) return [commandWords(d.commands).filter((w) => w.startsWith(token)), token];
  const cmd = findCommand(d.commands, words[0]!.split('/')[0]!);
  switch (cmd.complete) {
    case 'symbol':
      return [symbols(d, token), token];
    case 'command':
      return [commandWords(d.commands).filter((w) => w.startsWith(token)), token];
    case 'info':
      if (words.length === 2) return [commandWords(INFO_SUBCOMMANDS).filter((w) => w.startsWith(token)), token];
      return [symbols(d, token), token];
    case 'path':
      if (cmd.name === 'insmod' || cmd.name === 'source') return [hostPaths(token, cmd.name === 'insmod'), token];
      return [machinePaths(d, token), token];
    default:
      return [[], token];
  }
}
