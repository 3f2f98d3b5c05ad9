// static.spec.ts - the validate corpus without trials: each bad case fails its check id, each good case passes
import { describe, expect, it } from 'vitest';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { CHECK_IDS, failedIds, validateModule, validatePatches, type Report } from '../../src/validate/index.ts';
import { buildCase, cases, unusedSources, type Case } from '../fixtures/validate/build.ts';

const image = loadImage();
const results = new Map<string, Report>();

function staticReport(c: Case): Report {
  let r = results.get(c.name);
  if (!r) {
    r = c.kind === 'module'
      ? validateModule(buildCase(c, image), `${c.name}.ko`, { image, trial: false })
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
        expect(failedIds(r)).toEqual(expect.arrayContaining(want));
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
    const c: Case = { kind: 'module', name: 'livepatch-meminfo-string', base: '@livepatch-meminfo-string', expect: [], why: '' };
    const r = validateModule(buildCase(c, image), 'livepatch-meminfo-string.ko', { image, trial: false });
    expect(failedIds(r)).toEqual([]);
    expect(r.checks.find((x) => x.id === 'mod.klp-sym-unique')!.status).toBe('pass');
  });
});
