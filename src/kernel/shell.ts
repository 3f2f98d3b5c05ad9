// shell.ts - a small shell on the machine: insmod, rmmod, lsmod, echo, cat, grep, ls, stat, dmesg, sysctl, kill, `PROGRAM &`

import type { Kernel } from './kernel.ts';
import { catProc } from './klpsh.ts';
import { insmodStrerror, strerror, Errno } from './errno.ts';
import { LogLevel } from './printk.ts';
import { Jobs } from './jobs.ts';

/** What the shell needs from the module loader (src/module). */
export interface ModuleShellApi {
  /** Load and initialise a module; 0 or -errno (the loader printed the kernel's messages). */
  insmod(path: string, params: string[]): number;
  /** delete_module(2): 0 or -errno. */
  rmmod(name: string): number;
  /** lsmod rows. */
  list(): { name: string; size: number; refcnt: number; holders: string[] }[];
}

/** A command's result: what it printed and its exit status. */
export interface ShellResult {
  out: string;
  err: string;
  status: number;
}

type Handler = (sh: Shell, args: string[], line: string) => ShellResult;

const ok = (out = ''): ShellResult => ({ out, err: '', status: 0 });
const fail = (err: string, status = 1): ShellResult => ({ out: '', err: err + '\n', status });

/** Split a command line into words, honouring single and double quotes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/**
 * The shell. Every command runs against the live machine: `cat` of a procfs
 * file runs the guest's show function in a real task (klpsh), sysfs/tracefs
 * files are served by host code, `echo` writes them with the kernel's rules.
 */
export class Shell {
  readonly commands = new Map<string, Handler>();
  /** Background jobs (`PROGRAM &`, `$!`, kill). */
  readonly jobs: Jobs;

  constructor(readonly kernel: Kernel, public modules?: ModuleShellApi) {
    for (const [n, h] of Object.entries(HANDLERS)) this.commands.set(n, h);
    this.jobs = new Jobs(kernel);
  }

  /**
   * Run one command line (a `> FILE` redirection is supported for echo and
   * grep). `$!` expands to the last background job's pid; a program path
   * (`./test_klp-call_getpid`) runs as a guest task, in the background only.
   */
  run(line: string): ShellResult {
    let trimmed = this.jobs.expand(line.trim());
    if (!trimmed || trimmed.startsWith('#')) return ok();
    const bg = /(^|[^&])&$/.test(trimmed);
    if (bg) trimmed = trimmed.slice(0, -1).trim();
    const words = splitWords(trimmed);
    const h = this.commands.get(words[0]!);
    if (h && bg) return fail(`sh: ${words[0]}: builtins do not run in the background here`, 2);
    if (h) return h(this, words.slice(1), trimmed);
    if (!words[0]!.includes('/')) return fail(`sh: ${words[0]}: command not found`, 127);
    if (!bg) return fail(`sh: ${words[0]}: programs run in the background only here (add &)`, 126);
    return this.jobs.background(words[0]!);
  }

  /** Read a file: host-served (sysfs, tracefs, /proc/<pid>/...) or a guest procfs file. */
  readFile(path: string): string | number {
    const vfs = this.kernel.vfs;
    if (vfs.exists(path)) return vfs.read(path);
    if (path.startsWith('/proc/')) {
      const r = catProc(this.kernel, path);
      return r.status < 0n ? Number(r.status) : r.out;
    }
    return -Errno.ENOENT;
  }

  /** Write a file (echo V > PATH): bytes or -errno. /dev/kmsg logs the text. */
  writeFile(path: string, value: string): number {
    if (path === '/dev/kmsg') {
      this.kernel.printk(LogLevel.WARNING, value.replace(/\n$/, ''));
      return value.length;
    }
    return this.kernel.vfs.write(path, value);
  }
}

