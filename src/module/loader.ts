// loader.ts - kernel/module/main.c: load_module, free_module, the module list, /sys/module
//
// Everything a load computes (layout, symbols, relocations, .klp.rela for
// vmlinux) is staged in a host buffer first; guest memory, kallsyms, the text
// ranges and sysfs change only once nothing can fail any more, so a rejected
// module leaves the machine byte for byte as it was. Only the module's init
// (guest code) runs after the module went live; a failing init is undone by
// freeing the module the same way rmmod does.

import { readFileSync } from 'node:fs';
import type { Kernel } from '../kernel/kernel.ts';
import type { KSym } from '../kernel/kallsyms.ts';
import { Errno } from '../kernel/errno.ts';
import { LogLevel } from '../kernel/printk.ts';
import { addTaint, testTaint } from '../kernel/panic.ts';
import { EmuError } from '../../emu/errors.ts';
import {
  readElf, readRelas, SHF_ALLOC, SHF_EXECINSTR, SHF_RELA_LIVEPATCH, SHT_NOBITS, SHT_RELA, SHN_LIVEPATCH, SHN_UNDEF,
  STB_LOCAL, STT_FUNC, STT_OBJECT, SHN_ABS,
} from '../elf/index.ts';
import type { ElfFile, ElfSection } from '../elf/index.ts';
import { relocate } from './relocate.ts';
import { elfValidityCheck } from './elfValidity.ts';
import { moduleParams, paramGet, paramSet, parseArgs, type ModuleParam } from './params.ts';
import { MODULE, MODULE_NAME_LEN, ModuleState, Taint } from '../abi/layout.ts';

/** A loaded module. */
export interface Module {
  name: string;
  base: bigint;
  size: number;
  elf: ElfFile;
  /** Guest address of every allocated section (by section index). */
  secAddr: Map<number, bigint>;
  livepatch: boolean;
  refcnt: number;
  state: 'COMING' | 'LIVE' | 'GOING';
  init: bigint;
  exit: bigint;
  params: Map<string, ModuleParam>;
  symbols: KSym[];
  /** Its guest struct module (MODULE layout), for obj->mod in livepatch callbacks. */
  guest: bigint;
  /** EXPORT_SYMBOL names (its __ksymtab_strings). */
  exports: Set<string>;
  /** Modules whose exports it uses (target_list); each holds a reference on them. */
  uses: Set<string>;
  /** Modules using its exports (source_list): /sys/module/<name>/holders, lsmod's "Used by". */
  holders: Set<string>;
}

/** What livepatch hooks into module load/unload (klp_module_coming/going). */
export interface ModuleNotifier {
  coming(mod: Module): number;
  going(mod: Module): void;
}

const fail = (k: Kernel, msg: string, err: number): number => {
  if (msg) k.printk(LogLevel.ERR, msg);
  return err;
};

/** modinfo key=value strings. */
function modinfo(f: ElfFile): Map<string, string[]> {
  const s = f.sections.find((x) => x.name === '.modinfo');
  const out = new Map<string, string[]>();
  for (const kv of s ? s.data.toString('latin1').split('\0').filter(Boolean) : []) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    (out.get(k) ?? out.set(k, []).get(k)!).push(i < 0 ? '' : kv.slice(i + 1));
  }
  return out;
}

/** ftrace's part in module load/unload (ftrace_module_init / ftrace_release_mod). */
export interface ModuleFtrace {
  ftraceModuleInit(locs: bigint[]): void;
  ftraceReleaseMod(lo: bigint, hi: bigint): void;
}

export class ModuleLoader {
  readonly modules = new Map<string, Module>();
  notifier: ModuleNotifier | undefined;
  ftrace: ModuleFtrace | undefined;

  constructor(readonly k: Kernel) {
    k.vfs.createDir('/sys/module');
  }

