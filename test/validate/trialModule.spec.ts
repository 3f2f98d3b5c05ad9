// trialModule.spec.ts - module trial runs: good modules pass end to end, a crashing and a stuck one are caught
import { describe, expect, it } from 'vitest';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { failedIds, validateModule, type CheckResult, type Report } from '../../src/validate/index.ts';
import { buildCase, cases, objectsOf, type Case } from '../fixtures/validate/build.ts';

const image = loadImage();
const byName = (n: string): Case => cases().find((c) => c.name === n)!;

function trial(c: Case): Report {
  const set = Object.entries(c.set ?? {}).map(([sym, v]) => ({ sym, value: BigInt(v) }));
  return validateModule(buildCase(c, image), `${c.name}.ko`, { image, trial: true, set, objects: objectsOf(c, image), ...(c.timeout ? { timeoutS: c.timeout } : {}) });
}

const check = (r: Report, id: string, subject?: string): CheckResult => r.checks.find((x) => x.id === id && (subject === undefined || x.subject?.startsWith(subject)))!;

describe('[validate]: module trial runs', () => {
  it('good-cmdline: loads, transitions, runs the new code on tasks and vCPUs, unloads, text restored', () => {
    const r = trial(byName('good-cmdline'));
    expect(failedIds(r), JSON.stringify(r.checks.filter((x) => x.status !== 'pass'), null, 1)).toEqual([]);
    for (const id of ['trial.load', 'trial.transition', 'trial.new-code', 'trial.no-oops', 'trial.unload', 'trial.pokes', 'trial.text-restored', 'trial.no-hang']) {
      expect(check(r, id)?.status, id).toBe('pass');
    }
    const nc = check(r, 'trial.new-code');
    expect(nc.evidence.join('\n')).toMatch(/cmdline_proc_show\(\) as cpu1: before "BOOT_IMAGE=.*", after "this has been live patched"/);
    expect(nc.evidence[0]).toMatch(/klpsh:\d+/);
    const pokes = check(r, 'trial.pokes');
    expect(pokes.evidence[0]).toMatch(/cmdline_proc_show\+0x0\/0x43: 0f 1f 44 00 00 → e8 .* \(call ftrace_trampoline\+0x0\/0x[0-9a-f]+ \[__builtin__ftrace\]\)/);
    expect(pokes.evidence[1]).toMatch(/→ 0f 1f 44 00 00$/);
  });

  it('meminfo-klp-sym: a .klp.sym module passes its trial (/proc/meminfo changes)', () => {
    const r = trial(byName('meminfo-klp-sym'));
    expect(failedIds(r)).toEqual([]);
    expect(check(r, 'trial.new-code').evidence.join('\n')).toContain('cat /proc/meminfo');
  });

  it('oops-new-func: the NULL dereference is reported as an oops and the verdict is fail', () => {
    const r = trial(byName('oops-new-func'));
    expect(r.ok).toBe(false);
    expect(failedIds(r)).toContain('trial.no-oops');
    const f = check(r, 'trial.no-oops');
    // the load `mov rax, qword ptr [rax]` at +0xb, not the entry nop
    expect(f.verdict).toMatch(/oops.*livepatch_cmdline_proc_show\+0xb\/0x25 \[oops_new_func\]/);
    // The oops lines account for every oops the verdict counts (identical ones carry "(N times)").
    const n = Number(/^(\d+) oops/.exec(f.verdict)?.[1] ?? '1');
    const counted = f.evidence.filter((l) => l.startsWith('oops: ')).reduce((a, l) => a + Number(/\((\d+) times\)$/.exec(l)?.[1] ?? '1'), 0);
    expect(counted).toBe(n);
    expect(f.evidence.join('\n')).toMatch(/BUG: unable to handle page fault/);
    expect(f.evidence.join('\n')).toMatch(/Oops: 0000 \[#1\] PREEMPT SMP/);
    // print_tainted(): the module load added O (out-of-tree) and K (livepatch)
    expect(f.evidence.join('\n')).toMatch(/Comm: cat_cmdline Tainted: G {11}O {2}K {4}6\.6\.0-klpemu #1/);
    // The module still unloads and the kernel text comes back byte for byte.
    expect(check(r, 'trial.text-restored').status, JSON.stringify(r.checks, null, 1)).toBe('pass');
  });

  it('blocked-transition: names the tasks sleeping in cmdline_proc_show, with their stacks', () => {
    const r = trial(byName('blocked-transition'));
    expect(failedIds(r)).toEqual(['trial.transition']);
    const f = check(r, 'trial.transition');
    expect(f.verdict).toMatch(/did not complete in 4 s of guest time: blocked by cat_cmdline:\d+/);
    const ev = f.evidence.join('\n');
    expect(ev).toMatch(/cat_cmdline:\d+ sleeping-on-function cmdline_proc_show/);
    expect(ev).toMatch(/msleep_interruptible\+0x[0-9a-f]+\/0x[0-9a-f]+\n\s+cmdline_proc_show\+0x[0-9a-f]+\/0x43/);
    expect(check(r, 'trial.new-code').status).toBe('skip');
    expect(check(r, 'trial.unload').status).toBe('pass');
    expect(check(r, 'trial.text-restored').status).toBe('pass');
  });

  it('kthread-loop-func: a patch of the loop khungtaskd never leaves is reported with that kthread and its stack', () => {
    const r = trial(byName('kthread-loop-func'));
    expect(failedIds(r)).toEqual(['trial.transition']);
    const f = check(r, 'trial.transition');
    expect(f.verdict).toMatch(/^the patching transition of 'kthread_loop_func' did not complete in 4 s of guest time: blocked by khungtaskd:\d+$/);
    const ev = f.evidence.join('\n');
    expect(ev).toMatch(/khungtaskd:\d+ sleeping-on-function watchdog\n/);
    expect(ev).toMatch(/msleep_interruptible\+0x[0-9a-f]+\/0x[0-9a-f]+\n\s+watchdog\+0x[0-9a-f]+\/0x[0-9a-f]+\n\s+ret_from_fork\+/);
    // the same module passes every static check: only running it shows the fault
    expect(r.checks.filter((x) => !x.id.startsWith('trial.') && x.status !== 'pass')).toEqual([]);
    expect(check(r, 'trial.unload').status).toBe('pass');
    expect(check(r, 'trial.text-restored').status).toBe('pass');
  });

  // Every other good module of the corpus with a trial (the sample modules npm run build-kernel ships).
  const covered = new Set(['good-cmdline', 'meminfo-klp-sym', 'livepatch-sample', 'test_klp_mod_patch']);
  for (const c of cases().filter((x) => x.kind === 'module' && x.trial && x.expect.length === 0 && !covered.has(x.name))) {
    it(`${c.name}: passes its trial (${c.why})`, () => {
      const r = trial(c);
      expect(failedIds(r), JSON.stringify(r.checks.filter((x) => x.status !== 'pass'), null, 1)).toEqual([]);
      for (const id of ['trial.load', 'trial.transition', 'trial.unload', 'trial.text-restored']) expect(check(r, id)?.status, id).toBe('pass');
      // Each patched function is reached by the probe and runs the new code. The exceptions are
      // reported as skips, never passed over: a function of a module object the case does not
      // supply, and one no workload calls (test_klp_callbacks_busy's work item ran at insmod).
      const nc = r.checks.filter((x) => x.id === 'trial.new-code');
      for (const x of nc) {
        if (x.status !== 'pass') expect(x.verdict, x.subject).toMatch(/^not probed: \S+ is not loaded in the trial \(give --with \S+\.ko\)$|^no workload reaches busymod_work_func /);
      }
      expect(nc.length).toBe(new Set(r.checks.filter((x) => x.group === 'function').map((x) => x.subject)).size);
    });
  }

  it('livepatch-sample: passes its trial; cat /proc/cmdline by a task and cmdline_proc_show() on every vCPU print the patched line', () => {
    const r = trial(byName('livepatch-sample'));
    expect(failedIds(r)).toEqual([]);
    const nc = check(r, 'trial.new-code');
    const ev = nc.evidence.join('\n');
    expect(ev).toMatch(/cat \/proc\/cmdline: before "BOOT_IMAGE=.*", after "this has been live patched"/);
    for (const cpu of [0, 1]) expect(ev).toMatch(new RegExp(`cmdline_proc_show\\(\\) as cpu${cpu}: before ".*", after "this has been live patched"`));
  });

  it('test_klp_mod_patch: loads test_klp_mod_target first, patches its show function, compares its text too, removes both', () => {
    const r = trial(byName('test_klp_mod_patch'));
    expect(failedIds(r)).toEqual([]);
    expect(check(r, 'trial.load').verdict).toBe('insmod test_klp_mod_patch after test_klp_mod_target returned 0');
    expect(check(r, 'trial.new-code').evidence.join('\n')).toMatch(/cat \/proc\/test_klp_mod_target: before "test_klp_mod_target: original output", after "test_klp_mod_patch: this has been live patched"/);
    expect(check(r, 'trial.pokes').evidence[0]).toMatch(/^test_klp_mod_target_show\+0x0\/0x[0-9a-f]+ \[test_klp_mod_target\]: 0f 1f 44 00 00 → e8/);
    expect(check(r, 'trial.text-restored').verdict).toMatch(/^kernel and target module text \(\d+ \+ \d+ bytes\) is byte-identical/);
    expect(check(r, 'trial.unload').evidence).toEqual(expect.arrayContaining(['rmmod test_klp_mod_patch: ok', 'rmmod test_klp_mod_target: ok']));
  });

  it('test_klp_mod_target: a module that is not a livepatch loads but registers no patch, and the trial says so', () => {
    const r = trial(byName('test_klp_mod_target'));
    expect(failedIds(r)).toEqual(['mod.livepatch-modinfo', 'mod.klp-patch', 'trial.load']);
    expect(check(r, 'trial.load').verdict).toMatch(/returned 0 but registered no livepatch: nothing called klp_enable_patch \(not a livepatch module\)/);
    expect(check(r, 'trial.transition')).toBeUndefined();
    expect(check(r, 'trial.unload').verdict).toBe("removed 'test_klp_mod_target' (it registered no patch to disable)");
    expect(check(r, 'trial.text-restored').status).toBe('pass');
  });

  it('no-livepatch-modinfo: the trial shows the kernel refusing it', () => {
    const r = trial(byName('no-livepatch-modinfo'));
    const load = check(r, 'trial.load');
    expect(load.status).toBe('fail');
    expect(load.evidence.join('\n')).toContain('is not marked as a livepatch module');
    expect(check(r, 'trial.text-restored').status).toBe('pass');
  });
});