/** `echo V > PATH`, `echo V` */
function echo(sh: Shell, args: string[], line: string): ShellResult {
  const redir = /^echo\s+(.*?)\s*>\s*(\S+)\s*$/.exec(line);
  if (!redir) return ok(args.join(' ') + '\n');
  const value = splitWords(redir[1]!).join(' ') + '\n';
  const ret = sh.writeFile(redir[2]!, value);
  if (ret < 0) {
    const what = ret === -Errno.ENOENT || ret === -Errno.EACCES ? `${redir[2]}: ${strerror(ret)}` : `echo: write error: ${strerror(ret)}`;
    return fail(`sh: ${what}`);
  }
  return ok();
}

function cat(sh: Shell, args: string[]): ShellResult {
  let out = '';
  for (const p of args) {
    const r = sh.readFile(p);
    if (typeof r === 'number') return { out, err: `cat: ${p}: ${strerror(r)}\n`, status: 1 };
    out += r;
  }
  return ok(out);
}

/** A basic regular expression (grep without -F) as a JS RegExp: `+ ? | ( ) { }` are literal, `\x` quotes x. */
function breRegExp(pattern: string): RegExp {
  return new RegExp(pattern.replace(/\\(.)|([+?|(){}])/g, (_, q: string | undefined, lit: string | undefined) => `\\${q ?? lit}`));
}

/**
 * `grep [-qFw] PATTERN FILE [> OUT]`: a basic regular expression per line, or
 * a fixed string with -F, as the selftests use it (-w: the match is a whole
 * word; -q: status only).
 */
function grep(sh: Shell, _args: string[], line: string): ShellResult {
  const m = /^grep\s+((?:-[qFw]+\s+)*)('[^']*'|"[^"]*"|\S+)\s+(\S+)(?:\s*>\s*(\S+))?\s*$/.exec(line);
  if (!m) return fail('usage: grep [-qFw] PATTERN FILE [> OUT]', 2);
  const flags = m[1]!.replace(/[-\s]/g, '');
  const pattern = splitWords(m[2]!)[0]!;
  const r = sh.readFile(m[3]!);
  if (typeof r === 'number') return fail(`grep: ${m[3]}: ${strerror(r)}`, 2);
  const src = flags.includes('F') ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : breRegExp(pattern).source;
  const re = new RegExp(flags.includes('w') ? `(?<![A-Za-z0-9_])(?:${src})(?![A-Za-z0-9_])` : src);
  const hits = r.replace(/\n$/, '').split('\n').filter((l) => re.test(l));
  if (hits.length === 0) return { out: '', err: '', status: 1 };
  if (flags.includes('q')) return ok();
  if (m[4]) for (const h of hits) sh.writeFile(m[4], h + '\n');
  return ok(m[4] ? '' : hits.join('\n') + '\n');
}

function insmod(sh: Shell, args: string[]): ShellResult {
  if (!sh.modules) return fail('insmod: module support not loaded');
  const [file, ...params] = args;
  if (!file) return fail('Usage: insmod <filename> [args]');
  const ret = sh.modules.insmod(file, params);
  return ret < 0 ? fail(`insmod: ERROR: could not insert module ${file}: ${insmodStrerror(ret)}`) : ok();
}

