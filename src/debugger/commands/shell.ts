// shell.ts - the machine shell from the debugger: cat (guest /proc files under run control), echo, insmod, rmmod, sh

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Debugger } from '../session.ts';
import { Shell, type ShellResult } from '../../kernel/shell.ts';
import { GuestJob } from '../guestJob.ts';
import { finishJob, reportRun } from '../report.ts';
import { CommandError, type Command } from './table.ts';

/** Where `insmod NAME.ko` looks when NAME.ko is not a path that exists. */
export const MODULE_DIR = fileURLToPath(new URL('../../../kernel-image/build/modules/', import.meta.url));

function shellOf(d: Debugger): Shell {
  d.target.shell ??= new Shell(d.kernel, d.target.modules);
  return d.target.shell;
}

/** Run a shell line, print what it printed and the kernel messages it caused. @throws CommandError on failure */
function runShell(d: Debugger, line: string): ShellResult {
  const before = d.kernel.dmesg().length;
  const r = shellOf(d).run(line);
  if (r.out) d.write(r.out);
  const log = d.kernel.dmesg().slice(before);
  if (log.length) d.print(...log);
  if (r.status !== 0) throw new CommandError(r.err.trimEnd() || `${line.split(/\s+/)[0]}: exit status ${r.status}`);
  if (r.err) d.write(r.err);
  return r;
}

/** A guest-served file (procfs show functions run in the guest's klpsh task). */
const guestFile = (d: Debugger, path: string): boolean => path.startsWith('/proc/') && !d.kernel.vfs.exists(path);

/**
 * `cat PATH`: host-served files (sysfs, tracefs) are read at once; a guest
 * /proc file is read by the guest shell task while the debugger drives the
 * machine, so a breakpoint in its show function stops there (the cat then
 * finishes on a later continue).
 */
async function cat(d: Debugger, args: string): Promise<void> {
  const paths = args.trim().split(/\s+/).filter(Boolean);
  if (paths.length === 0) throw new CommandError('usage: cat PATH...');
  for (const [i, p] of paths.entries()) {
    if (!guestFile(d, p)) {
      runShell(d, `cat ${p}`);
      continue;
    }
    if (d.job) throw new CommandError(`'${d.job.what}' is still running in the guest: continue first`);
    d.job = GuestJob.cat(d.kernel, p);
    const end = await d.runner.run({ until: () => d.job?.done() ?? true, limitNs: d.continueLimitNs });
    if (end.kind === 'until') {
      if (finishJob(d) === false) throw new CommandError(`cat: ${p} failed`);
      continue;
    }
    reportRun(d, end);
    if (d.job) d.print(`[${d.job.what}: still running in the guest; "continue" finishes it${i + 1 < paths.length ? `; skipped ${paths.slice(i + 1).join(' ')}` : ''}]`);
    return;
  }
}

function resolveModule(path: string): string {
  if (existsSync(path)) return path;
  for (const cand of [join(MODULE_DIR, path), join(MODULE_DIR, `${path}.ko`)]) if (existsSync(cand)) return cand;
  return path;
}

function insmod(d: Debugger, args: string): void {
  if (!d.target.modules) throw new CommandError('insmod: module loader not available (this target has no module loader)');
  const [file, ...params] = args.trim().split(/\s+/).filter(Boolean);
  if (!file) throw new CommandError('usage: insmod FILE [name=value...]');
  const path = resolveModule(file);
  // kmod's message: the loader itself would report a missing file as init_module's ENOENT (unknown symbol)
  if (!existsSync(path)) throw new CommandError(`insmod: ERROR: could not load module ${file}: No such file or directory`);
  runShell(d, ['insmod', path, ...params].join(' '));
}

function rmmod(d: Debugger, args: string): void {
  if (!d.target.modules) throw new CommandError('rmmod: module loader not available (this target has no module loader)');
  if (!args.trim()) throw new CommandError('usage: rmmod NAME');
  runShell(d, `rmmod ${args.trim()}`);
}

function echo(d: Debugger, args: string): void {
  const to = /(?:^|\s)>\s*(\S+)\s*$/.exec(args)?.[1];
  if (to && guestFile(d, to)) {
    throw new CommandError(`echo: ${to} is served by the guest kernel (read-only here); echo writes sysfs, tracefs and host-served /proc files`);
  }
  runShell(d, `echo ${args}`);
}

function sh(d: Debugger, args: string): void {
  if (!args.trim()) throw new CommandError('usage: sh COMMAND LINE (ls, grep, sysctl, lsmod, ...)');
  runShell(d, args);
}

export const SHELL_COMMANDS: Command[] = [
  {
    name: 'cat', category: 'shell', usage: 'cat PATH...', complete: 'path',
    summary: 'Read files; a guest /proc file is read by a guest task under run control (breakpoints stop it)',
    run: (d, a) => cat(d, a),
  },
  { name: 'echo', category: 'shell', usage: 'echo VALUE > PATH', complete: 'path', summary: 'Write a sysfs/tracefs/procfs file (or print VALUE)', run: (d, a) => echo(d, a) },
  {
    name: 'insmod', category: 'shell', usage: 'insmod FILE.ko [name=value...]', complete: 'path',
    summary: `Load a module (a bare name is looked up in kernel-image/build/modules/)`, run: (d, a) => insmod(d, a),
  },
  { name: 'rmmod', category: 'shell', usage: 'rmmod NAME', summary: 'Unload a module', run: (d, a) => rmmod(d, a) },
  { name: 'sh', aliases: ['shell'], category: 'shell', usage: 'sh LINE', summary: 'Run a machine shell line as is (ls, grep, sysctl, lsmod); it runs the machine itself, breakpoints do not stop it', run: (d, a) => sh(d, a) },
];
