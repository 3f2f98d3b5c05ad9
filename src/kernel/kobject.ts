// kobject.ts - sysfs for guest kobjects: the kobject_add/kobject_del/sysfs_create_file hypercalls; show/store run as guest code

import type { Kernel } from './kernel.ts';
import { Errno } from './errno.ts';
import { LogLevel } from './printk.ts';
import { Hypercall, KOBJECT, KOBJ_ATTRIBUTE, PAGE_SIZE } from '../abi/layout.ts';

/** Parents deeper than this are a corrupt chain. */
const MAX_DEPTH = 16;

/**
 * The host half of lib/kobject.c and fs/sysfs: a guest kobject (KOBJECT) is a
 * directory whose path follows its parents up to /sys (kernel_kobj is the
 * parentless "kernel": /sys/kernel); an attribute (KOBJ_ATTRIBUTE) is a file
 * whose reads call its guest show(kobj, attr, buf) with a zeroed page, as
 * sysfs_kf_seq_show does, and whose writes call store(kobj, attr, buf, count).
 */
export class KobjectSysfs {
  /** The page sysfs hands to show/store (vmalloc, allocated on first use). */
  private page = 0n;

  constructor(readonly k: Kernel) {
    k.vfs.createDir('/sys/kernel');
    const h = k.machine.hypercalls;
    h.register(Hypercall.KOBJECT_ADD, 'kobject_add', ({ args }) => BigInt(this.kobjectAdd(args[0]!)));
    h.register(Hypercall.KOBJECT_DEL, 'kobject_del', ({ args }) => {
      this.kobjectDel(args[0]!);
      return 0n;
    });
    h.register(Hypercall.SYSFS_CREATE_FILE, 'sysfs_create_file', ({ args }) => BigInt(this.sysfsCreateFile(args[0]!, args[1]!)));
    h.register(Hypercall.SYSFS_REMOVE_FILE, 'sysfs_remove_file', ({ args }) => {
      const path = this.attrPath(args[0]!, args[1]!);
      if (path) this.k.vfs.removeTree(path);
      return 0n;
    });
  }

  /** kobject_get_path(): /sys/<parents...>/<name>, or undefined for a broken chain. */
  kobjectPath(kobj: bigint): string | undefined {
    const mem = this.k.machine.mem;
    const names: string[] = [];
    for (let at = kobj, depth = 0; at !== 0n; depth++) {
      if (depth >= MAX_DEPTH || !mem.isMapped(at, KOBJECT.SIZE)) return undefined;
      const name = mem.readU64(at + BigInt(KOBJECT.name));
      if (name === 0n || !mem.isMapped(name)) return undefined;
      names.unshift(mem.readCString(name, 256));
      at = mem.readU64(at + BigInt(KOBJECT.parent));
    }
    return `/sys/${names.join('/')}`;
  }

  private attrPath(kobj: bigint, attr: bigint): string | undefined {
    const mem = this.k.machine.mem;
    const dir = this.kobjectPath(kobj);
    if (!dir || !mem.isMapped(attr, KOBJ_ATTRIBUTE.SIZE)) return undefined;
    const name = mem.readU64(attr + BigInt(KOBJ_ATTRIBUTE.name));
    return name !== 0n && mem.isMapped(name) ? `${dir}/${mem.readCString(name, 256)}` : undefined;
  }

  /** sysfs_warn_dup() and -EEXIST when `path` exists (the kernel's messages). */
  private duplicate(path: string, what: string): boolean {
    if (!this.k.vfs.exists(path)) return false;
    this.k.printk(LogLevel.WARNING, `sysfs: cannot create duplicate filename '${path.slice('/sys'.length)}'`);
    if (what) this.k.printk(LogLevel.ERR, `kobject: kobject_add_internal failed for ${what} with -EEXIST, don't try to register things with the same name in the same directory.`);
    return true;
  }

  /** kobject_add(): the directory, or -EEXIST/-EINVAL. */
  private kobjectAdd(kobj: bigint): number {
    const path = this.kobjectPath(kobj);
    if (!path) return -Errno.EINVAL;
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (parent !== '/sys' && !this.k.vfs.isDir(parent)) return -Errno.ENOENT;
    if (this.duplicate(path, path.slice(parent.length + 1))) return -Errno.EEXIST;
    this.k.vfs.createDir(path);
    return 0;
  }

  /** kobject_del(): the directory and its files go. */
  private kobjectDel(kobj: bigint): void {
    const path = this.kobjectPath(kobj);
    if (path) this.k.vfs.removeTree(path);
  }

  private buffer(): bigint {
    if (this.page === 0n) this.page = this.k.vmalloc.alloc(PAGE_SIZE, BigInt(PAGE_SIZE));
    this.k.machine.mem.write(this.page, new Uint8Array(PAGE_SIZE));
    return this.page;
  }

  /** sysfs_create_file(): a file served by the attribute's guest show/store. */
  private sysfsCreateFile(kobj: bigint, attr: bigint): number {
    const mem = this.k.machine.mem;
    const path = this.attrPath(kobj, attr);
    if (!path || !this.k.vfs.isDir(path.slice(0, path.lastIndexOf('/')))) return -Errno.EINVAL;
    if (this.duplicate(path, '')) return -Errno.EEXIST;
    const mode = mem.readU16(attr + BigInt(KOBJ_ATTRIBUTE.mode)) & 0o777;
    const show = mem.readU64(attr + BigInt(KOBJ_ATTRIBUTE.show));
    const store = mem.readU64(attr + BigInt(KOBJ_ATTRIBUTE.store));
    this.k.vfs.createFile(path, {
      mode,
      ...(show ? { show: () => this.show(show, kobj, attr) } : {}),
      ...(store ? { store: (v: string) => this.store(store, kobj, attr, v) } : {}),
    });
    return 0;
  }

  /** sysfs_kf_seq_show(): show(kobj, attr, buf) → the text, or -errno. */
  private show(fn: bigint, kobj: bigint, attr: bigint): string | number {
    const buf = this.buffer();
    const ret = Number(BigInt.asIntN(64, this.k.callGuest(fn, [kobj, attr, buf])));
    if (ret < 0) return ret;
    return this.k.machine.mem.read(buf, Math.min(ret, PAGE_SIZE - 1)).toString('latin1');
  }

  /** sysfs_kf_write(): store(kobj, attr, buf, count) → bytes consumed or -errno. */
  private store(fn: bigint, kobj: bigint, attr: bigint, value: string): number {
    const buf = this.buffer();
    const bytes = Buffer.from(value.slice(0, PAGE_SIZE - 1), 'latin1');
    this.k.machine.mem.write(buf, bytes);
    return Number(BigInt.asIntN(64, this.k.callGuest(fn, [kobj, attr, buf, BigInt(bytes.length)])));
  }
}