  /** insmod FILE [name=value ...]: 0 or -errno (the kernel's messages are in dmesg). */
  insmod(path: string, params: string[]): number {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return -Errno.ENOENT;
    }
    return this.loadModule(bytes, params);
  }

  /** load_module(): parse, check, lay out, link, go live, run init. */
  loadModule(bytes: Uint8Array, params: string[] = []): number {
    const invalid = elfValidityCheck(bytes);
    if (invalid) return fail(this.k, invalid, -Errno.ENOEXEC);
    let f: ElfFile;
    try {
      f = readElf(bytes);
    } catch (e) {
      return fail(this.k, `module: ${(e as EmuError).message}`, -Errno.ENOEXEC);
    }
    const info = modinfo(f);
    const name = info.get('name')?.[0];
    if (!name) return fail(this.k, 'module has no name (.modinfo name=)', -Errno.ENOEXEC);
    if (this.modules.has(name)) return -Errno.EEXIST;
    const staged = this.stage(f, name, info);
    if (typeof staged === 'number') return staged;
    this.taint(name, info);
    const mod = this.commit(staged);
    const params_ = parseArgs(this.k, mod.name, mod.params, params);
    if (params_ < 0) {
      this.free(mod);
      return params_;
    }
    const coming = this.notifier?.coming(mod) ?? 0;
    if (coming < 0) {
      this.free(mod);
      return coming;
    }
    return this.doInit(mod);
  }

  /**
   * module_augment_kernel_taints / check_modinfo_livepatch: the bits go into
   * the guest's tainted_mask (kernel-image/panic.S), which die() prints.
   */
  private taint(name: string, info: Map<string, string[]>): void {
    if (!info.get('intree')) {
      if (!testTaint(this.k, Taint.OOT_MODULE)) this.k.printk(LogLevel.WARNING, `${name}: loading out-of-tree module taints kernel.`);
      addTaint(this.k, Taint.OOT_MODULE);
    }
    if (info.get('livepatch')?.[0] === 'Y') {
      // pr_notice_once: the first livepatch module says it
      if (!testTaint(this.k, Taint.LIVEPATCH)) this.k.printk(LogLevel.WARNING, `${name}: tainting kernel with TAINT_LIVEPATCH`);
      addTaint(this.k, Taint.LIVEPATCH);
    }
  }

  /** Everything that can fail, on host copies only. */
  private stage(f: ElfFile, name: string, info: Map<string, string[]>): Staged | number {
    const layout = layoutSections(f);
    let base: bigint;
    try {
      base = this.k.moduleArea.alloc(layout.size, 4096n);
    } catch {
      return fail(this.k, `${name}: module_alloc failed`, -Errno.ENOMEM);
    }
    const image = new Uint8Array(layout.size);
    const secAddr = new Map<number, bigint>();
    for (const [idx, off] of layout.offsets) {
      secAddr.set(idx, base + BigInt(off));
      const s = f.sections[idx]!;
      if (s.type !== SHT_NOBITS) image.set(s.data, off);
    }
    const exports = exportedNames(f);
    const dup = this.verifyExportedSymbols(name, exports);
    const uses = new Set<string>();
    const ret = dup < 0 ? dup : this.link(f, name, info, base, image, secAddr, uses);
    if (ret < 0) {
      this.k.moduleArea.release(base);
      return ret;
    }
    return { f, name, info, base, image, secAddr, exports, uses };
  }

  /**
   * find_symbol(): an exported symbol of vmlinux, else of a live module
   * (a module still COMING or already GOING does not resolve here).
   */
  private findSymbol(sym: string): { addr: bigint; owner?: Module } | undefined {
    if (this.k.image.exported.has(sym)) {
      const ks = this.k.kallsyms.lookupAll(sym, 'vmlinux')[0];
      return ks ? { addr: ks.addr } : undefined;
    }
    for (const m of this.modules.values()) {
      if (m.state !== 'LIVE' || !m.exports.has(sym)) continue;
      const ks = m.symbols.find((x) => x.name === sym && x.global);
      if (ks) return { addr: ks.addr, owner: m };
    }
    return undefined;
  }

  /** verify_exported_symbols(): a module may not export a name vmlinux or a loaded module exports. */
  private verifyExportedSymbols(name: string, exports: Set<string>): number {
    for (const e of exports) {
      const owner = this.k.image.exported.has(e) ? 'kernel' : [...this.modules.values()].find((m) => m.exports.has(e))?.name;
      if (owner) return fail(this.k, `${name}: exports duplicate symbol ${e} (owned by ${owner})`, -Errno.ENOEXEC);
    }
    return 0;
  }

  /** simplify_symbols + apply_relocations (+ .klp.rela.vmlinux.* for a livepatch module). */
  private link(f: ElfFile, name: string, info: Map<string, string[]>, base: bigint, image: Uint8Array, secAddr: Map<number, bigint>, uses: Set<string>): number {
    const values: bigint[] = [];
    for (const s of f.symbols) {
      if (s.index === 0) {
        values.push(0n);
        continue;
      }
      if (s.shndx === SHN_UNDEF) {
        const found = this.findSymbol(s.name);
        if (!found) return fail(this.k, `${name}: Unknown symbol ${s.name} (err -2)`, -Errno.ENOENT);
        if (found.owner) uses.add(found.owner.name);
        values.push(found.addr);
      } else if (s.shndx === SHN_LIVEPATCH) {
        if (info.get('livepatch')?.[0] !== 'Y') return fail(this.k, `${name}: module is not marked as a livepatch module`, -Errno.ENOEXEC);
        values.push(0n);
      } else if (s.shndx === SHN_ABS) values.push(s.value);
      else values.push((secAddr.get(s.shndx) ?? 0n) + s.value);
    }
    for (const sec of f.sections) {
      if (sec.type !== SHT_RELA || !secAddr.has(sec.info)) continue;
      const isKlp = (sec.flags & SHF_RELA_LIVEPATCH) !== 0;
      if (isKlp && !sec.name.startsWith('.klp.rela.vmlinux.')) continue;
      const ret = relocate(this.k, f, sec, name, image, secAddr, base, values, isKlp);
      if (ret < 0) return ret;
    }
    return 0;
  }

  /** The module goes into guest memory, kallsyms, text ranges and sysfs. */
  private commit(st: Staged): Module {
    const { f, name, base, image, secAddr } = st;
    this.k.machine.mem.write(base, image);
    const symbols = moduleSymbols(f, name, secAddr);
    for (const s of symbols) this.k.kallsyms.add(s);
    for (const [idx, addr] of secAddr) {
      const s = f.sections[idx]!;
      if (s.flags & SHF_EXECINSTR) this.k.textRanges.push({ lo: addr, hi: addr + BigInt(s.size), owner: name });
    }
    const sym = (n: string): bigint => symbols.find((s) => s.name === n)?.addr ?? 0n;
    const mod: Module = {
      name, base, size: image.length, elf: f, secAddr, livepatch: st.info.get('livepatch')?.[0] === 'Y', refcnt: 0,
      state: 'COMING', init: sym('init_module'), exit: sym('cleanup_module'), params: moduleParams(this.k.machine.mem, st.info.get('parmtype') ?? [], sym),
      symbols, guest: this.guestModule(name), exports: st.exports, uses: st.uses, holders: new Set(),
    };
    this.modules.set(name, mod);
    this.sysfs(mod);
    // ref_module(): each used module gains a holder and a reference.
    for (const u of mod.uses) {
      const target = this.modules.get(u)!;
      target.refcnt++;
      target.holders.add(name);
      this.k.vfs.createDir(`/sys/module/${u}/holders/${name}`);
    }
    this.ftrace?.ftraceModuleInit(mcountLocs(f, this.k, secAddr));
    return mod;
  }

  /** A guest struct module: state and name (MODULE in layout.ts). */
  private guestModule(name: string): bigint {
    const at = this.k.vmalloc.alloc(MODULE.SIZE, 16n);
    const mem = this.k.machine.mem;
    mem.write(at, new Uint8Array(MODULE.SIZE));
    mem.write(at + BigInt(MODULE.name), Buffer.from(name.slice(0, MODULE_NAME_LEN - 1), 'latin1'));
    mem.writeU32(at + BigInt(MODULE.state), ModuleState.COMING);
    return at;
  }

  /** mod->state, in the host and in guest memory. */
  private setState(mod: Module, state: Module['state']): void {
    mod.state = state;
    this.k.machine.mem.writeU32(mod.guest + BigInt(MODULE.state), ModuleState[state]);
  }

  /** The guest struct module of a loaded module, or 0. */
  moduleStruct(name: string): bigint {
    return this.modules.get(name)?.guest ?? 0n;
  }

  private sysfs(mod: Module): void {
    const dir = `/sys/module/${mod.name}`;
    const vfs = this.k.vfs;
    vfs.createDir(dir);
    vfs.createFile(`${dir}/refcnt`, { mode: 0o444, show: () => `${mod.refcnt}\n` });
    vfs.createFile(`${dir}/initstate`, { mode: 0o444, show: () => `${mod.state.toLowerCase()}\n` });
    vfs.createDir(`${dir}/holders`);
    for (const [p, par] of mod.params) {
      if (!par.perm) continue;
      vfs.createFile(`${dir}/parameters/${p}`, {
        mode: par.perm,
        show: () => `${paramGet(this.k.machine.mem, par)}\n`,
        store: (v) => {
          const ret = paramSet(this.k, par, v.replace(/\n$/, ''));
          return ret < 0 ? ret : v.length;
        },
      });
    }
  }

  /** do_init_module(): run init as guest code; failure frees the module. */
  private doInit(mod: Module): number {
    let ret = 0;
    if (mod.init) ret = Number(BigInt.asIntN(32, this.k.callGuest(mod.init, [])));
    if (ret < 0) {
      this.setState(mod, 'GOING');
      this.notifier?.going(mod);
      this.free(mod);
      return ret;
    }
    if (ret > 0) this.k.printk(LogLevel.WARNING, `${mod.name}: '${mod.name}'->init suspiciously returned ${ret}, it should follow 0/-E convention`);
    this.setState(mod, 'LIVE');
    return 0;
  }

  /** delete_module(2). */
  rmmod(name: string): number {
    const mod = this.modules.get(name);
    if (!mod) return -Errno.ENOENT;
    // Other modules depend on us: get rid of them first.
    if (mod.holders.size > 0) return -Errno.EAGAIN; // EWOULDBLOCK
    if (mod.refcnt > 0) return -Errno.EBUSY;
    this.setState(mod, 'GOING');
    if (mod.exit) this.k.callGuest(mod.exit, []);
    this.notifier?.going(mod);
    this.free(mod);
    return 0;
  }

  /** free_module(): memory back to zeros, symbols, text ranges and sysfs gone. */
  private free(mod: Module): void {
    // module_unload_free(): drop the references on the modules it used.
    for (const u of mod.uses) {
      const target = this.modules.get(u);
      if (!target) continue;
      target.refcnt--;
      target.holders.delete(mod.name);
      this.k.vfs.removeTree(`/sys/module/${u}/holders/${mod.name}`);
    }
    this.ftrace?.ftraceReleaseMod(mod.base, mod.base + BigInt(mod.size));
    this.k.machine.mem.write(mod.base, new Uint8Array(mod.size));
    this.k.machine.syncCore(mod.base, mod.base + BigInt(mod.size));
    this.k.kallsyms.removeObject(mod.name);
    for (let i = this.k.textRanges.length - 1; i >= 0; i--) if (this.k.textRanges[i]!.owner === mod.name) this.k.textRanges.splice(i, 1);
    this.k.vfs.removeTree(`/sys/module/${mod.name}`);
    this.k.moduleArea.release(mod.base);
    this.k.vmalloc.release(mod.guest);
    this.modules.delete(mod.name);
  }

  list(): { name: string; size: number; refcnt: number; holders: string[] }[] {
    return [...this.modules.values()].reverse().map((m) => ({ name: m.name, size: m.size, refcnt: m.refcnt, holders: [...m.holders] }));
  }

  // ---- livepatch's view (ModuleApi) ------------------------------------

  moduleOf(addr: bigint): { name: string; livepatch: boolean } | undefined {
    for (const m of this.modules.values()) if (addr >= m.base && addr < m.base + BigInt(m.size)) return { name: m.name, livepatch: m.livepatch };
    return undefined;
  }

  isLoaded(name: string): boolean {
    const m = this.modules.get(name);
    return !!m && m.state !== 'GOING';
  }

  tryModuleGet(name: string): boolean {
    const m = this.modules.get(name);
    if (!m || m.state === 'GOING') return false;
    m.refcnt++;
    return true;
  }

  modulePut(name: string): void {
    const m = this.modules.get(name);
    if (m && m.refcnt > 0) m.refcnt--;
  }

  /** clear_relocate_add(): zero the fields of .klp.rela.<objName>.* so a reload can apply them again. */
  clearKlpRelocs(lpMod: string, objName: string): void {
    const mod = this.modules.get(lpMod);
    if (!mod) return;
    for (const sec of mod.elf.sections) {
      if (sec.type !== SHT_RELA || !(sec.flags & SHF_RELA_LIVEPATCH) || !sec.name.startsWith(`.klp.rela.${objName}.`)) continue;
      const tbase = mod.secAddr.get(sec.info);
      if (tbase === undefined) continue;
      for (const r of readRelas(mod.elf, sec)) this.k.machine.mem.write(tbase + r.offset, new Uint8Array(r.type === 1 ? 8 : 4));
    }
  }

  /** .klp.rela.<objName>.* of livepatch module `lpMod`, now that `objName` is loaded. */
  applyKlpRelocs(lpMod: string, objName: string): number {
    const mod = this.modules.get(lpMod);
    if (!mod) return -Errno.EINVAL;
    const image = this.k.machine.mem.read(mod.base, mod.size);
    const staged = Uint8Array.from(image);
    const values = mod.elf.symbols.map((s) => (s.shndx === SHN_UNDEF || s.shndx === SHN_LIVEPATCH || s.index === 0 ? 0n : s.shndx === SHN_ABS ? s.value : (mod.secAddr.get(s.shndx) ?? 0n) + s.value));
    for (const sec of mod.elf.sections) {
      if (sec.type !== SHT_RELA || !(sec.flags & SHF_RELA_LIVEPATCH) || !sec.name.startsWith(`.klp.rela.${objName}.`)) continue;
      const ret = relocate(this.k, mod.elf, sec, lpMod, staged, mod.secAddr, mod.base, values, true);
      if (ret < 0) return ret;
    }
    this.k.machine.mem.write(mod.base, staged);
    return 0;
  }
}

