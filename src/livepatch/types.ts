// types.ts - livepatch structures (include/linux/livepatch.h), read and written in guest memory

import type { GuestMemory } from '../../emu/machine/index.ts';
import { KLP_FUNC, KLP_OBJECT, KLP_PATCH, KlpState } from '../abi/layout.ts';

export { KlpState };
/** The kernel's later names for the same values. */
export const KLP_TRANSITION_IDLE = KlpState.UNDEFINED;
export const KLP_TRANSITION_UNPATCHED = KlpState.UNPATCHED;
export const KLP_TRANSITION_PATCHED = KlpState.PATCHED;

const A = (base: bigint, off: number): bigint => base + BigInt(off);

/**
 * struct klp_func in guest memory. The guest's klp_ftrace_handler reads
 * `transition`, `nop`, `new_func` and the stack_node links, so those live only
 * there. (patched, transition) go (0,0) → (0,1) → (1,1) → (1,0) when patching
 * and back in reverse when unpatching:
 *
 * | patched | transition | meaning |
 * |---|---|---|
 * | 0 | 0 | not patched |
 * | 0 | 1 | in the ftrace stack; in transition to patched |
 * | 1 | 1 | in the ftrace stack; in transition to unpatched or still switching |
 * | 1 | 0 | patched, all tasks switched |
 */
export class KlpFunc {
  /** Dynamic (nop) funcs are host-allocated; the name is kept here for them. */
  constructor(
    readonly mem: GuestMemory,
    readonly addr: bigint,
    readonly oldName: string,
    readonly oldSympos: number,
    readonly dynamic = false,
  ) {}

  get newFunc(): bigint { return this.mem.readU64(A(this.addr, KLP_FUNC.new_func)); }
  set newFunc(v: bigint) { this.mem.writeU64(A(this.addr, KLP_FUNC.new_func), v); }
  get oldFunc(): bigint { return this.mem.readU64(A(this.addr, KLP_FUNC.old_func)); }
  set oldFunc(v: bigint) { this.mem.writeU64(A(this.addr, KLP_FUNC.old_func), v); }
  get oldSize(): bigint { return this.mem.readU64(A(this.addr, KLP_FUNC.old_size)); }
  set oldSize(v: bigint) { this.mem.writeU64(A(this.addr, KLP_FUNC.old_size), v); }
  get newSize(): bigint { return this.mem.readU64(A(this.addr, KLP_FUNC.new_size)); }
  set newSize(v: bigint) { this.mem.writeU64(A(this.addr, KLP_FUNC.new_size), v); }
  get nop(): boolean { return this.mem.readU8(A(this.addr, KLP_FUNC.nop)) !== 0; }
  set nop(v: boolean) { this.mem.writeU8(A(this.addr, KLP_FUNC.nop), v ? 1 : 0); }
  get patched(): boolean { return this.mem.readU8(A(this.addr, KLP_FUNC.patched)) !== 0; }
  set patched(v: boolean) { this.mem.writeU8(A(this.addr, KLP_FUNC.patched), v ? 1 : 0); }
  get transition(): boolean { return this.mem.readU8(A(this.addr, KLP_FUNC.transition)) !== 0; }
  set transition(v: boolean) { this.mem.writeU8(A(this.addr, KLP_FUNC.transition), v ? 1 : 0); }
  /** Address of the stack_node list_head (the guest walks these). */
  get stackNode(): bigint { return A(this.addr, KLP_FUNC.stack_node); }

  /** sysfs name: `<function,sympos>` with sympos 0 shown as 1. */
  get sysfsName(): string {
    return `${this.oldName},${this.oldSympos === 0 ? 1 : this.oldSympos}`;
  }
}

/** struct klp_object: `name` undefined means vmlinux. */
export class KlpObject {
  readonly funcs: KlpFunc[] = [];
  /** Loaded module (or vmlinux) this object patches, when present. */
  loaded = false;
  /** Per callbacks rules (core.h): post_unpatch only runs if pre_patch succeeded. */
  postUnpatchEnabled = false;

  constructor(readonly mem: GuestMemory, readonly addr: bigint, readonly name: string | undefined, readonly dynamic = false) {}

  get displayName(): string { return this.name ?? 'vmlinux'; }
  callback(which: 'pre_patch' | 'post_patch' | 'pre_unpatch' | 'post_unpatch'): bigint {
    return this.dynamic ? 0n : this.mem.readU64(A(this.addr, KLP_OBJECT[which]));
  }
  /** obj->mod: the guest struct module while the object's module is loaded. */
  get mod(): bigint { return this.mem.readU64(A(this.addr, KLP_OBJECT.mod)); }
  set mod(v: bigint) { this.mem.writeU64(A(this.addr, KLP_OBJECT.mod), v); }
  get patched(): boolean { return this.mem.readU8(A(this.addr, KLP_OBJECT.patched)) !== 0; }
  set patched(v: boolean) { this.mem.writeU8(A(this.addr, KLP_OBJECT.patched), v ? 1 : 0); }
}

/** struct klp_patch; `modName` is patch->mod->name, the name every message uses. */
export class KlpPatch {
  readonly objs: KlpObject[] = [];
  forced = false;

  constructor(readonly mem: GuestMemory, readonly addr: bigint, readonly modName: string) {}

  get replace(): boolean { return this.mem.readU8(A(this.addr, KLP_PATCH.replace)) !== 0; }
  get enabled(): boolean { return this.mem.readU8(A(this.addr, KLP_PATCH.enabled)) !== 0; }
  set enabled(v: boolean) { this.mem.writeU8(A(this.addr, KLP_PATCH.enabled), v ? 1 : 0); }
  get statesAddr(): bigint { return this.mem.readU64(A(this.addr, KLP_PATCH.states)); }
}

/** klp_for_each_object / klp_for_each_func as generators. */
export function* forEachObject(patch: KlpPatch): Generator<KlpObject> {
  yield* patch.objs;
}

export function* forEachFunc(obj: KlpObject): Generator<KlpFunc> {
  yield* obj.funcs;
}
