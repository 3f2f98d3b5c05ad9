// state.ts - system state versions across patches (kernel/livepatch/state.c)

import type { Livepatch } from './core.ts';
import type { KlpPatch } from './types.ts';

/** struct klp_state: { u64 id; u32 version; u32 pad; u64 data } — 24 bytes, ends at id 0. */
export const KLP_STATE = { id: 0x00, version: 0x08, data: 0x10, SIZE: 0x18 } as const;

export interface KlpStateView {
  addr: bigint;
  id: bigint;
  version: number;
}

/** The states a patch declares. */
export function patchStates(lp: Livepatch, patch: KlpPatch): KlpStateView[] {
  const out: KlpStateView[] = [];
  let a = patch.statesAddr;
  if (a === 0n) return out;
  for (let i = 0; i < 256; i++, a += BigInt(KLP_STATE.SIZE)) {
    const id = lp.mem.readU64(a + BigInt(KLP_STATE.id));
    if (id === 0n) break;
    out.push({ addr: a, id, version: lp.mem.readU32(a + BigInt(KLP_STATE.version)) });
  }
  return out;
}

/** klp_get_state(patch, id). */
export function klpGetState(lp: Livepatch, patch: KlpPatch, id: bigint): KlpStateView | undefined {
  return patchStates(lp, patch).find((s) => s.id === id);
}

/**
 * klp_is_patch_compatible(): every state of every patch in use must exist in
 * the new patch with a version at least as high — unless the new patch does
 * not replace, in which case a missing state is fine.
 */
export function klpIsPatchCompatible(lp: Livepatch, patch: KlpPatch): boolean {
  for (const old of lp.patches) {
    for (const s of patchStates(lp, old)) {
      const mine = klpGetState(lp, patch, s.id);
      if (!mine) {
        if (patch.replace) return false;
        continue;
      }
      if (mine.version < s.version) return false;
    }
  }
  return true;
}