function rmmod(sh: Shell, args: string[]): ShellResult {
  if (!sh.modules) return fail('rmmod: module support not loaded');
  const name = args[0]?.replace(/\.ko$/, '').replace(/^.*\//, '');
  if (!name) return fail('Usage: rmmod <modulename>');
  // kmod's check_module_inuse(): holders first, then the reference count
  const holders = sh.modules.list().find((m) => m.name === name)?.holders ?? [];
  if (holders.length) return fail(`rmmod: ERROR: Module ${name} is in use by: ${holders.join(' ')}`);
  const ret = sh.modules.rmmod(name);
  if (ret === -Errno.ENOENT) return fail(`rmmod: ERROR: Module ${name} is not currently loaded`);
  if (ret === -Errno.EBUSY || ret === -Errno.EAGAIN) return fail(`rmmod: ERROR: Module ${name} is in use`);
  return ret < 0 ? fail(`rmmod: ERROR: could not remove module ${name}: ${strerror(ret)}`) : ok();
}

function lsmod(sh: Shell): ShellResult {
  const rows = sh.modules?.list() ?? [];
  const lines = ['Module                  Size  Used by'];
  for (const r of rows) lines.push(`${r.name.padEnd(19)} ${String(r.size).padStart(8)}  ${r.refcnt}${r.holders.length ? ' ' + r.holders.join(',') : ''}`);
  return ok(lines.join('\n') + '\n');
}

function ls(sh: Shell, args: string[]): ShellResult {
  const dir = args[0] ?? '/';
  if (!sh.kernel.vfs.isDir(dir)) return fail(`ls: cannot access '${dir}': No such file or directory`, 2);
  const names = sh.kernel.vfs.list(dir);
  return ok(names.length ? names.join('\n') + '\n' : '');
}

/** `stat --format FMT PATH` / `stat -c FMT PATH`: %A (rights as ls -l prints them), %a (octal), %n (name). */
function stat(sh: Shell, args: string[]): ShellResult {
  let fmt = '%n';
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '--format') fmt = args[++i] ?? '';
    else if (a.startsWith('--format=')) fmt = a.slice('--format='.length);
    else paths.push(a);
  }
  if (paths.length === 0) return fail('stat: missing operand');
  let out = '';
  for (const p of paths) {
    const rights = sh.kernel.vfs.modeString(p);
    if (rights === undefined) return { out, err: `stat: cannot statx '${p}': No such file or directory\n`, status: 1 };
    const octal = [1, 4, 7].map((i) => (rights[i] !== '-' ? 4 : 0) + (rights[i + 1] !== '-' ? 2 : 0) + (rights[i + 2] !== '-' ? 1 : 0)).join('');
    out += fmt.replace(/%([Aan%])/g, (_, c: string) => (c === 'A' ? rights : c === 'a' ? String(Number(octal)) : c === 'n' ? p : '%')) + '\n';
  }
  return ok(out);
}

function dmesg(sh: Shell): ShellResult {
  return ok(sh.kernel.dmesg().join('\n') + '\n');
}

/** `sysctl [-q] kernel.NAME=V` or `sysctl kernel.NAME` over /proc/sys. */
function sysctl(sh: Shell, args: string[]): ShellResult {
  const spec = args.filter((a) => !a.startsWith('-'))[0];
  if (!spec) return fail('usage: sysctl [-q] NAME[=VALUE]');
  const [name, value] = spec.split('=');
  const path = `/proc/sys/${name!.replace(/\./g, '/')}`;
  if (value === undefined) {
    const r = sh.readFile(path);
    return typeof r === 'number' ? fail(`sysctl: cannot stat ${path}: ${strerror(r)}`, 255) : ok(`${name} = ${r.trim()}\n`);
  }
  const ret = sh.writeFile(path, value + '\n');
  if (ret < 0) return fail(`sysctl: setting key "${name}": ${strerror(ret)}`, 255);
  return ok(args.includes('-q') ? '' : `${name} = ${value}\n`);
}

/** `getconf _NPROCESSORS_ONLN` (also `nproc`): the CPUs that came online. */
function getconf(sh: Shell, args: string[]): ShellResult {
  if (args[0] !== '_NPROCESSORS_ONLN') return fail(`getconf: Unrecognized variable '${args[0] ?? ''}'`);
  return ok(`${sh.kernel.onlineCpus()}\n`);
}

function kill(sh: Shell, args: string[]): ShellResult {
  return sh.jobs.kill(args);
}

const HANDLERS: Record<string, Handler> = { echo, cat, grep, insmod, rmmod, lsmod, ls, stat, dmesg, sysctl, kill, getconf, nproc: (sh) => getconf(sh, ['_NPROCESSORS_ONLN']) };

/** Format a result as a terminal would show it. */
export function formatResult(r: ShellResult): string {
  return r.out + r.err;
}

export { Errno };
