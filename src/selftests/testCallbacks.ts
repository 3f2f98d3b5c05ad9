// testCallbacks.ts - tools/testing/selftests/livepatch/test-callbacks.sh: scenarios 1-7, 10 and 11 (the busy module's are in testCallbacksBusy.ts)

import type { Scenario } from './testLivepatch.ts';
import { coming, comingLines, disable, enCb, goingLines, insmod, lines, live, modExit, modInit, rmmod, unCb } from './notation.ts';

const P = 'test_klp_callbacks_demo';
const P2 = 'test_klp_callbacks_demo2';
const M = 'test_klp_callbacks_mod';

/** FAIL(P; reasons): the enable fails before its transition starts. */
const failLines = (p: string, reasons: string[]): string => lines(
  `livepatch: enabling patch '${p}'`, `livepatch: '${p}': initializing patching transition`, ...reasons,
  `livepatch: failed to enable patch '${p}'`, `livepatch: '${p}': canceling patching transition, going to unpatch`,
  `livepatch: '${p}': completing unpatching transition`, `livepatch: '${p}': unpatching complete`,
);

/** Scenarios 1-7: test_klp_callbacks_demo with test_klp_callbacks_mod. */
const ONE_TARGET: Scenario[] = [
  {
    name: 'target module before livepatch',
    run(t) { t.loadMod(M); t.loadLp(P); t.disableLp(P); t.unloadLp(P); t.unloadMod(M); },
    expected: lines(insmod(M), modInit(M), insmod(P), enCb(P, ['vmlinux', live(M)]), disable(P), unCb(P, ['vmlinux', live(M)]), rmmod(P), rmmod(M), modExit(M)),
  },
  {
    name: 'module_coming notifier',
    run(t) { t.loadLp(P); t.loadMod(M); t.disableLp(P); t.unloadLp(P); t.unloadMod(M); },
    expected: lines(insmod(P), enCb(P, ['vmlinux']), insmod(M), comingLines(P, M), disable(P), unCb(P, ['vmlinux', live(M)]), rmmod(P), rmmod(M), modExit(M)),
  },
  {
    name: 'module_going notifier',
    run(t) { t.loadMod(M); t.loadLp(P); t.unloadMod(M); t.disableLp(P); t.unloadLp(P); },
    expected: lines(insmod(M), modInit(M), insmod(P), enCb(P, ['vmlinux', live(M)]), rmmod(M), goingLines(P, M), disable(P), unCb(P, ['vmlinux']), rmmod(P)),
  },
  {
    name: 'module_coming and module_going notifiers',
    run(t) { t.loadLp(P); t.loadMod(M); t.unloadMod(M); t.disableLp(P); t.unloadLp(P); },
    expected: lines(insmod(P), enCb(P, ['vmlinux']), insmod(M), comingLines(P, M), rmmod(M), goingLines(P, M), disable(P), unCb(P, ['vmlinux']), rmmod(P)),
  },
  {
    name: 'target module not present',
    run(t) { t.loadLp(P); t.disableLp(P); t.unloadLp(P); },
    expected: lines(insmod(P), enCb(P, ['vmlinux']), disable(P), unCb(P, ['vmlinux']), rmmod(P)),
  },
  {
    name: 'pre-patch callback -ENODEV',
    run(t) { t.loadMod(M); t.loadFailingMod(P, 'pre_patch_ret=-19'); t.unloadMod(M); },
    expected: lines(insmod(M), modInit(M), insmod(P, 'pre_patch_ret=-19'),
      failLines(P, [`${P}: pre_patch_callback: vmlinux`, `livepatch: pre-patch callback failed for object 'vmlinux'`]),
      `insmod: ERROR: could not insert module test_modules/${P}.ko: No such device`, rmmod(M), modExit(M)),
  },
  {
    name: 'module_coming + pre-patch callback -ENODEV',
    run(t) {
      t.loadLp(P);
      t.setPrePatchRet(P, -19);
      t.loadFailingMod(M);
      t.disableLp(P);
      t.unloadLp(P);
    },
    expected: lines(insmod(P), enCb(P, ['vmlinux']), `% echo -19 > /sys/module/${P}/parameters/pre_patch_ret`, insmod(M),
      `livepatch: applying patch '${P}' to loading module '${M}'`, `${P}: pre_patch_callback: ${coming(M)}`,
      `livepatch: pre-patch callback failed for object '${M}'`,
      `livepatch: patch '${P}' failed for module '${M}', refusing to load module '${M}'`,
      `insmod: ERROR: could not insert module test_modules/${M}.ko: No such device`, disable(P), unCb(P, ['vmlinux']), rmmod(P)),
  },
];

export const MULTIPLE_LIVEPATCHES: Scenario = {
  name: 'multiple livepatches',
  run(t) {
    t.loadLp(P);
    t.loadLp(P2);
    t.disableLp(P2);
    t.disableLp(P);
    t.unloadLp(P2);
    t.unloadLp(P);
  },
  expected: lines(insmod(P), enCb(P, ['vmlinux']), insmod(P2), enCb(P2, ['vmlinux']), disable(P2), unCb(P2, ['vmlinux']),
    disable(P), unCb(P, ['vmlinux']), rmmod(P2), rmmod(P)),
};

/** The replaced patch gets no unpatch callbacks: it is freed silently once P2's transition completes. */
export const ATOMIC_REPLACE_CALLBACKS: Scenario = {
  name: 'atomic replace',
  run(t) {
    t.loadLp(P);
    t.loadLp(P2, 'replace=1');
    t.disableLp(P2);
    t.unloadLp(P2);
    t.unloadLp(P);
  },
  expected: lines(insmod(P), enCb(P, ['vmlinux']), insmod(P2, 'replace=1'), enCb(P2, ['vmlinux']), disable(P2), unCb(P2, ['vmlinux']),
    rmmod(P2), rmmod(P)),
};

export const TEST_CALLBACKS: Scenario[] = [...ONE_TARGET, MULTIPLE_LIVEPATCHES, ATOMIC_REPLACE_CALLBACKS];
