// cli.spec.ts - `npx klpemu validate` as a user runs it: a subprocess, its exit status, stdout and stderr
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECK_IDS } from '../../src/validate/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODS = 'kernel-image/build/modules';
const KO = 'test/fixtures/validate/ko';
const FIX = 'test/fixtures/validate';
const tmp = mkdtempSync(join(tmpdir(), 'klpemu-validate-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  /** stderr without npm's own warnings (npx prints those about the user's npmrc). */
  stderr: string;
}

// The machine is shared: at most two klpemu processes at a time.
let running = 0;
const queue: (() => void)[] = [];
async function slot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    queue.shift()?.();
  }
}

/** `npx klpemu validate ARGS` in the repository. */
function klpemu(...args: string[]): Promise<Run> {
  return slot(() => new Promise((resolve) => {
    execFile('npx', ['--no-install', 'klpemu', 'validate', ...args], { cwd: ROOT, timeout: 170_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr: stderr.split('\n').filter((l) => l && !/^npm (warn|notice)/i.test(l)).join('\n') });
    });
  }));
}

/** The JSON report shape `--json` prints for one input. */
interface JsonReport {
  kind: 'module' | 'patch';
  input: string;
  kernel: string;
  ok: boolean;
  checks: { id: string; group: string; subject?: string; status: 'pass' | 'fail' | 'skip'; verdict: string; evidence: string[] }[];
  summary: { passed: number; failed: number; skipped: number; total: number };
  failed: string[];
}

const lastLine = (s: string): string => s.trimEnd().split('\n').at(-1)!;

/** The output docs/validate.md shows for `$ klpemu validate ARGS` (the block's lines after the command). */
function documented(cmdPrefix: string): string {
  const doc = readFileSync(join(ROOT, 'docs/validate.md'), 'utf8');
  const start = doc.indexOf(`$ klpemu validate ${cmdPrefix}`);
  expect(start, cmdPrefix).toBeGreaterThan(0);
  const body = doc.slice(doc.indexOf('\n', start) + 1, doc.indexOf('\n```', start));
  return body;
}
/**
 * What the docs' example must share with the output: everything but this checkout's vmlinux path
 * and what moves when the kernel is rebuilt (addresses, symbol sizes, text size, run counts).
 */
const noKernelPath = (s: string): string => s
  .replace(/^ {2}kernel: .*$/m, '  kernel: <vmlinux>')
  .replace(/0x[0-9a-f]+/g, '0x_')
  .replace(/\b\d+(?= (?:bytes|times|ms|attempts)\b)/g, 'N')
  .trimEnd();

