// testCallbacksBusy.ts - tools/testing/selftests/livepatch/test-callbacks.sh scenarios 8 and 9: test_klp_callbacks_busy's work item

import { SelftestError } from './functions.ts';
import type { Scenario } from './testLivepatch.ts';
import { coming, comingLines, disable, enCb, going, goingLines, insmod, lines, live, modExit, modInit, rmmod, unCb } from './notation.ts';

const P = 'test_klp_callbacks_demo';
const M = 'test_klp_callbacks_mod';
const B = 'test_klp_callbacks_busy';
const SYSFS_TRANSITION = `/sys/kernel/livepatch/${P}/transition`;

const workEnter = `${B}: busymod_work_func enter`;
const workExit = `${B}: busymod_work_func exit`;

/** The busy module's work runs to its end inside init: the patch has nobody to wait for. */
export const MULTIPLE_TARGETS: Scenario = {
  name: 'multiple target modules',
  run(t) {
    t.loadMod(B, 'block_transition=N');
    t.loadLp(P);
    t.loadMod(M);
    t.unloadMod(M);
    t.disableLp(P);
    t.unloadLp(P);
    t.unloadMod(B);
  },
  expected: lines(insmod(B, 'block_transition=N'), modInit(B), workEnter, workExit, insmod(P), enCb(P, ['vmlinux', live(B)]),
    insmod(M), comingLines(P, M), rmmod(M), goingLines(P, M), disable(P), unCb(P, ['vmlinux', live(B)]), rmmod(P), rmmod(B), modExit(B)),
};

/**
 * The kworker sleeps in the old busymod_work_func, so the patching transition
 * stalls: the module loaded meanwhile gets no post_patch (nor pre_unpatch on
 * unload), and `echo 0 > enabled` reverses the transition, which completes
 * since nobody runs the new function.
 */
export const BUSY_TARGET: Scenario = {
  name: 'busy target module',
  run(t) {
    t.loadMod(B, 'block_transition=Y');
    t.loadLpNowait(P);
    // Wait until the livepatch reports being in transition.
    if (!t.loopUntil(() => t.cat(SYSFS_TRANSITION).trim() === '1')) throw new SelftestError('failed to stall transition');
    t.loadMod(M);
    t.unloadMod(M);
    t.disableLp(P);
    t.unloadLp(P);
    t.unloadMod(B);
  },
  expected: lines(insmod(B, 'block_transition=Y'), modInit(B), workEnter, insmod(P),
    `livepatch: enabling patch '${P}'`,
    `livepatch: '${P}': initializing patching transition`,
    `${P}: pre_patch_callback: vmlinux`,
    `${P}: pre_patch_callback: ${live(B)}`,
    `livepatch: '${P}': starting patching transition`,
    insmod(M),
    `livepatch: applying patch '${P}' to loading module '${M}'`,
    `${P}: pre_patch_callback: ${coming(M)}`,
    modInit(M),
    rmmod(M),
    modExit(M),
    `livepatch: reverting patch '${P}' on unloading module '${M}'`,
    `${P}: post_unpatch_callback: ${going(M)}`,
    disable(P),
    `livepatch: '${P}': reversing transition from patching to unpatching`,
    `livepatch: '${P}': starting unpatching transition`,
    `livepatch: '${P}': completing unpatching transition`,
    `${P}: post_unpatch_callback: vmlinux`,
    `${P}: post_unpatch_callback: ${live(B)}`,
    `livepatch: '${P}': unpatching complete`,
    rmmod(P), rmmod(B), workExit, modExit(B)),
};

export const TEST_CALLBACKS_BUSY: Scenario[] = [MULTIPLE_TARGETS, BUSY_TARGET];
