// state.ts - system state versions across patches: klp_state lookups and klp_is_patch_compatible (kernel/livepatch/state.c)
//
// A livepatch may declare the system states it modifies (patch->states, an
// array of KLP_STATE ended by id 0, in the module's data). Its callbacks, guest
// code, look them up with klp_get_state()/klp_get_prev_state() in
// kernel-image/livepatch_state.S; the host reads the same array here to refuse
// a cumulative patch that would drop or downgrade a state already in use.

import type { Livepatch } from './core.ts';
import type { KlpPatch } from './types.ts';
import { KLP_STATE } from '../abi/layout.ts';

export { KLP_STATE };

/** Upper bound on a states array, against a missing terminator. */
const MAX_STATES = 4096;

/** One struct klp_state of a patch, as read from guest memory. */
export interface KlpStateView {
  /** Address of the struct (what klp_get_state returns to guest code). */
  addr: bigint;
  id: bigint;
  version: number;
  data: bigint;
}

function readState(lp: Livepatch, addr: bigint): KlpStateView {
  return {
    addr,
    id: lp.mem.readU64(addr + BigInt(KLP_STATE.id)),
    version: lp.mem.readU32(addr + BigInt(KLP_STATE.version)),
    data: lp.mem.readU64(addr + BigInt(KLP_STATE.data)),
  };
}

/** klp_for_each_state(patch, state): the states a patch declares, in order. */
export function patchStates(lp: Livepatch, patch: KlpPatch): KlpStateView[] {
  const out: KlpStateView[] = [];
  let a = patch.statesAddr;
  if (a === 0n) return out;
  for (let i = 0; i < MAX_STATES; i++, a += BigInt(KLP_STATE.SIZE)) {
    const s = readState(lp, a);
    if (s.id === 0n) break;
    out.push(s);
  }
  return out;
}

/** klp_get_state(patch, id): the patch's state with that id. */
export function klpGetState(lp: Livepatch, patch: KlpPatch, id: bigint): KlpStateView | undefined {
  return patchStates(lp, patch).find((s) => s.id === id);
}

/**
 * klp_get_prev_state(id): the state with that id of the newest patch in use
 * before the one in transition (the state a cumulative patch takes over).
 * Outside a transition there is none (the kernel also WARNs).
 */
export function klpGetPrevState(lp: Livepatch, id: bigint): KlpStateView | undefined {
  const current = lp.transition.patch;
  if (lp.warnOn(!current, 'klp_get_prev_state: !klp_transition_patch') || !current) return undefined;
  let last: KlpStateView | undefined;
  for (const patch of lp.patches) {
    if (patch === current) break;
    last = klpGetState(lp, patch, id) ?? last;
  }
  return last;
}

/**
 * klp_is_state_compatible(): a cumulative (replace) patch must handle every
 * state already modified, at the same or a newer version; a patch that does
 * not replace may leave a state alone, but must not downgrade one it also
 * declares.
 */
function klpIsStateCompatible(lp: Livepatch, patch: KlpPatch, old: KlpStateView): boolean {
  const state = klpGetState(lp, patch, old.id);
  if (!state) return !patch.replace;
  return state.version >= old.version;
}

/** klp_is_patch_compatible(): checked before a new patch is initialised; false means -EINVAL. */
export function klpIsPatchCompatible(lp: Livepatch, patch: KlpPatch): boolean {
  for (const old of lp.patches) {
    for (const s of patchStates(lp, old)) {
      if (!klpIsStateCompatible(lp, patch, s)) return false;
    }
  }
  return true;
}