describe.concurrent('[validate]: the klpemu validate command', () => {
  it('a good livepatch module: trial on by default, ✓ lines grouped, PASS verdict, exit 0', async () => {
    const r = await klpemu(`${MODS}/livepatch-sample.ko`);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^klpemu validate: kernel-image\/build\/modules\/livepatch-sample\.ko\n {2}kernel: .*vmlinux\n/);
    for (const g of ['\nmodule\n', '\nrelocations\n', '\nfunction: vmlinux:cmdline_proc_show → livepatch_cmdline_proc_show\n', '\ntrial\n']) expect(r.stdout).toContain(g);
    expect(r.stdout).toMatch(/\n {2}✓ trial\.text-restored +kernel text \(\d+ bytes\) is byte-identical to the snapshot\n/);
    expect(r.stdout).not.toContain('✗');
    expect(lastLine(r.stdout)).toMatch(/^verdict: PASS - \d+ checks passed$/);
    expect(noKernelPath(r.stdout), 'docs/validate.md shows this report').toBe(noKernelPath(documented('kernel-image/build/modules/livepatch-sample.ko')));
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'README.md quotes the verdict').toContain(`ends in\n   \`${lastLine(r.stdout)}\``);
  }, 180_000);

  it('the failing raw patch report in docs/validate.md is what the command prints', async () => {
    const r = await klpemu('--site', 'cmdline_proc_show', '--old', '0f 18 24 00 55', '--new', 'call ftrace_caller');
    expect(r.code).toBe(1);
    expect(noKernelPath(r.stdout)).toBe(noKernelPath(documented("--site cmdline_proc_show --old '0f 18 24 00 55'")));
    // README.md shows an excerpt of the same report: its lines, in order
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const at = readme.indexOf("$ klpemu validate --site cmdline_proc_show --old '0f 18 24 00 55'");
    expect(at).toBeGreaterThan(0);
    const excerpt = readme.slice(readme.indexOf('\n', at) + 1, readme.indexOf('```', at)).split('\n').map((l) => noKernelPath(l.trim())).filter((l) => l && l !== '...');
    const out = r.stdout.split('\n').map((l) => noKernelPath(l.trim()));
    let from = 0;
    for (const l of excerpt) {
      const i = out.indexOf(l, from);
      expect(i, `README line not in the report: ${l}`).toBeGreaterThanOrEqual(0);
      from = i + 1;
    }
  }, 60_000);

  it('a bad module: the failing check with its evidence, FAIL verdict naming the id, exit 1', async () => {
    const r = await klpemu('--no-trial', `${KO}/no-livepatch-modinfo.ko`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\n {2}✗ mod\.livepatch-modinfo +\.modinfo has no livepatch= key: "module no_livepatch_modinfo is not marked as a livepatch module"\n {6}\.modinfo: /);
    expect(lastLine(r.stdout)).toBe('verdict: FAIL - 1 of 12 checks failed: mod.livepatch-modinfo');
    expect(r.stdout).not.toContain('\ntrial\n');
  }, 60_000);

  it('--json: parses, carries ids, verdicts, evidence, the summary and the failed ids; exit 1', async () => {
    const r = await klpemu('--json', '--site', 'cmdline_proc_show', '--old', '0f 18 24 00 55', '--new', 'call ftrace_caller');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(j.kind).toBe('patch');
    expect(j.ok).toBe(false);
    // The site holds the real nop, so old does not match either.
    expect(j.failed).toEqual(['bytes.old-match', 'bytes.ftrace-nop', 'new.no-straddle']);
    expect(j.summary).toEqual({ passed: 9, failed: 3, skipped: 0, total: 12 });
    const nop = j.checks.find((c) => c.id === 'bytes.ftrace-nop')!;
    expect(nop).toMatchObject({ group: 'bytes', status: 'fail', verdict: 'old (0f 18 24 00 55) is not the ftrace nop 0f 1f 44 00 00' });
    expect(nop.subject).toMatch(/^cmdline_proc_show \(0xffffffff[0-9a-f]+ cmdline_proc_show\+0x0\/0x43\)$/);
    expect(nop.evidence).toContain('old: 0f 18 24 00 55 = nop dword ptr [rax + rax] (4 bytes); push rbp (1 byte)');
    for (const c of j.checks) {
      expect(Object.keys(CHECK_IDS)).toContain(c.id);
      expect(['pass', 'fail', 'skip']).toContain(c.status);
      expect(Array.isArray(c.evidence)).toBe(true);
    }
  }, 60_000);

  it('a good raw patch passes with exit 0; --trial runs it on a scratch machine', async () => {
    const r = await klpemu('--site', 'cmdline_proc_show', '--old', '0f 1f 44 00 00', '--new', 'e8 00 00 00 00', '--trial', '--json');
    // e8 00 00 00 00 calls the next instruction: not an entry.
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as JsonReport).failed).toContain('new.target-boundary');
    const ok = await klpemu('--site', 'cmdline_proc_show', '--old', 'nop', '--new', 'call ftrace_caller', '--trial');
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/✓ trial\.apply +applied 1 site with text_poke_bp/);
    expect(ok.stdout).toMatch(/✓ trial\.revert +reverted 1 site/);
    expect(lastLine(ok.stdout)).toMatch(/^verdict: PASS/);
  }, 180_000);

  it('--patches FILE.json: a list (or {patches: [...]}) of raw patches, each checked under its own subject', async () => {
    const good = await klpemu('--patches', `${FIX}/patches-good.json`, '--json');
    expect(good.code).toBe(0);
    const g = JSON.parse(good.stdout) as JsonReport;
    expect(new Set(g.checks.map((c) => c.subject!.split(' ')[0]))).toEqual(new Set(['cmdline_proc_show', 'version_proc_show', 'meminfo_proc_show']));
    const bad = await klpemu('--patches', `${FIX}/patches-bad.json`);
    expect(bad.code).toBe(1);
    expect(lastLine(bad.stdout)).toBe('verdict: FAIL - 4 of 36 checks failed: bytes.old-match, bytes.ftrace-nop, new.no-straddle, new.target-boundary');
    expect(bad.stdout).toMatch(/\nbytes: version_proc_show \(.*\)\n {2}✗ bytes\.old-match/);
    expect(bad.stdout).toMatch(/\nnew: meminfo_proc_show \(.*\)\n(?: .*\n)*? {2}✗ new\.target-boundary +call into the middle of an instruction at cmdline_proc_show\+0x7\/0x43/);
  }, 60_000);

  it('--kernel: the checks run against the vmlinux given', async () => {
    const copy = join(tmp, 'vmlinux-copy');
    copyFileSync(join(ROOT, 'kernel-image/build/vmlinux'), copy);
    const r = await klpemu('--kernel', copy, '--no-trial', '--json', `${MODS}/test_klp_livepatch.ko`);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as JsonReport).kernel).toBe(copy);
    const t = await klpemu('--kernel', copy, '--site', 'cmdline_proc_show', '--old', 'nop', '--new', 'call ftrace_caller');
    expect(t.code).toBe(0);
    expect(t.stdout.split('\n')[1]).toBe(`  kernel: ${copy}`);
  }, 60_000);

  it('a patch of a module function: the target is found next to the patch, or given with --with', async () => {
    const r = await klpemu('--no-trial', `${MODS}/test_klp_mod_patch.ko`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ mod\.klp-func-resolves +test_klp_mod_target_show,0 resolves to 0xffffffffa/);
    const w = await klpemu('--no-trial', '--with', `${MODS}/test_klp_mod_target.ko`, `${KO}/mod-object-unknown-func.ko`);
    expect(w.code).toBe(1);
    expect(w.stdout).toContain("✗ mod.klp-func-resolves  symbol 'test_klp_mod_target_shw' not found in symbol table of test_klp_mod_target");
  }, 60_000);

  it('modules that are not livepatches fail with a plain verdict; several modules give a JSON array', async () => {
    const r = await klpemu('--no-trial', '--json', `${MODS}/test_klp_mod_target.ko`, `${MODS}/test_klp_callbacks_mod.ko`, `${MODS}/test_klp_callbacks_demo.ko`);
    expect(r.code).toBe(1);
    const list = JSON.parse(r.stdout) as JsonReport[];
    expect(list.map((x) => [x.input.split('/').at(-1), x.ok, x.failed])).toEqual([
      ['test_klp_mod_target.ko', false, ['mod.livepatch-modinfo', 'mod.klp-patch']],
      ['test_klp_callbacks_mod.ko', false, ['mod.livepatch-modinfo', 'mod.klp-patch']],
      ['test_klp_callbacks_demo.ko', true, []],
    ]);
    // Nothing was skipped: the objects test_klp_callbacks_demo names were found next to it.
    expect(list[2]!.summary.skipped).toBe(0);
    expect(list[0]!.checks.find((c) => c.id === 'mod.klp-patch')!.verdict).toBe('init never calls klp_enable_patch: this is not a livepatch module');
  }, 60_000);

  it('--list-checks prints every check id; --help the usage; both exit 0', async () => {
    const l = await klpemu('--list-checks');
    expect(l.code).toBe(0);
    expect(l.stdout.trim().split('\n').map((x) => x.split(/\s+/)[0])).toEqual(Object.keys(CHECK_IDS));
    const h = await klpemu('--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('exit status: 0 every check passed, 1 a check failed, 2 bad input');
  }, 60_000);

  // Bad input: one line on stderr, nothing on stdout, exit status 2.
  const notJson = join(tmp, 'not.json');
  const noField = join(tmp, 'nofield.json');
  const notElf = join(tmp, 'not-elf.ko');
  writeFileSync(notJson, '[{"site": "cmdline_proc_show",');
  writeFileSync(noField, JSON.stringify([{ site: 'cmdline_proc_show', old: 'nop' }]));
  writeFileSync(notElf, 'this is not an ELF file\n');
  const bad: [string, string[], RegExp][] = [
    ['a missing module file', ['/nonexistent/patch.ko'], /^klpemu validate: \/nonexistent\/patch\.ko: no such file$/],
    ['a directory for a module', ['--no-trial', MODS], /^klpemu validate: kernel-image\/build\/modules: is a directory$/],
    ['a file that is not ELF', ['--no-trial', notElf], /^klpemu validate: .*not-elf\.ko: not a valid ELF file \(.+\)$/],
    ['malformed hex in --old', ['--site', 'cmdline_proc_show', '--old', '0f 1f 4', '--new', 'call ftrace_caller'], /^klpemu validate: old: malformed hex '0f 1f 4'$/],
    ['malformed hex in --new', ['--site', 'cmdline_proc_show', '--old', 'nop', '--new', 'e8 zz 00 00 00'], /^klpemu validate: new: malformed hex 'e8 zz 00 00 00'$/],
    ['an unknown site symbol', ['--site', 'no_such_function', '--old', 'nop', '--new', 'call ftrace_caller'], /^klpemu validate: site: unknown symbol 'no_such_function'$/],
    ['an unknown call target', ['--site', 'cmdline_proc_show', '--old', 'nop', '--new', 'call no_such_target'], /^klpemu validate: new target: unknown symbol 'no_such_target'$/],
    ['a missing --kernel', ['--kernel', '/nonexistent/vmlinux', `${MODS}/livepatch-sample.ko`], /^klpemu validate: kernel: \/nonexistent\/vmlinux/],
    ['a missing patch list', ['--patches', '/nonexistent/p.json'], /^klpemu validate: \/nonexistent\/p\.json: no such file$/],
    ['a patch list that is not JSON', ['--patches', notJson], /^klpemu validate: .*not\.json: not JSON \(.+\)$/],
    ['a patch without new', ['--patches', noField], /^klpemu validate: .*nofield\.json: patch 0: needs string fields site, old and new$/],
    ['--site without --new', ['--site', 'cmdline_proc_show', '--old', 'nop'], /^klpemu validate: --site, --old and --new go together$/],
    ['no input at all', [], /^klpemu validate: give MODULE\.ko, or --site\/--old\/--new, or --patches FILE\.json \(see --help\)$/],
    ['an unknown option', ['--frobnicate', `${MODS}/livepatch-sample.ko`], /^klpemu validate: Unknown option '--frobnicate'/],
    ['--set of an unknown symbol', ['--set', 'no_such_var=1', `${MODS}/livepatch-sample.ko`], /^klpemu validate: --set: unknown symbol 'no_such_var'$/],
    ['a missing --with module', ['--with', '/nonexistent/t.ko', `${MODS}/test_klp_mod_patch.ko`], /^klpemu validate: \/nonexistent\/t\.ko: no such file$/],
  ];
  for (const [what, args, msg] of bad) {
    it(`bad input (${what}): a one-line error and exit 2`, async () => {
      const r = await klpemu(...args);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }, 60_000);
  }
});
