// module.ts - klp_module_coming / klp_module_going (kernel/livepatch/core.c): patch modules as they load

import type { Livepatch } from './core.ts';
import type { KlpObject, KlpPatch } from './types.ts';
import { klpPatchObject, klpUnpatchObject } from './patch.ts';
import { Errno } from '../kernel/errno.ts';

/** What livepatch needs to undo a module object's .klp.rela relocations (clear_relocate_add). */
export interface KlpRelocClearer {
  clearKlpRelocs(lpMod: string, objName: string): void;
  moduleStruct(name: string): bigint;
}

function objectsFor(lp: Livepatch, modName: string): { patch: KlpPatch; obj: KlpObject }[] {
  const out: { patch: KlpPatch; obj: KlpObject }[] = [];
  for (const patch of lp.patches) for (const obj of patch.objs) if (obj.name === modName) out.push({ patch, obj });
  return out;
}

/** klp_free_object_loaded(): forget the addresses of a module object. */
function freeObjectLoaded(lp: Livepatch, patch: KlpPatch, obj: KlpObject, relocs: KlpRelocClearer): void {
  obj.loaded = false;
  obj.mod = 0n;
  relocs.clearKlpRelocs(patch.modName, obj.name!);
  for (const f of obj.funcs) if (!f.nop) f.oldFunc = 0n;
}

/**
 * klp_module_coming(): a module is about to run its init; every patch with an
 * object for it initialises and patches that object first. A failure refuses
 * the module (its load fails with the error).
 */
export function klpModuleComing(lp: Livepatch, modName: string, relocs: KlpRelocClearer): number {
  if (modName === 'vmlinux') {
    lp.prErr('vmlinux.ko: invalid module name');
    return -Errno.EINVAL;
  }
  const done: { patch: KlpPatch; obj: KlpObject }[] = [];
  for (const { patch, obj } of objectsFor(lp, modName)) {
    obj.loaded = true;
    obj.mod = relocs.moduleStruct(modName);
    let ret = lp.klpInitObjectLoaded(patch, obj);
    if (ret) {
      lp.prWarn(`failed to initialize patch '${patch.modName}' for module '${modName}' (${ret})`);
      return refuse(lp, patch, modName, [...done, { patch, obj }], relocs, ret);
    }
    lp.prNotice(`applying patch '${patch.modName}' to loading module '${modName}'`);
    ret = lp.callback(obj, 'pre_patch');
    obj.postUnpatchEnabled = ret === 0;
    if (ret) {
      lp.prWarn(`pre-patch callback failed for object '${obj.displayName}'`);
      return refuse(lp, patch, modName, [...done, { patch, obj }], relocs, ret);
    }
    ret = klpPatchObject(lp, obj);
    if (ret) {
      lp.prWarn(`failed to apply patch '${patch.modName}' to module '${modName}' (${ret})`);
      return refuse(lp, patch, modName, [...done, { patch, obj }], relocs, ret);
    }
    if (patch !== lp.transition.patch) lp.callback(obj, 'post_patch');
    done.push({ patch, obj });
  }
  return 0;
}

function refuse(lp: Livepatch, patch: KlpPatch, modName: string, undo: { patch: KlpPatch; obj: KlpObject }[], relocs: KlpRelocClearer, ret: number): number {
  lp.prWarn(`patch '${patch.modName}' failed for module '${modName}', refusing to load module '${modName}'`);
  for (const u of undo) {
    if (u.obj.patched) klpUnpatchObject(lp, u.obj);
    freeObjectLoaded(lp, u.patch, u.obj, relocs);
  }
  return ret;
}

/** klp_module_going(): after the module's exit, unpatch and forget its objects. */
export function klpModuleGoing(lp: Livepatch, modName: string, relocs: KlpRelocClearer): void {
  for (const { patch, obj } of objectsFor(lp, modName)) {
    if (!obj.loaded) continue;
    if (patch.enabled || patch === lp.transition.patch) {
      if (patch !== lp.transition.patch) lp.callback(obj, 'pre_unpatch');
      lp.prNotice(`reverting patch '${patch.modName}' on unloading module '${modName}'`);
      klpUnpatchObject(lp, obj);
      if (obj.postUnpatchEnabled) lp.callback(obj, 'post_unpatch');
      obj.postUnpatchEnabled = false;
    }
    freeObjectLoaded(lp, patch, obj, relocs);
  }
}
