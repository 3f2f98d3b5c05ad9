// sysfs.ts - /sys/kernel/livepatch/<patch>/... attributes with the kernel's modes and write rules

import type { Livepatch } from './core.ts';
import type { KlpObject, KlpPatch } from './types.ts';
import { kstrtobool } from '../kernel/sysfs.ts';
import { Errno } from '../kernel/errno.ts';

const dirOf = (p: KlpPatch): string => `/sys/kernel/livepatch/${p.modName}`;

/** enabled_store(): reverse a transition, disable, or refuse. */
function enabledStore(lp: Livepatch, patch: KlpPatch, value: string): number {
  const enabled = kstrtobool(value);
  if (enabled === undefined) return -Errno.EINVAL;
  if (patch.enabled === enabled) return -Errno.EINVAL;
  if (patch === lp.transition.patch) lp.transition.klpReverseTransition();
  else if (!enabled) {
    const ret = lp.klpDisablePatchLocked(patch);
    if (ret) return ret;
  } else return -Errno.EINVAL;
  return value.length;
}

/** force_store(). */
function forceStore(lp: Livepatch, patch: KlpPatch, value: string): number {
  const v = kstrtobool(value);
  if (v === undefined) return -Errno.EINVAL;
  if (!v) return value.length;
  if (patch !== lp.transition.patch) return -Errno.EINVAL;
  lp.transition.klpForceTransition();
  return value.length;
}

/**
 * Create the patch directory and its attributes, or (with `obj`) an object's
 * directory with `patched` and one `<function,sympos>` directory per func.
 */
export function createPatchSysfs(lp: Livepatch, patch: KlpPatch, obj?: KlpObject): void {
  const vfs = lp.vfs;
  const dir = dirOf(patch);
  if (!obj) {
    vfs.createDir(dir);
    vfs.createFile(`${dir}/enabled`, { mode: 0o644, show: () => `${patch.enabled ? 1 : 0}\n`, store: (v) => enabledStore(lp, patch, v) });
    vfs.createFile(`${dir}/transition`, { mode: 0o444, show: () => `${patch === lp.transition.patch ? 1 : 0}\n` });
    vfs.createFile(`${dir}/force`, { mode: 0o200, store: (v) => forceStore(lp, patch, v) });
    vfs.createFile(`${dir}/replace`, { mode: 0o444, show: () => `${patch.replace ? 1 : 0}\n` });
    vfs.createFile(`${dir}/stack_order`, { mode: 0o444, show: () => `${lp.patches.indexOf(patch) + 1}\n` });
    return;
  }
  const odir = `${dir}/${obj.displayName}`;
  vfs.createDir(odir);
  vfs.createFile(`${odir}/patched`, { mode: 0o444, show: () => `${obj.patched ? 1 : 0}\n` });
  for (const f of obj.funcs) vfs.createDir(`${odir}/${f.sysfsName}`);
}
