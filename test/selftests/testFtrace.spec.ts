// testFtrace.spec.ts - the kernel's test-ftrace.sh: livepatch against the ftrace_enabled sysctl and under the function tracer, dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { FTRACE_ENABLED, TEST_FTRACE, TRACE_LIVEPATCHED } from '../../src/selftests/testFtrace.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

describe('[selftests]: test-ftrace.sh', () => {
  for (const s of TEST_FTRACE) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 5 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      // Nothing left behind: no module, no patch, cmdline_proc_show's nop back.
      expect(sys.modules.list()).toEqual([]);
      const rec = sys.ftrace.recordOf('cmdline_proc_show')!;
      expect([...sys.kernel.machine.mem.read(rec.ip, 5)]).toEqual([0x0f, 0x1f, 0x44, 0x00, 0x00]);
      sys.kernel.machine.close();
    });
  }
  expect(TEST_FTRACE).toEqual([FTRACE_ENABLED, TRACE_LIVEPATCHED]);

  it('trace_function: the redirected call is traced in the new function; tracing_on=0 records nothing (negative control)', () => {
    const sys = createSystem({ cpus: 2, seed: 5 });
    const t = new Selftest(sys);
    t.startTest(TRACE_LIVEPATCHED.name);
    t.loadLp('test_klp_livepatch');
    t.traceFunction('livepatch_cmdline_proc_show');
    expect(t.cat('/sys/kernel/tracing/set_ftrace_filter')).toBe('livepatch_cmdline_proc_show [test_klp_livepatch]\n');
    expect(t.cat('/proc/cmdline')).toBe('test_klp_livepatch: this has been live patched\n');
    const trace = t.cat('/sys/kernel/tracing/trace').split('\n').filter((l) => !l.startsWith('#') && l);
    expect(trace.length).toBeGreaterThan(0);
    for (const l of trace) expect(l).toMatch(/^\s+klpsh-\d+\s+\[\d{3}\] \.{5}\s+\d+\.\d{6}: livepatch_cmdline_proc_show <-\w+$/);
    // tracing_on 0: the tracer stays registered but the ring records nothing.
    sys.shell.run('echo "" > /sys/kernel/tracing/trace');
    sys.shell.run('echo 0 > /sys/kernel/tracing/tracing_on');
    expect(t.cat('/sys/kernel/tracing/tracing_on')).toBe('0\n');
    t.cat('/proc/cmdline');
    expect(sys.shell.run('grep -Fwq livepatch_cmdline_proc_show /sys/kernel/tracing/trace').status).toBe(1);
    expect(() => t.checkTracedFunctions('livepatch_cmdline_proc_show')).toThrow('Function (livepatch_cmdline_proc_show) did not appear in the trace');
    // check_traced_functions died before its cleanup; the script's trap would clean up, here it is explicit.
    t.cleanupTracing();
    expect(t.cat('/sys/kernel/tracing/current_tracer')).toBe('nop\n');
    t.disableLp('test_klp_livepatch');
    t.unloadLp('test_klp_livepatch');
    sys.kernel.machine.close();
  });
});
