// sysfs.ts - host-served virtual files: sysfs, tracefs, host-side procfs entries (fs/sysfs)

import { Errno } from './errno.ts';

/** One attribute: show returns the text, store returns bytes consumed or -errno. */
export interface Attribute {
  /** Octal mode, e.g. 0o644. */
  mode: number;
  show?: () => string | number;
  store?: (value: string) => number;
}

/**
 * A tree of attributes keyed by absolute path. Directories exist implicitly
 * while something lives under them, and can also be created empty (like a
 * kobject without attributes: `<function,sympos>/` in livepatch).
 */
export class VirtualFs {
  private readonly files = new Map<string, Attribute>();
  private readonly dirs = new Set<string>();
  /** Dynamic providers for a prefix (e.g. /proc/<pid>/...). */
  private readonly providers: { prefix: string; lookup: (path: string) => Attribute | undefined; list: (dir: string) => string[] }[] = [];

  createFile(path: string, attr: Attribute): void {
    this.files.set(path, attr);
  }

  createDir(path: string): void {
    this.dirs.add(path);
  }

  /** Remove a directory and everything below it (kobject_put of the last reference). */
  removeTree(path: string): void {
    for (const p of [...this.files.keys()]) if (p === path || p.startsWith(path + '/')) this.files.delete(p);
    for (const d of [...this.dirs]) if (d === path || d.startsWith(path + '/')) this.dirs.delete(d);
  }

  addProvider(prefix: string, lookup: (path: string) => Attribute | undefined, list: (dir: string) => string[]): void {
    this.providers.push({ prefix, lookup, list });
  }

  lookup(path: string): Attribute | undefined {
    const f = this.files.get(path);
    if (f) return f;
    for (const p of this.providers) if (path.startsWith(p.prefix)) return p.lookup(path);
    return undefined;
  }

  exists(path: string): boolean {
    return this.lookup(path) !== undefined || this.isDir(path);
  }

  isDir(path: string): boolean {
    if (this.dirs.has(path)) return true;
    const pre = path.endsWith('/') ? path : path + '/';
    for (const p of this.files.keys()) if (p.startsWith(pre)) return true;
    for (const d of this.dirs) if (d.startsWith(pre)) return true;
    return this.providers.some((p) => p.list(path).length > 0);
  }

  /** Entries directly under `dir`, sorted. */
  list(dir: string): string[] {
    const pre = dir.endsWith('/') ? dir : dir + '/';
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (p.startsWith(pre)) names.add(p.slice(pre.length).split('/')[0]!);
    }
    for (const p of this.providers) for (const n of p.list(dir)) names.add(n);
    return [...names].filter((n) => n).sort();
  }

  /** Read a file: its text, or -errno (ENOENT, EISDIR, EACCES for write-only). */
  read(path: string): string | number {
    const a = this.lookup(path);
    if (!a) return this.isDir(path) ? -Errno.EISDIR : -Errno.ENOENT;
    if (!a.show || (a.mode & 0o444) === 0) return -Errno.EACCES;
    const v = a.show();
    return typeof v === 'number' ? v : v;
  }

  /** Write a file: bytes consumed or -errno. */
  write(path: string, value: string): number {
    const a = this.lookup(path);
    if (!a) return -Errno.ENOENT;
    if (!a.store || (a.mode & 0o222) === 0) return -Errno.EACCES;
    return a.store(value);
  }

  /** `ls -l`-style mode string: -rw-r--r--, d for directories. */
  modeString(path: string): string | undefined {
    const a = this.lookup(path);
    if (!a) return this.isDir(path) ? 'drwxr-xr-x' : undefined;
    const bits = 'rwxrwxrwx';
    let s = '-';
    for (let i = 0; i < 9; i++) s += a.mode & (1 << (8 - i)) ? bits[i] : '-';
    return s;
  }
}

/** kstrtobool(): 1/y/Y/t/T/on → true, 0/n/N/f/F/off → false, else undefined (-EINVAL). */
export function kstrtobool(s: string): boolean | undefined {
  const v = s.trim();
  if (/^(1|y|Y|t|T|on|ON|On)/.test(v) && !/^o[fF]/.test(v)) return true;
  if (/^(0|n|N|f|F|off|OFF|Off)/.test(v)) return false;
  return undefined;
}
