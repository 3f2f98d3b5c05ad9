// static.spec.ts - the validate corpus without trials: each bad case fails its check id, each good case passes
import { describe, expect, it } from 'vitest';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { CHECK_IDS, failedIds, validateModule, validatePatches, type Report } from '../../src/validate/index.ts';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCase, cases, KO_DIR, objectsOf, unusedSources, type Case } from '../fixtures/validate/build.ts';

const MOD_DIR = new URL('../../kernel-image/build/modules/', import.meta.url);

const image = loadImage();
const results = new Map<string, Report>();

function staticReport(c: Case): Report {
  let r = results.get(c.name);
  if (!r) {
    r = c.kind === 'module'
      ? validateModule(buildCase(c, image), `${c.name}.ko`, { image, trial: false, objects: objectsOf(c, image) })
      : validatePatches(c.patches ?? [c.patch!], c.name, { image });
    results.set(c.name, r);
  }
  return r;
}

/** Expected ids that a static run can see (trial.* ids need the trial specs). */
const staticExpect = (c: Case): string[] => c.expect.filter((id) => !id.startsWith('trial.'));

describe('[validate]: the corpus (static checks)', () => {
  const all = cases();

  it('has at least 20 bad cases, good sample modules and good raw patches', () => {
    expect(all.filter((c) => c.expect.length > 0).length).toBeGreaterThanOrEqual(20);
    expect(all.filter((c) => c.kind === 'module' && c.expect.length === 0 && c.base?.startsWith('@')).map((c) => c.name)).toEqual(
      expect.arrayContaining(['livepatch-sample', 'test_klp_livepatch', 'test_klp_atomic_replace']),
    );
    expect(all.filter((c) => c.kind === 'patch' && c.expect.length === 0).length).toBeGreaterThanOrEqual(3);
    expect(unusedSources()).toEqual([]);
  });

  it('ko/ holds exactly what build.ts assembles from the sources today (the CLI and the docs run those files)', () => {
    const built = all.filter((c) => c.kind === 'module' && !c.base?.startsWith('@'));
    const stale = built.filter((c) => !existsSync(join(KO_DIR, `${c.name}.ko`)) || !readFileSync(join(KO_DIR, `${c.name}.ko`)).equals(buildCase(c, image)));
    expect(stale.map((c) => c.name), 'regenerate with `npx tsx test/fixtures/validate/build.ts`').toEqual([]);
    expect(readdirSync(KO_DIR).filter((f) => !built.some((c) => `${c.name}.ko` === f))).toEqual([]);
  });

  it('covers every module `npm run build-kernel` builds: each livepatch is a good case, each other module a bad one', () => {
    const built = readdirSync(MOD_DIR).filter((f) => f.endsWith('.ko')).map((f) => f.slice(0, -3));
    const isLivepatch = (n: string): boolean => readFileSync(new URL(`${n}.ko`, MOD_DIR)).includes('livepatch=Y\0');
    const good = all.filter((c) => c.kind === 'module' && c.expect.length === 0).map((c) => c.base);
    const bad = all.filter((c) => c.kind === 'module' && c.expect.length > 0).map((c) => c.base);
    expect(built.length).toBeGreaterThanOrEqual(9);
    for (const n of built) expect(isLivepatch(n) ? good : bad, `${n}.ko has no case in test/fixtures/validate/cases.json`).toContain(`@${n}`);
    expect(built.filter(isLivepatch)).toEqual(expect.arrayContaining([
      'livepatch-meminfo-string', 'livepatch-sample', 'test_klp_atomic_replace', 'test_klp_callbacks_demo', 'test_klp_callbacks_demo2', 'test_klp_livepatch', 'test_klp_mod_patch', 'test_klp_syscall',
    ]));
    expect(built.filter((n) => !isLivepatch(n))).toEqual(expect.arrayContaining(['test_klp_callbacks_mod', 'test_klp_mod_target']));
  });

  for (const c of all) {
    const want = staticExpect(c);
    if (c.expect.length === 0) {
      it(`${c.kind} ${c.name}: passes every static check (${c.why})`, () => {
        const r = staticReport(c);
        expect(failedIds(r), r.checks.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.verdict}`).join('\n')).toEqual([]);
        expect(r.ok).toBe(true);
      });
    } else if (want.length) {
      it(`${c.kind} ${c.name}: flagged by ${want.join(', ')} (${c.why})`, () => {
        const r = staticReport(c);
        // Exactly these checks fail (the fault's own and its listed consequences): a case must not
        // fail for a reason other than the one it was built for.
        expect([...new Set(failedIds(r))].sort()).toEqual([...new Set([...want, ...(c.also ?? [])])].sort());
        expect(r.ok).toBe(false);
        for (const id of want) {
          const f = r.checks.find((x) => x.id === id && x.status === 'fail')!;
          expect(f.verdict.length).toBeGreaterThan(0);
          expect(f.verdict).not.toContain('\n');
        }
      });
    } else {
      it(`${c.kind} ${c.name}: passes statically (its fault only shows in the trial)`, () => {
        expect(failedIds(staticReport(c))).toEqual([]);
      });
    }
  }

  it('every static check id fails in at least one case', () => {
    const failed = new Set(all.flatMap((c) => failedIds(staticReport(c))));
    const staticIds = Object.keys(CHECK_IDS).filter((id) => !id.startsWith('trial.'));
    expect(staticIds.filter((id) => !failed.has(id))).toEqual([]);
  });

  it('names the keystone look-alike for what it is, with bytes and disassembly', () => {
    const r = staticReport(all.find((c) => c.name === 'keystone-nop-lookalike')!);
    const f = r.checks.find((x) => x.id === 'bytes.ftrace-nop')!;
    expect(f.evidence.join('\n')).toContain('0f 18 24 00 55 = nop dword ptr [rax + rax] (4 bytes); push rbp (1 byte)');
    expect(f.evidence.join('\n')).toContain('compare bytes, not disassembly');
    const s = r.checks.find((x) => x.id === 'new.no-straddle')!;
    expect(s.verdict).toContain('4 bytes');
  });

  it('shows where a call into the middle of an instruction lands', () => {
    const f = staticReport(all.find((c) => c.name === 'call-mid-instruction')!).checks.find((x) => x.id === 'new.target-boundary')!;
    expect(f.verdict).toMatch(/middle of an instruction at cmdline_proc_show\+0x7/);
    expect(f.evidence[0]).toMatch(/inside `mov rbp, rsp` \(3 bytes at cmdline_proc_show\+0x6/);
  });

  it('reports the overflowing relocation with its type and symbol', () => {
    const f = staticReport(all.find((c) => c.name === 'reloc-overflow')!).checks.find((x) => x.id === 'mod.relocs-in-range')!;
    expect(f.verdict).toContain('R_X86_64_PC32');
    expect(f.evidence.join('\n')).toContain('.klp.sym.vmlinux.user_getpid_calls,0');
  });

  it('passes the shipped livepatch-meminfo-string.ko, which reaches the unexported boot_params through .klp.sym', () => {
    const r = staticReport(all.find((c) => c.name === 'livepatch-meminfo-string')!);
    expect(failedIds(r)).toEqual([]);
    const k = r.checks.find((x) => x.id === 'mod.klp-sym-unique')!;
    expect(k.status).toBe('pass');
    expect(k.evidence.join('\n')).toMatch(/\.klp\.sym\.vmlinux\.boot_params,0 → 0x/);
  });

  it('names the keystone look-alike at a new function entry (0f 18 24 00, then push rbp)', () => {
    const f = staticReport(all.find((c) => c.name === 'new-func-lookalike-nop')!).checks.find((x) => x.id === 'mod.new-traceable')!;
    expect(f.status).toBe('fail');
    expect(f.evidence.join('\n')).toContain('starts with 0f 18 24 00 55 = nop dword ptr [rax + rax] (4 bytes); push rbp (1 byte)');
    expect(f.evidence.join('\n')).toContain('compare bytes, not disassembly');
  });

  it('catches a 5-byte nop with another ModRM even though it disassembles like the ftrace nop', () => {
    const f = staticReport(all.find((c) => c.name === 'nop5-other-modrm-reg')!).checks.find((x) => x.id === 'bytes.ftrace-nop')!;
    expect(f.verdict).toBe('old (0f 1f 4c 00 00) is not the ftrace nop 0f 1f 44 00 00');
    expect(f.evidence.join('\n')).toContain('not x86_nops[5]');
  });

  it('a callbacks-only patch (an object with an empty funcs array) is well formed', () => {
    const k = staticReport(all.find((c) => c.name === 'callbacks-only')!).checks.find((x) => x.id === 'mod.klp-patch')!;
    expect(k.status).toBe('pass');
    expect(k.verdict).toBe('klp_patch with 0 functions in 1 object (no functions: callbacks only)');
    expect(k.evidence.join('\n')).toContain('replace=0, objects vmlinux');
  });

  it('resolves a module object against the supplied target module, and skips it (with a hint) without one', () => {
    const withTarget = staticReport(all.find((c) => c.name === 'test_klp_mod_patch')!);
    const res = withTarget.checks.find((x) => x.id === 'mod.klp-func-resolves')!;
    expect(res.status).toBe('pass');
    expect(res.evidence.join('\n')).toMatch(/test_klp_mod_target_show\+0x0\/0x[0-9a-f]+ \[test_klp_mod_target\] \(func, global\)/);
    expect(withTarget.checks.filter((x) => x.status === 'skip')).toEqual([]);
    const without = staticReport(all.find((c) => c.name === 'test_klp_mod_patch-without-target')!);
    expect(without.ok).toBe(true);
    const skip = without.checks.find((x) => x.id === 'mod.klp-func-resolves')!;
    expect(skip.status).toBe('skip');
    expect(skip.verdict).toContain('--with test_klp_mod_target.ko');
    const bad = staticReport(all.find((c) => c.name === 'mod-object-unknown-func')!).checks.find((x) => x.id === 'mod.klp-func-resolves')!;
    expect(bad.verdict).toBe("symbol 'test_klp_mod_target_shw' not found in symbol table of test_klp_mod_target");
  });

  it('says plainly that a module which is not a livepatch is not one', () => {
    for (const n of ['test_klp_mod_target', 'test_klp_callbacks_mod']) {
      const r = staticReport(all.find((c) => c.name === n)!);
      expect(failedIds(r)).toEqual(['mod.livepatch-modinfo', 'mod.klp-patch']);
      expect(r.checks.find((x) => x.id === 'mod.klp-patch')!.verdict).toBe('init never calls klp_enable_patch: this is not a livepatch module');
      expect(r.checks.find((x) => x.id === 'mod.livepatch-modinfo')!.verdict).toContain(`module ${n} is not marked as a livepatch module`);
    }
  });
});
