// testState.spec.ts - the kernel's test-state.sh: klp_state taken over by cumulative patches, incompatible versions refused, dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { TEST_STATE } from '../../src/selftests/testState.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';
import { klpGetState } from '../../src/livepatch/state.ts';
import { listNodes } from '../../src/livepatch/list.ts';
import { KLP_PATCH } from '../../src/abi/layout.ts';

describe('[selftests]: test-state.sh', () => {
  for (const s of TEST_STATE) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 5 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      sys.kernel.machine.close();
    });
  }

  it('changes console_loglevel for real, hands the kzalloc\'ed state over and keeps klp_patches in guest memory', () => {
    const sys = createSystem({ cpus: 2, seed: 5 });
    const t = new Selftest(sys);
    const k = sys.kernel;
    const loglevel = (): number => k.machine.mem.readI32(k.sym('console_loglevel'));
    const guestPatches = (): bigint[] => listNodes(k.machine.mem, k.sym('klp_patches')).map((n) => n - BigInt(KLP_PATCH.list));
    expect(loglevel()).toBe(7);
    t.loadLp('test_klp_state');
    expect(loglevel()).toBe(15);
    const st = sys.livepatch.findPatch('test_klp_state')!;
    const data = klpGetState(sys.livepatch, st, 1n)!.data;
    expect(data >> 40n).toBe(0xffff88n); // kzalloc'ed in the direct map
    expect(k.machine.mem.readI32(data)).toBe(7);
    t.loadLp('test_klp_state2');
    const st2 = sys.livepatch.findPatch('test_klp_state2')!;
    expect(klpGetState(sys.livepatch, st2, 1n)!.data).toBe(data);
    expect(guestPatches()).toEqual([st2.addr]); // the replaced patch left klp_patches
    expect(k.machine.mem.readU64(k.sym('klp_transition_patch'))).toBe(0n);
    t.disableLp('test_klp_state2');
    expect(loglevel()).toBe(7);
    expect(guestPatches()).toEqual([]);
    k.machine.close();
  });
});
