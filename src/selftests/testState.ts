// testState.ts - tools/testing/selftests/livepatch/test-state.sh: system state (klp_state) handed over between cumulative patches

import type { Scenario } from './testLivepatch.ts';
import { disable, enCb, insmod, lines, rmmod, unCb } from './notation.ts';

const ST = 'test_klp_state';
const ST2 = 'test_klp_state2';
const ST3 = 'test_klp_state3';

/** A1/F1: a patch that modifies console_loglevel itself; A2/F2: one that takes the change over. */
const A1 = 'allocating space to store console_loglevel';
const F1 = 'fixing console_loglevel';
const A2 = 'space to store console_loglevel already allocated';
const F2 = 'taking over the console_loglevel change';

/** Insert `extra` right after the line that equals `after`. */
function insertAfter(text: string, after: string, extra: string): string {
  const out: string[] = [];
  for (const l of text.split('\n')) {
    out.push(l);
    if (l === after) out.push(extra);
  }
  return out.join('\n');
}

/** ENst(P; A, F): ENcb(P; vmlinux) with allocate_loglevel_state after pre_patch and fix_console_loglevel after post_patch. */
export const enSt = (p: string, a: string, f: string): string => {
  const withA = insertAfter(enCb(p, ['vmlinux']), `${p}: pre_patch_callback: vmlinux`, `${p}: allocate_loglevel_state: ${a}`);
  return insertAfter(withA, `${p}: post_patch_callback: vmlinux`, `${p}: fix_console_loglevel: ${f}`);
};

/** UNst(P): UNcb(P; vmlinux) with the restoring and freeing lines (no previous patch holds the state). */
export const unSt = (p: string): string => {
  const withR = insertAfter(unCb(p, ['vmlinux']), `${p}: pre_unpatch_callback: vmlinux`, `${p}: restore_console_loglevel: restoring console_loglevel`);
  return insertAfter(withR, `${p}: post_unpatch_callback: vmlinux`, `${p}: free_loglevel_state: freeing space for the stored console_loglevel`);
};

export const TEST_STATE: Scenario[] = [
  {
    name: 'system state modification',
    run(t) { t.loadLp(ST); t.disableLp(ST); t.unloadLp(ST); },
    expected: lines(insmod(ST), enSt(ST, A1, F1), disable(ST), unSt(ST), rmmod(ST)),
  },
  {
    name: 'taking over system state modification',
    run(t) { t.loadLp(ST); t.loadLp(ST2); t.unloadLp(ST); t.disableLp(ST2); t.unloadLp(ST2); },
    expected: lines(insmod(ST), enSt(ST, A1, F1), insmod(ST2), enSt(ST2, A2, F2), rmmod(ST), disable(ST2), unSt(ST2), rmmod(ST2)),
  },
  {
    name: 'compatible cumulative livepatches',
    run(t) {
      t.loadLp(ST2);
      t.loadLp(ST3);
      t.unloadLp(ST2);
      t.loadLp(ST2);
      t.disableLp(ST2);
      t.unloadLp(ST2);
      t.unloadLp(ST3);
    },
    expected: lines(insmod(ST2), enSt(ST2, A1, F1), insmod(ST3), enSt(ST3, A2, F2), rmmod(ST2), insmod(ST2), enSt(ST2, A2, F2),
      disable(ST2), unSt(ST2), rmmod(ST2), rmmod(ST3)),
  },
  {
    name: 'incompatible cumulative livepatches',
    run(t) { t.loadLp(ST2); t.loadFailingMod(ST); t.disableLp(ST2); t.unloadLp(ST2); },
    expected: lines(insmod(ST2), enSt(ST2, A1, F1), insmod(ST),
      `livepatch: Livepatch patch (${ST}) is not compatible with the already installed livepatches.`,
      `insmod: ERROR: could not insert module test_modules/${ST}.ko: Invalid parameters`, disable(ST2), unSt(ST2), rmmod(ST2)),
  },
];
