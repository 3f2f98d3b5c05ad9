// core.ts - livepatch registry, init, enable/disable, free, sysfs (kernel/livepatch/core.c)

import type { GuestMemory, Vcpu } from '../../emu/machine/index.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { RangeAllocator } from '../kernel/vmalloc.ts';
import type { VirtualFs } from '../kernel/sysfs.ts';
import { LogLevel } from '../kernel/printk.ts';
import { Errno } from '../kernel/errno.ts';
import { KLP_FUNC, KLP_OBJECT, KLP_PATCH, KlpState } from '../abi/layout.ts';
import { KlpFunc, KlpObject, KlpPatch } from './types.ts';
import { klpPatchObject, klpUnpatchObject, type KlpOps } from './patch.ts';
import { Transition } from './transition.ts';
import { klpAddNops } from './replace.ts';
import { klpIsPatchCompatible } from './state.ts';
import { listAddRcu, listDelRcu } from './list.ts';
import { createPatchSysfs } from './sysfs.ts';

/** What livepatch needs from ftrace (kernel/trace/ftrace.c API); ops live in guest memory. */
export interface FtraceApi {
  ftraceLocation(ip: bigint): bigint;
  ftraceSetFilterIp(ops: bigint, ip: bigint, remove: boolean, reset: boolean): number;
  registerFtraceFunction(ops: bigint): number;
  unregisterFtraceFunction(ops: bigint): number;
}

/** What livepatch needs from the module loader. */
export interface ModuleApi {
  /** The loaded module whose memory contains `addr`. */
  moduleOf(addr: bigint): { name: string; livepatch: boolean } | undefined;
  /** The guest struct module (MODULE) of a loaded module, or 0 (klp_object.mod). */
  moduleStruct(name: string): bigint;
  isLoaded(name: string): boolean;
  tryModuleGet(name: string): boolean;
  modulePut(name: string): void;
  /** Apply `.klp.rela.<objName>.*` of livepatch module `lpMod` (0 or -errno). */
  applyKlpRelocs(lpMod: string, objName: string): number;
}

const KSYM_NAME_LEN = 512;
const CALLBACKS = ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch'] as const;
export type CallbackName = (typeof CALLBACKS)[number];

/**
 * The livepatch subsystem of one kernel. `patches` is klp_patches: the
 * patches in use (enabled or in transition), in load order.
 */
export class Livepatch {
  readonly patches: KlpPatch[] = [];
  readonly ops: KlpOps[] = [];
  readonly transition: Transition;
  private readonly funcs = new Map<bigint, KlpFunc>();
  /** Messages pr_debug'ed from these functions are hidden, as the selftests configure dynamic debug. */
  readonly debugOff = new Set<string>(['klp_try_switch_task']);
  /** WARN_ON()s hit: a broken invariant, reported like the kernel's WARNING lines. */
  readonly warnings: string[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly ftrace: FtraceApi,
    readonly modules: ModuleApi,
    readonly vmalloc: RangeAllocator,
    readonly vfs: VirtualFs,
  ) {
    this.transition = new Transition(this);
    vfs.createDir('/sys/kernel/livepatch');
  }

  get mem(): GuestMemory {
    return this.kernel.machine.mem;
  }

  prNotice(msg: string): void { this.kernel.printk(LogLevel.NOTICE, `livepatch: ${msg}`); }
  prWarn(msg: string): void { this.kernel.printk(LogLevel.WARNING, `livepatch: ${msg}`); }
  prErr(msg: string): void { this.kernel.printk(LogLevel.ERR, `livepatch: ${msg}`); }
  prDebug(fn: string, msg: string): void {
    if (!this.debugOff.has(fn)) this.kernel.printk(LogLevel.DEBUG, `livepatch: ${msg}`);
  }