interface Staged {
  f: ElfFile;
  name: string;
  info: Map<string, string[]>;
  base: bigint;
  image: Uint8Array;
  secAddr: Map<number, bigint>;
  exports: Set<string>;
  uses: Set<string>;
}

/** EXPORT_SYMBOL names of a module file (__ksymtab_strings). */
function exportedNames(f: ElfFile): Set<string> {
  const s = f.sections.find((x) => x.name === '__ksymtab_strings');
  return new Set(s ? s.data.toString('latin1').split('\0').filter(Boolean) : []);
}

/** layout_sections(): every SHF_ALLOC section except relocation sections, text first. */
function layoutSections(f: ElfFile): { size: number; offsets: Map<number, number> } {
  const alloc = f.sections.filter((s) => s.flags & SHF_ALLOC && s.type !== SHT_RELA && s.size > 0);
  alloc.sort((a, b) => Number((b.flags & SHF_EXECINSTR) !== 0) - Number((a.flags & SHF_EXECINSTR) !== 0) || a.index - b.index);
  let off = 0;
  const offsets = new Map<number, number>();
  for (const s of alloc) {
    const a = Math.max(1, s.align);
    off = Math.ceil(off / a) * a;
    offsets.set(s.index, off);
    off += s.size;
  }
  return { size: Math.max(off, 1), offsets };
}

/** The relocated __mcount_loc entries of a just-committed module. */
function mcountLocs(f: ElfFile, k: Kernel, secAddr: Map<number, bigint>): bigint[] {
  const s = f.sections.find((x) => x.name === '__mcount_loc');
  const at = s ? secAddr.get(s.index) : undefined;
  if (!s || at === undefined) return [];
  const out: bigint[] = [];
  for (let o = 0; o + 8 <= s.size; o += 8) out.push(k.machine.mem.readU64(at + BigInt(o)));
  return out;
}

/** The module's function and object symbols for kallsyms (obj = module name). */
function moduleSymbols(f: ElfFile, name: string, secAddr: Map<number, bigint>): KSym[] {
  const out: KSym[] = [];
  for (const s of f.symbols) {
    if (s.type !== STT_FUNC && s.type !== STT_OBJECT) continue;
    if (!secAddr.has(s.shndx)) continue;
    out.push({ name: s.name, addr: secAddr.get(s.shndx)! + s.value, size: s.size, type: s.type === STT_FUNC ? 'func' : 'object', global: s.bind !== STB_LOCAL, obj: name });
  }
  return out;
}

export type { ElfSection };
