// testCallbacks.ts - tools/testing/selftests/livepatch/test-callbacks.sh: the scenarios without the busy module

import type { Scenario } from './testLivepatch.ts';

const P = 'test_klp_callbacks_demo';
const M = 'test_klp_callbacks_mod';
const LIVE = `${M} -> [MODULE_STATE_LIVE] Normal state`;
const COMING = `${M} -> [MODULE_STATE_COMING] Full formed, running module_init`;
const GOING = `${M} -> [MODULE_STATE_GOING] Going away`;

const cb = (which: string, objs: string[]): string => objs.map((o) => `${P}: ${which}_callback: ${o}`).join('\n');

/** ENcb(P; objs) */
const enCb = (objs: string[]): string => `livepatch: enabling patch '${P}'
livepatch: '${P}': initializing patching transition
${cb('pre_patch', objs)}
livepatch: '${P}': starting patching transition
livepatch: '${P}': completing patching transition
${cb('post_patch', objs)}
livepatch: '${P}': patching complete`;

/** UNcb(P; objs) */
const unCb = (objs: string[]): string => `livepatch: '${P}': initializing unpatching transition
${cb('pre_unpatch', objs)}
livepatch: '${P}': starting unpatching transition
livepatch: '${P}': completing unpatching transition
${cb('post_unpatch', objs)}
livepatch: '${P}': unpatching complete`;

const insmod = (m: string, args = ''): string => `% insmod test_modules/${m}.ko${args ? ` ${args}` : ''}`;
const rmmod = (m: string): string => `% rmmod ${m}`;
const dis = `% echo 0 > /sys/kernel/livepatch/${P}/enabled`;
const modInit = `${M}: ${M}_init`;
const modExit = `${M}: ${M}_exit`;
const comingLines = `livepatch: applying patch '${P}' to loading module '${M}'
${P}: pre_patch_callback: ${COMING}
${P}: post_patch_callback: ${COMING}
${modInit}`;
const goingLines = `${modExit}
${P}: pre_unpatch_callback: ${GOING}
livepatch: reverting patch '${P}' on unloading module '${M}'
${P}: post_unpatch_callback: ${GOING}`;

export const TEST_CALLBACKS: Scenario[] = [
  {
    name: 'target module before livepatch',
    run(t) { t.loadMod(M); t.loadLp(P); t.disableLp(P); t.unloadLp(P); t.unloadMod(M); },
    expected: [insmod(M), modInit, insmod(P), enCb(['vmlinux', LIVE]), dis, unCb(['vmlinux', LIVE]), rmmod(P), rmmod(M), modExit].join('\n'),
  },
  {
    name: 'module_coming notifier',
    run(t) { t.loadLp(P); t.loadMod(M); t.disableLp(P); t.unloadLp(P); t.unloadMod(M); },
    expected: [insmod(P), enCb(['vmlinux']), insmod(M), comingLines, dis, unCb(['vmlinux', LIVE]), rmmod(P), rmmod(M), modExit].join('\n'),
  },
  {
    name: 'module_going notifier',
    run(t) { t.loadMod(M); t.loadLp(P); t.unloadMod(M); t.disableLp(P); t.unloadLp(P); },
    expected: [insmod(M), modInit, insmod(P), enCb(['vmlinux', LIVE]), rmmod(M), goingLines, dis, unCb(['vmlinux']), rmmod(P)].join('\n'),
  },
  {
    name: 'module_coming and module_going notifiers',
    run(t) { t.loadLp(P); t.loadMod(M); t.unloadMod(M); t.disableLp(P); t.unloadLp(P); },
    expected: [insmod(P), enCb(['vmlinux']), insmod(M), comingLines, rmmod(M), goingLines, dis, unCb(['vmlinux']), rmmod(P)].join('\n'),
  },
  {
    name: 'target module not present',
    run(t) { t.loadLp(P); t.disableLp(P); t.unloadLp(P); },
    expected: [insmod(P), enCb(['vmlinux']), dis, unCb(['vmlinux']), rmmod(P)].join('\n'),
  },
  {
    name: 'pre-patch callback -ENODEV',
    run(t) { t.loadMod(M); t.loadFailingMod(P, 'pre_patch_ret=-19'); t.unloadMod(M); },
    expected: [insmod(M), modInit, insmod(P, 'pre_patch_ret=-19'),
      `livepatch: enabling patch '${P}'`, `livepatch: '${P}': initializing patching transition`,
      `${P}: pre_patch_callback: vmlinux`, `livepatch: pre-patch callback failed for object 'vmlinux'`,
      `livepatch: failed to enable patch '${P}'`, `livepatch: '${P}': canceling patching transition, going to unpatch`,
      `livepatch: '${P}': completing unpatching transition`, `livepatch: '${P}': unpatching complete`,
      `insmod: ERROR: could not insert module test_modules/${P}.ko: No such device`, rmmod(M), modExit].join('\n'),
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
    expected: [insmod(P), enCb(['vmlinux']), `% echo -19 > /sys/module/${P}/parameters/pre_patch_ret`, insmod(M),
      `livepatch: applying patch '${P}' to loading module '${M}'`, `${P}: pre_patch_callback: ${COMING}`,
      `livepatch: pre-patch callback failed for object '${M}'`,
      `livepatch: patch '${P}' failed for module '${M}', refusing to load module '${M}'`,
      `insmod: ERROR: could not insert module test_modules/${M}.ko: No such device`, dis, unCb(['vmlinux']), rmmod(P)].join('\n'),
  },
];