  /** WARN_ON(cond): record a simulated WARNING and return cond. */
  warnOn(cond: boolean, what: string): boolean {
    if (cond) {
      this.warnings.push(what);
      this.kernel.printk(LogLevel.WARNING, `WARNING: kernel/livepatch: ${what}`);
    }
    return cond;
  }

  funcByAddr(addr: bigint): KlpFunc {
    const f = this.funcs.get(addr);
    if (!f) throw new Error(`livepatch: unknown klp_func at 0x${addr.toString(16)}`);
    return f;
  }

  registerFunc(f: KlpFunc): void {
    this.funcs.set(f.addr, f);
  }

  findPatch(name: string): KlpPatch | undefined {
    return this.patches.find((p) => p.modName === name);
  }

  /** Run an object callback in the guest; returns its int result (0 if absent). */
  callback(obj: KlpObject, which: CallbackName, vcpu?: Vcpu): number {
    const fn = obj.callback(which);
    if (fn === 0n) return 0;
    const ret = this.kernel.callGuest(fn, [obj.addr], vcpu);
    return Number(BigInt.asIntN(32, ret));
  }

  /**
   * list_add_tail(&patch->list, &klp_patches): `patches` and the guest list
   * (KLP_PATCH.list on `klp_patches`, walked by klp_get_prev_state) change
   * together.
   */
  private klpPatchesAdd(patch: KlpPatch): void {
    const head = this.kernel.sym('klp_patches');
    listAddRcu(this.mem, patch.addr + BigInt(KLP_PATCH.list), this.mem.readU64(head + 8n));
    this.patches.push(patch);
  }

  /** list_del(&patch->list). */
  private klpPatchesDel(patch: KlpPatch): void {
    const i = this.patches.indexOf(patch);
    if (i < 0) return;
    this.patches.splice(i, 1);
    listDelRcu(this.mem, patch.addr + BigInt(KLP_PATCH.list));
  }

  // ---- klp_enable_patch ---------------------------------------------------

  /**
   * klp_enable_patch(): called from the livepatch module's init through the
   * KLP_ENABLE_PATCH hypercall. Returns 0 or -errno (the module init's result).
   */
  klpEnablePatch(patchAddr: bigint, vcpu?: Vcpu): number {
    const mod = patchAddr !== 0n && this.mem.isMapped(patchAddr, KLP_PATCH.SIZE) ? this.modules.moduleOf(patchAddr) : undefined;
    if (!mod) return -Errno.EINVAL;
    if (!mod.livepatch) {
      this.prErr(`module ${mod.name} is not marked as a livepatch module`);
      return -Errno.EINVAL;
    }
    const patch = new KlpPatch(this.mem, patchAddr, mod.name);
    if (!klpIsPatchCompatible(this, patch)) {
      this.prErr(`Livepatch patch (${patch.modName}) is not compatible with the already installed livepatches.`);
      return -Errno.EINVAL;
    }
    const early = this.klpInitPatchEarly(patch);
    if (early) return early;
    if (!this.modules.tryModuleGet(patch.modName)) return -Errno.ENODEV;
    let ret = this.klpInitPatch(patch);
    if (ret) {
      this.klpFreePatch(patch);
      return ret;
    }
    ret = this.klpEnablePatchLocked(patch, vcpu);
    if (ret) this.klpFreePatch(patch);
    return ret;
  }

  /** klp_init_patch_early(): read the static structures and check them. */
  private klpInitPatchEarly(patch: KlpPatch): number {
    const mem = this.mem;
    let objAddr = mem.readU64(patch.addr + BigInt(KLP_PATCH.objs));
    if (objAddr === 0n) return -Errno.EINVAL;
    for (let i = 0; i < 64; i++, objAddr += BigInt(KLP_OBJECT.SIZE)) {
      const nameP = mem.readU64(objAddr + BigInt(KLP_OBJECT.name));
      const funcsP = mem.readU64(objAddr + BigInt(KLP_OBJECT.funcs));
      if (nameP === 0n && funcsP === 0n) return patch.objs.length ? 0 : -Errno.EINVAL;
      if (funcsP === 0n) return -Errno.EINVAL;
      const obj = new KlpObject(mem, objAddr, nameP === 0n ? undefined : mem.readCString(nameP, 56));
      const ret = this.readFuncs(obj, funcsP);
      if (ret) return ret;
      patch.objs.push(obj);
    }
    return -Errno.EINVAL;
  }

