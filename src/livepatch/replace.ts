// replace.ts - atomic replace: nop funcs and dynamic objects, replaced patches (kernel/livepatch/core.c)

import type { Livepatch } from './core.ts';
import { KlpFunc, KlpObject, type KlpPatch } from './types.ts';
import { klpUnpatchObjectLocked } from './patch.ts';
import { KLP_FUNC, KLP_OBJECT } from '../abi/layout.ts';

const samePos = (a: number, b: number): boolean => (a === 0 ? 1 : a) === (b === 0 ? 1 : b);

function findObject(patch: KlpPatch, old: KlpObject): KlpObject | undefined {
  return patch.objs.find((o) => o.name === old.name);
}

function findFunc(obj: KlpObject, old: KlpFunc): KlpFunc | undefined {
  return obj.funcs.find((f) => f.oldName === old.oldName && samePos(f.oldSympos, old.oldSympos));
}

function allocZeroed(lp: Livepatch, size: number): bigint {
  const a = lp.vmalloc.alloc(size);
  lp.mem.write(a, new Uint8Array(size));
  return a;
}

/**
 * klp_add_nops(): for every func of every patch in use that the new replace
 * patch lacks, add a nop func (it runs the original code), inside the new
 * patch's matching object or a new dynamic object.
 */
export function klpAddNops(lp: Livepatch, patch: KlpPatch): number {
  for (const old of lp.patches) {
    for (const oldObj of old.objs) {
      let obj = findObject(patch, oldObj);
      if (!obj) {
        obj = new KlpObject(lp.mem, allocZeroed(lp, KLP_OBJECT.SIZE), oldObj.name, true);
        patch.objs.push(obj);
      }
      for (const oldFunc of oldObj.funcs) {
        if (findFunc(obj, oldFunc)) continue;
        const f = new KlpFunc(lp.mem, allocZeroed(lp, KLP_FUNC.SIZE), oldFunc.oldName, oldFunc.oldSympos, true);
        f.nop = true;
        obj.funcs.push(f);
        lp.registerFunc(f);
      }
    }
  }
  return 0;
}

/** klp_unpatch_replaced_patches(): older patches go away without callbacks or messages. */
export function klpUnpatchReplacedPatches(lp: Livepatch, newPatch: KlpPatch): void {
  for (const old of lp.patches) {
    if (old === newPatch) continue;
    old.enabled = false;
    lp.klpUnpatchObjects(old);
  }
}

/** klp_discard_nops(): drop the nops and dynamic objects once the replace is complete. */
export function klpDiscardNops(lp: Livepatch, patch: KlpPatch): void {
  for (const obj of [...patch.objs]) {
    klpUnpatchObjectLocked(lp, obj, true);
    const nops = obj.funcs.filter((f) => f.nop);
    for (const f of nops) {
      obj.funcs.splice(obj.funcs.indexOf(f), 1);
      lp.vfs.removeTree(`/sys/kernel/livepatch/${patch.modName}/${obj.displayName}/${f.sysfsName}`);
      lp.vmalloc.release(f.addr);
    }
    if (obj.dynamic) {
      patch.objs.splice(patch.objs.indexOf(obj), 1);
      lp.vfs.removeTree(`/sys/kernel/livepatch/${patch.modName}/${obj.displayName}`);
      lp.vmalloc.release(obj.addr);
    }
  }
}
