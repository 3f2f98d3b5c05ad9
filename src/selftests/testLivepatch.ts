// testLivepatch.ts - tools/testing/selftests/livepatch/test-livepatch.sh: the scenarios and their expected dmesg

import { Selftest, SelftestError } from './functions.ts';

const MOD_LIVEPATCH = 'test_klp_livepatch';
const MOD_REPLACE = 'test_klp_atomic_replace';

/** EN(P): the lines of enabling a patch (functions.sh notation). */
const en = (p: string): string => `livepatch: enabling patch '${p}'
livepatch: '${p}': initializing patching transition
livepatch: '${p}': starting patching transition
livepatch: '${p}': completing patching transition
livepatch: '${p}': patching complete`;

/** UN(P): the lines of disabling it. */
const un = (p: string): string => `livepatch: '${p}': initializing unpatching transition
livepatch: '${p}': starting unpatching transition
livepatch: '${p}': completing unpatching transition
livepatch: '${p}': unpatching complete`;

export interface Scenario {
  name: string;
  run(t: Selftest): void;
  expected: string;
}

export const BASIC: Scenario = {
  name: 'basic function patching',
  run(t) {
    t.loadLp(MOD_LIVEPATCH);
    if (t.cat('/proc/cmdline') !== `${MOD_LIVEPATCH}: this has been live patched\n`) throw new SelftestError('livepatch kselftest(s) failed');
    t.disableLp(MOD_LIVEPATCH);
    t.unloadLp(MOD_LIVEPATCH);
    if (t.cat('/proc/cmdline') === `${MOD_LIVEPATCH}: this has been live patched\n`) throw new SelftestError('livepatch kselftest(s) failed');
  },
  expected: `% insmod test_modules/${MOD_LIVEPATCH}.ko
${en(MOD_LIVEPATCH)}
% echo 0 > /sys/kernel/livepatch/${MOD_LIVEPATCH}/enabled
${un(MOD_LIVEPATCH)}
% rmmod ${MOD_LIVEPATCH}`,
};

function greps(t: Selftest): void {
  t.grepToKmsg('live patched', '/proc/cmdline');
  t.grepToKmsg('live patched', '/proc/meminfo');
}

export const MULTIPLE: Scenario = {
  name: 'multiple livepatches',
  run(t) {
    t.loadLp(MOD_LIVEPATCH);
    greps(t);
    t.loadLp(MOD_REPLACE, 'replace=0');
    greps(t);
    t.disableLp(MOD_REPLACE);
    t.unloadLp(MOD_REPLACE);
    greps(t);
    t.disableLp(MOD_LIVEPATCH);
    t.unloadLp(MOD_LIVEPATCH);
    greps(t);
  },
  expected: `% insmod test_modules/${MOD_LIVEPATCH}.ko
${en(MOD_LIVEPATCH)}
${MOD_LIVEPATCH}: this has been live patched
% insmod test_modules/${MOD_REPLACE}.ko replace=0
${en(MOD_REPLACE)}
${MOD_LIVEPATCH}: this has been live patched
${MOD_REPLACE}: this has been live patched
% echo 0 > /sys/kernel/livepatch/${MOD_REPLACE}/enabled
${un(MOD_REPLACE)}
% rmmod ${MOD_REPLACE}
${MOD_LIVEPATCH}: this has been live patched
% echo 0 > /sys/kernel/livepatch/${MOD_LIVEPATCH}/enabled
${un(MOD_LIVEPATCH)}
% rmmod ${MOD_LIVEPATCH}`,
};

const MOD_TARGET = 'test_klp_mod_target';
const MOD_PATCH = 'test_klp_mod_patch';
const TARGET_PROC = `/proc/${MOD_TARGET}`;

function expectOutput(t: Selftest, want: string): void {
  const got = t.cat(TARGET_PROC);
  if (got !== `${want}\n`) throw new SelftestError(`${TARGET_PROC}: expected '${want}', got '${got.trimEnd()}'`);
}

export const MODULE_FUNCTION: Scenario = {
  name: 'module function patching',
  run(t) {
    t.loadMod(MOD_TARGET);
    expectOutput(t, `${MOD_TARGET}: original output`);
    t.loadLp(MOD_PATCH);
    expectOutput(t, `${MOD_PATCH}: this has been live patched`);
    t.disableLp(MOD_PATCH);
    t.unloadLp(MOD_PATCH);
    expectOutput(t, `${MOD_TARGET}: original output`);
    t.unloadMod(MOD_TARGET);
  },
  expected: `% insmod test_modules/${MOD_TARGET}.ko
${MOD_TARGET}: ${MOD_TARGET}_init
% insmod test_modules/${MOD_PATCH}.ko
${en(MOD_PATCH)}
% echo 0 > /sys/kernel/livepatch/${MOD_PATCH}/enabled
${un(MOD_PATCH)}
% rmmod ${MOD_PATCH}
% rmmod ${MOD_TARGET}
${MOD_TARGET}: ${MOD_TARGET}_exit`,
};

