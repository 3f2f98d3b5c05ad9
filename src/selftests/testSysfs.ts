// testSysfs.ts - tools/testing/selftests/livepatch/test-sysfs.sh: attribute rights and values under /sys/kernel/livepatch

import type { Scenario } from './testLivepatch.ts';
import { comingLines, disable, en, enCb, goingLines, insmod, lines, rmmod, un, unCb } from './notation.ts';

const LP = 'test_klp_livepatch';
const CD = 'test_klp_callbacks_demo';
const CM = 'test_klp_callbacks_mod';
const AR = 'test_klp_atomic_replace';
const SC = 'test_klp_syscall';

export const SYSFS: Scenario = {
  name: 'sysfs test',
  run(t) {
    t.loadLp(LP);
    t.checkSysfsRights(LP, '', 'drwxr-xr-x');
    t.checkSysfsRights(LP, 'enabled', '-rw-r--r--');
    t.checkSysfsValue(LP, 'enabled', '1');
    t.checkSysfsRights(LP, 'force', '--w-------');
    t.checkSysfsRights(LP, 'replace', '-r--r--r--');
    t.checkSysfsRights(LP, 'stack_order', '-r--r--r--');
    t.checkSysfsValue(LP, 'stack_order', '1');
    t.checkSysfsRights(LP, 'transition', '-r--r--r--');
    t.checkSysfsValue(LP, 'transition', '0');
    t.checkSysfsRights(LP, 'vmlinux/patched', '-r--r--r--');
    t.checkSysfsValue(LP, 'vmlinux/patched', '1');
    t.disableLp(LP);
    t.unloadLp(LP);
  },
  expected: lines(insmod(LP), en(LP), disable(LP), un(LP), rmmod(LP)),
};

export const SYSFS_OBJECT_PATCHED: Scenario = {
  name: 'sysfs test object/patched',
  run(t) {
    t.loadLp(CD);
    // The "patched" file follows the target module as it loads and unloads.
    t.checkSysfsValue(CD, `${CM}/patched`, '0');
    t.loadMod(CM);
    t.checkSysfsValue(CD, `${CM}/patched`, '1');
    t.unloadMod(CM);
    t.checkSysfsValue(CD, `${CM}/patched`, '0');
    t.disableLp(CD);
    t.unloadLp(CD);
  },
  expected: lines(insmod(CD), enCb(CD, ['vmlinux']), insmod(CM), comingLines(CD, CM), rmmod(CM), goingLines(CD, CM),
    disable(CD), unCb(CD, ['vmlinux']), rmmod(CD)),
};

/** "sysfs test replace enabled" / "... disabled": AR with replace=1 / replace=0. */
const replaceScenario = (replace: 0 | 1): Scenario => ({
  name: `sysfs test replace ${replace ? 'enabled' : 'disabled'}`,
  run(t) {
    t.loadLp(AR, `replace=${replace}`);
    t.checkSysfsRights(AR, 'replace', '-r--r--r--');
    t.checkSysfsValue(AR, 'replace', String(replace));
    t.disableLp(AR);
    t.unloadLp(AR);
  },
  expected: lines(insmod(AR, `replace=${replace}`), en(AR), disable(AR), un(AR), rmmod(AR)),
});

export const SYSFS_REPLACE_ENABLED = replaceScenario(1);
export const SYSFS_REPLACE_DISABLED = replaceScenario(0);

export const SYSFS_STACK_ORDER: Scenario = {
  name: 'sysfs test stack_order value',
  run(t) {
    t.loadLp(AR);
    t.checkSysfsValue(AR, 'stack_order', '1');
    t.loadLp(CD);
    t.checkSysfsValue(CD, 'stack_order', '2');
    t.loadLp(SC);
    t.checkSysfsValue(SC, 'stack_order', '3');
    t.disableLp(CD);
    t.unloadLp(CD);
    t.checkSysfsValue(AR, 'stack_order', '1');
    t.checkSysfsValue(SC, 'stack_order', '2');
    t.disableLp(SC);
    t.unloadLp(SC);
    t.disableLp(AR);
    t.unloadLp(AR);
  },
  expected: lines(insmod(AR), en(AR), insmod(CD), enCb(CD, ['vmlinux']), insmod(SC), en(SC),
    disable(CD), unCb(CD, ['vmlinux']), rmmod(CD), disable(SC), un(SC), rmmod(SC), disable(AR), un(AR), rmmod(AR)),
};

export const TEST_SYSFS: Scenario[] = [SYSFS, SYSFS_OBJECT_PATCHED, SYSFS_REPLACE_ENABLED, SYSFS_REPLACE_DISABLED, SYSFS_STACK_ORDER];