  private readFuncs(obj: KlpObject, funcsP: bigint): number {
    const mem = this.mem;
    for (let f = funcsP; ; f += BigInt(KLP_FUNC.SIZE)) {
      const nameP = mem.readU64(f + BigInt(KLP_FUNC.old_name));
      const newFunc = mem.readU64(f + BigInt(KLP_FUNC.new_func));
      const sympos = mem.readU64(f + BigInt(KLP_FUNC.old_sympos));
      if (nameP === 0n && newFunc === 0n && sympos === 0n) return 0;
      if (nameP === 0n || newFunc === 0n) return -Errno.EINVAL;
      const name = mem.readCString(nameP, KSYM_NAME_LEN + 1);
      if (name.length >= KSYM_NAME_LEN) return -Errno.EINVAL;
      const func = new KlpFunc(mem, f, name, Number(sympos));
      obj.funcs.push(func);
      this.registerFunc(func);
      if (obj.funcs.length > 4096) return -Errno.EINVAL;
    }
  }

  /** klp_init_patch(): sysfs, nops for replace, objects; then joins klp_patches. */
  private klpInitPatch(patch: KlpPatch): number {
    createPatchSysfs(this, patch);
    if (patch.replace) {
      const ret = klpAddNops(this, patch);
      if (ret) return ret;
    }
    for (const obj of patch.objs) {
      const ret = this.klpInitObject(patch, obj);
      if (ret) return ret;
    }
    this.klpPatchesAdd(patch);
    return 0;
  }

  /** klp_init_object(): sysfs dirs, then resolve funcs if the object is loaded. */
  klpInitObject(patch: KlpPatch, obj: KlpObject): number {
    obj.loaded = obj.name === undefined || this.modules.isLoaded(obj.name);
    if (obj.name !== undefined && obj.loaded) obj.mod = this.modules.moduleStruct(obj.name);
    createPatchSysfs(this, patch, obj);
    return obj.loaded ? this.klpInitObjectLoaded(patch, obj) : 0;
  }

  /** klp_init_object_loaded(): module relocations, old_func/old_size/new_size. */
  klpInitObjectLoaded(patch: KlpPatch, obj: KlpObject): number {
    if (obj.name !== undefined) {
      const ret = this.modules.applyKlpRelocs(patch.modName, obj.name);
      if (ret) return ret;
    }
    for (const func of obj.funcs) {
      const ret = this.klpInitFuncLoaded(patch, obj, func);
      if (ret) return ret;
    }
    return 0;
  }

  private klpInitFuncLoaded(patch: KlpPatch, obj: KlpObject, func: KlpFunc): number {
    const objName = obj.name ?? 'vmlinux';
    const found = this.klpFindObjectSymbol(objName, func.oldName, func.oldSympos);
    if (typeof found === 'number') return found;
    func.oldFunc = found.addr;
    if (found.size === 0) {
      this.prErr(`kallsyms size lookup failed for '${func.oldName}'`);
      return -Errno.ENOENT;
    }
    func.oldSize = BigInt(found.size);
    if (func.nop) func.newFunc = func.oldFunc;
    const repl = this.kernel.kallsyms.find(func.newFunc);
    if (!repl || repl.addr !== func.newFunc || repl.size === 0) {
      this.prErr(`kallsyms size lookup failed for '${func.oldName}' replacement`);
      return -Errno.ENOENT;
    }
    func.newSize = BigInt(repl.size);
    return 0;
  }

