// testFtrace.ts - tools/testing/selftests/livepatch/test-ftrace.sh: livepatch with the ftrace_enabled sysctl and the function tracer

import { SelftestError } from './functions.ts';
import type { Scenario } from './testLivepatch.ts';
import { disable, en, insmod, lines, rmmod, un } from './notation.ts';

const LP = 'test_klp_livepatch';
const PATCHED = `${LP}: this has been live patched\n`;

export const FTRACE_ENABLED: Scenario = {
  name: 'livepatch interaction with ftrace_enabled sysctl',
  run(t) {
    t.setFtraceEnabled(0);
    t.loadFailingMod(LP);
    t.setFtraceEnabled(1);
    t.loadLp(LP);
    if (t.cat('/proc/cmdline') !== PATCHED) throw new SelftestError('livepatch kselftest(s) failed');
    // ftrace_enabled may not be turned off while a permanent ops (livepatch's) is registered.
    t.setFtraceEnabled(0, { fail: true });
    if (t.cat('/proc/cmdline') !== PATCHED) throw new SelftestError('livepatch kselftest(s) failed');
    t.disableLp(LP);
    t.unloadLp(LP);
  },
  expected: `livepatch: kernel.ftrace_enabled = 0
% insmod test_modules/${LP}.ko
livepatch: enabling patch '${LP}'
livepatch: '${LP}': initializing patching transition
livepatch: failed to register ftrace handler for function 'cmdline_proc_show' (-16)
livepatch: failed to patch object 'vmlinux'
livepatch: failed to enable patch '${LP}'
livepatch: '${LP}': canceling patching transition, going to unpatch
livepatch: '${LP}': completing unpatching transition
livepatch: '${LP}': unpatching complete
insmod: ERROR: could not insert module test_modules/${LP}.ko: Device or resource busy
livepatch: kernel.ftrace_enabled = 1
% insmod test_modules/${LP}.ko
livepatch: enabling patch '${LP}'
livepatch: '${LP}': initializing patching transition
livepatch: '${LP}': starting patching transition
livepatch: '${LP}': completing patching transition
livepatch: '${LP}': patching complete
livepatch: sysctl: setting key "kernel.ftrace_enabled": Device or resource busy
% echo 0 > /sys/kernel/livepatch/${LP}/enabled
livepatch: '${LP}': initializing unpatching transition
livepatch: '${LP}': starting unpatching transition
livepatch: '${LP}': completing unpatching transition
livepatch: '${LP}': unpatching complete
% rmmod ${LP}`,
};

/** The function tracer on the livepatch's new function: the redirected call is traced, and the patch still works. */
export const TRACE_LIVEPATCHED: Scenario = {
  name: 'trace livepatched function and check that the live patch remains in effect',
  run(t) {
    const func = 'livepatch_cmdline_proc_show';
    t.loadLp(LP);
    t.traceFunction(func);
    if (t.cat('/proc/cmdline') === PATCHED) t.log('livepatch: ok');
    t.checkTracedFunctions(func);
    t.disableLp(LP);
    t.unloadLp(LP);
  },
  expected: lines(insmod(LP), en(LP), 'livepatch: ok', disable(LP), un(LP), rmmod(LP)),
};

export const TEST_FTRACE: Scenario[] = [FTRACE_ENABLED, TRACE_LIVEPATCHED];
