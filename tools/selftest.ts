// selftest.ts - `klpemu selftest`: replay the kernel's livepatch kselftests (test-livepatch.sh, test-callbacks.sh, test-ftrace.sh, test-sysfs.sh, test-syscall.sh, test-state.sh, test-shadow-vars.sh) and compare dmesg

import { parseArgs } from 'node:util';
import { createSystem } from '../src/system.ts';
import { Selftest, SelftestError } from '../src/selftests/functions.ts';
import { TEST_LIVEPATCH, runScenario } from '../src/selftests/testLivepatch.ts';
import { TEST_CALLBACKS } from '../src/selftests/testCallbacks.ts';
import { TEST_CALLBACKS_BUSY } from '../src/selftests/testCallbacksBusy.ts';
import { TEST_FTRACE } from '../src/selftests/testFtrace.ts';
import { TEST_SYSFS } from '../src/selftests/testSysfs.ts';
import { TEST_SYSCALL } from '../src/selftests/testSyscall.ts';
import { TEST_STATE } from '../src/selftests/testState.ts';
import { TEST_SHADOW_VARS } from '../src/selftests/testShadowVars.ts';

const ALL = [...TEST_LIVEPATCH, ...TEST_CALLBACKS, ...TEST_CALLBACKS_BUSY, ...TEST_FTRACE, ...TEST_SYSFS, ...TEST_SYSCALL, ...TEST_STATE, ...TEST_SHADOW_VARS];

const HELP = `usage: klpemu selftest [--cpus N] [--seed S] [--verbose] [TEST...]
  Runs the livepatch kselftests' scenarios (${ALL.map((s) => `"${s.name}"`).join(', ')}),
  each on a fresh machine, and prints "ok" or "not ok" with the diff of check_result.`;

/** @returns 0 when every scenario passes */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { cpus: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' }, verbose: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const chosen = positionals.length ? ALL.filter((s) => positionals.includes(s.name)) : ALL;
  if (chosen.length === 0) {
    process.stderr.write(`klpemu selftest: no such test: ${positionals.join(', ')}\n`);
    return 2;
  }
  let failed = 0;
  for (const s of chosen) {
    const sys = createSystem({ cpus: Number(values.cpus), seed: Number(values.seed) });
    const t = new Selftest(sys);
    process.stdout.write(`TEST: ${s.name} ... `);
    let diff: string[];
    try {
      diff = runScenario(t, s);
    } catch (e) {
      if (!(e instanceof SelftestError)) throw e;
      diff = [`ERROR: ${e.message}`];
    }
    process.stdout.write(diff.length ? 'not ok\n' : 'ok\n');
    if (diff.length) process.stdout.write(`${diff.join('\n')}\n`);
    if (values.verbose) process.stdout.write(`${t.resultLines().join('\n')}\n`);
    failed += diff.length ? 1 : 0;
    sys.kernel.machine.close();
  }
  return failed ? 1 : 0;
}