  /** klp_find_object_symbol() with the kernel's three errors. */
  klpFindObjectSymbol(objName: string, name: string, sympos: number): { addr: bigint; size: number } | number {
    const { sym, count } = this.kernel.kallsyms.lookupSympos(objName, name, sympos);
    if (sym) return { addr: sym.addr, size: sym.size };
    if (count === 0) this.prErr(`symbol '${name}' not found in symbol table`);
    else if (sympos === 0) this.prErr(`unresolvable ambiguity for symbol '${name}' in object '${objName}'`);
    else this.prErr(`symbol position ${sympos} for symbol '${name}' in object '${objName}' not found`);
    return -Errno.EINVAL;
  }

  /** __klp_enable_patch(). */
  private klpEnablePatchLocked(patch: KlpPatch, vcpu?: Vcpu): number {
    if (this.transition.patch) return -Errno.EBUSY;
    if (this.warnOn(patch.enabled, 'patch->enabled')) return -Errno.EINVAL;
    this.prNotice(`enabling patch '${patch.modName}'`);
    this.transition.klpInitTransition(patch, KlpState.PATCHED);
    for (const obj of patch.objs) {
      if (!obj.loaded) continue;
      let ret = this.klpPrePatchCallback(obj, vcpu);
      if (ret) {
        this.prWarn(`pre-patch callback failed for object '${obj.displayName}'`);
        return this.enableFailed(patch, ret);
      }
      ret = klpPatchObject(this, obj);
      if (ret) {
        this.prWarn(`failed to patch object '${obj.displayName}'`);
        return this.enableFailed(patch, ret);
      }
    }
    this.transition.klpStartTransition();
    patch.enabled = true;
    this.transition.klpTryCompleteTransition();
    return 0;
  }

  /** klp_pre_patch_callback(): post_unpatch runs later only if this succeeded. */
  private klpPrePatchCallback(obj: KlpObject, vcpu?: Vcpu): number {
    const ret = this.callback(obj, 'pre_patch', vcpu);
    obj.postUnpatchEnabled = ret === 0;
    return ret;
  }

  private enableFailed(patch: KlpPatch, ret: number): number {
    this.prWarn(`failed to enable patch '${patch.modName}'`);
    this.transition.klpCancelTransition();
    return ret;
  }

  // ---- disable and free ---------------------------------------------------

  /** __klp_disable_patch(): echo 0 > enabled. */
  klpDisablePatchLocked(patch: KlpPatch): number {
    if (this.warnOn(!patch.enabled, '!patch->enabled')) return -Errno.EINVAL;
    if (this.transition.patch) return -Errno.EBUSY;
    this.transition.klpInitTransition(patch, KlpState.UNPATCHED);
    for (const obj of patch.objs) if (obj.patched) this.callback(obj, 'pre_unpatch');
    this.transition.klpStartTransition();
    patch.enabled = false;
    this.transition.klpTryCompleteTransition();
    return 0;
  }

  /** klp_free_patch_*(): leave klp_patches, drop sysfs and the module reference. */
  klpFreePatch(patch: KlpPatch): void {
    this.klpPatchesDel(patch);
    for (const obj of patch.objs) for (const f of obj.funcs) this.funcs.delete(f.addr);
    this.freeDynamic(patch);
    this.vfs.removeTree(`/sys/kernel/livepatch/${patch.modName}`);
    if (!patch.forced) this.modules.modulePut(patch.modName);
  }

  /** Release host-allocated nop funcs and dynamic objects. */
  freeDynamic(patch: KlpPatch): void {
    for (const obj of patch.objs) {
      for (const f of obj.funcs) if (f.dynamic) this.vmalloc.release(f.addr);
      if (obj.dynamic) this.vmalloc.release(obj.addr);
    }
  }

  /** klp_unpatch_objects() of a whole patch. */
  klpUnpatchObjects(patch: KlpPatch): void {
    for (const obj of patch.objs) if (obj.patched) klpUnpatchObject(this, obj);
  }
}
