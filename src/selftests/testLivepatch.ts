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

export const TEST_LIVEPATCH: Scenario[] = [BASIC, MULTIPLE];

/** Run one scenario the way the script does; returns the check_result diff (empty = ok). */
export function runScenario(t: Selftest, s: Scenario): string[] {
  t.startTest(s.name);
  s.run(t);
  return t.checkResult(s.expected);
}
