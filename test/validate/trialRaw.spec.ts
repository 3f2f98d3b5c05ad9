// trialRaw.spec.ts - raw patches applied with text_poke_bp on a scratch machine: good ones run, bad ones are caught
import { describe, expect, it } from 'vitest';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { failedIds, validatePatches, type CheckResult, type Report } from '../../src/validate/index.ts';
import { cases, type Case } from '../fixtures/validate/build.ts';

const image = loadImage();
const byName = (n: string): Case => cases().find((c) => c.name === n)!;
const run = (c: Case): Report => validatePatches(c.patches ?? [c.patch!], c.name, { image, trial: true });
const check = (r: Report, id: string): CheckResult[] => r.checks.filter((x) => x.id === id);

describe('[validate]: raw patch trial runs', () => {
  it('call-ftrace-caller: applied with one text_poke_bp batch, readers reach ftrace_caller, reverted, text identical', () => {
    const r = run(byName('call-ftrace-caller'));
    expect(failedIds(r), JSON.stringify(r.checks.filter((x) => x.status !== 'pass'), null, 1)).toEqual([]);
    expect(check(r, 'trial.apply')[0]!.verdict).toBe('applied 1 site with text_poke_bp (3 syncs)');
    const ran = check(r, 'trial.new-code')[0]!;
    expect(ran.status).toBe('pass');
    expect(ran.evidence.join('\n')).toMatch(/call target 0xffffffff[0-9a-f]+ reached: .*cat_cmdline:\d+/);
    expect(check(r, 'trial.text-restored')[0]!.status).toBe('pass');
  });

  it('two-sites: both sites go in one batch and come back', () => {
    const r = run(byName('two-sites'));
    expect(failedIds(r)).toEqual([]);
    expect(check(r, 'trial.apply')[0]!.verdict).toBe('applied 2 sites with text_poke_bp (3 syncs)');
    expect(check(r, 'trial.new-code').map((x) => x.subject)).toEqual([expect.stringMatching(/^cmdline_proc_show/), expect.stringMatching(/^version_proc_show/)]);
  });

  it('call-crashes: a call into the second byte of the nop oopses every reader', () => {
    const r = run(byName('call-crashes'));
    expect(failedIds(r)).toEqual(expect.arrayContaining(['new.target-boundary', 'trial.no-oops']));
    const oops = check(r, 'trial.no-oops')[0]!;
    expect(oops.verdict).toMatch(/oops.*cmdline_proc_show\+0x[12]\/0x43/);
    expect(oops.evidence.join('\n')).toMatch(/invalid opcode|Oops/);
    expect(check(r, 'trial.revert')[0]!.status).toBe('pass');
    expect(check(r, 'trial.text-restored')[0]!.status).toBe('pass');
  });

  it('a jmp to itself hangs the reader: the watchdog and the stall detector report it', () => {
    const r = validatePatches([{ site: 'cmdline_proc_show', old: 'nop', new: 'e9 fb ff ff ff' }], 'jmp-self', { image, trial: true });
    expect(failedIds(r)).toEqual(expect.arrayContaining(['new.target-boundary', 'trial.no-hang']));
    expect(check(r, 'trial.no-hang')[0]!.verdict).toMatch(/stopped making progress: cat \/proc\/cmdline/);
    expect(r.checks.find((x) => x.id === 'new.target-boundary')!.verdict).toBe('the jmp targets its own site: an endless loop');
    expect(check(r, 'trial.text-restored')[0]!.status).toBe('pass');
  });

  it('a stale old is refused before anything is written', () => {
    const r = run(byName('old-mismatch'));
    const apply = check(r, 'trial.apply')[0]!;
    expect(apply.status).toBe('fail');
    expect(apply.verdict).toMatch(/holds 0f 1f 44 00 00, not e8 00 00 00 00; nothing written/);
    expect(check(r, 'trial.text-restored')[0]!.status).toBe('pass');
  });
});