export const MODULE_FUNCTION_LP_FIRST: Scenario = {
  name: 'module function patching (livepatch first)',
  run(t) {
    t.loadLp(MOD_PATCH);
    t.loadMod(MOD_TARGET);
    expectOutput(t, `${MOD_PATCH}: this has been live patched`);
    t.disableLp(MOD_PATCH);
    t.unloadLp(MOD_PATCH);
    expectOutput(t, `${MOD_TARGET}: original output`);
    t.unloadMod(MOD_TARGET);
  },
  expected: `% insmod test_modules/${MOD_PATCH}.ko
${en(MOD_PATCH)}
% insmod test_modules/${MOD_TARGET}.ko
livepatch: applying patch '${MOD_PATCH}' to loading module '${MOD_TARGET}'
${MOD_TARGET}: ${MOD_TARGET}_init
% echo 0 > /sys/kernel/livepatch/${MOD_PATCH}/enabled
${un(MOD_PATCH)}
% rmmod ${MOD_PATCH}
% rmmod ${MOD_TARGET}
${MOD_TARGET}: ${MOD_TARGET}_exit`,
};

const MOD_SYSCALL = 'test_klp_syscall';
const MOD_CALLBACKS = 'test_klp_callbacks_demo';

/** ENcb(P; vmlinux) for the callbacks demo. */
const enCbVmlinux = (p: string): string => `livepatch: enabling patch '${p}'
livepatch: '${p}': initializing patching transition
${p}: pre_patch_callback: vmlinux
livepatch: '${p}': starting patching transition
livepatch: '${p}': completing patching transition
${p}: post_patch_callback: vmlinux
livepatch: '${p}': patching complete`;

export const ATOMIC_REPLACE: Scenario = {
  name: 'atomic replace livepatch',
  run(t) {
    t.loadLp(MOD_LIVEPATCH);
    greps(t);
    t.loadLp(MOD_SYSCALL);
    t.loadLp(MOD_CALLBACKS);
    const n = t.livepatchEntries();
    if (n !== 3) throw new SelftestError(`Expecting three modules listed, found ${n}`);
    t.loadLp(MOD_REPLACE, 'replace=1');
    greps(t);
    if (!t.loopUntil(() => t.livepatchEntries() === 1)) throw new SelftestError('Expecting only one module listed');
    t.unloadLp(MOD_CALLBACKS);
    t.unloadLp(MOD_SYSCALL);
    t.unloadLp(MOD_LIVEPATCH);
    greps(t);
    t.disableLp(MOD_REPLACE);
    t.unloadLp(MOD_REPLACE);
    greps(t);
  },
  expected: `% insmod test_modules/${MOD_LIVEPATCH}.ko
${en(MOD_LIVEPATCH)}
${MOD_LIVEPATCH}: this has been live patched
% insmod test_modules/${MOD_SYSCALL}.ko
${en(MOD_SYSCALL)}
% insmod test_modules/${MOD_CALLBACKS}.ko
${enCbVmlinux(MOD_CALLBACKS)}
% insmod test_modules/${MOD_REPLACE}.ko replace=1
${en(MOD_REPLACE)}
${MOD_REPLACE}: this has been live patched
% rmmod ${MOD_CALLBACKS}
% rmmod ${MOD_SYSCALL}
% rmmod ${MOD_LIVEPATCH}
${MOD_REPLACE}: this has been live patched
% echo 0 > /sys/kernel/livepatch/${MOD_REPLACE}/enabled
${un(MOD_REPLACE)}
% rmmod ${MOD_REPLACE}`,
};

export const TEST_LIVEPATCH: Scenario[] = [BASIC, MULTIPLE, ATOMIC_REPLACE, MODULE_FUNCTION, MODULE_FUNCTION_LP_FIRST];

/** Run one scenario the way the script does; returns the check_result diff (empty = ok). */
export function runScenario(t: Selftest, s: Scenario): string[] {
  t.startTest(s.name);
  s.run(t);
  return t.checkResult(s.expected);
}
