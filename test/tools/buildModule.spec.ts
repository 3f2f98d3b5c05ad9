// buildModule.spec.ts - `klpemu build-module`: a source becomes the same .ko the kernel build ships; bad input is one line and an exit code
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../tools/build-module.ts';

const dir = mkdtempSync(join(tmpdir(), 'klpemu-bm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ rc: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { rc: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('[tools/build-module]', () => {
  it('builds livepatch-meminfo-string.S into the byte-identical .ko of the kernel build', async () => {
    const src = join(dir, 'livepatch-meminfo-string.S');
    copyFileSync(new URL('../../kernel-image/modules/livepatch-meminfo-string.S', import.meta.url), src);
    const r = await run([src, '-o', join(dir, 'out.ko')]);
    expect(r.rc).toBe(0);
    expect(r.out).toMatch(/LD \[M\] .*out\.ko \(module livepatch_meminfo_string, \d+ bytes\)/);
    const built = readFileSync(join(dir, 'out.ko'));
    expect(built.equals(readFileSync(new URL('../../kernel-image/build/modules/livepatch-meminfo-string.ko', import.meta.url)))).toBe(true);
    expect(built.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(built.readUInt16LE(16)).toBe(1); // ET_REL
  });

  it('a source that does not assemble: exit 1 and one line naming the file', async () => {
    const src = join(dir, 'broken.S');
    writeFileSync(src, '.section .text\nSYM_FUNC_START broken_fn\n\tmovq %%bogus, 12\nSYM_FUNC_END broken_fn\n');
    const r = await run([src]);
    expect(r.rc).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^build-module: .*broken\.S: /);
  });

  it('a missing file or a wrong argument: exit 2', async () => {
    expect((await run([join(dir, 'nope.S')])).err).toBe(`build-module: ${join(dir, 'nope.S')}: No such file or directory\n`);
    expect((await run([join(dir, 'nope.S')])).rc).toBe(2);
    expect((await run(['x.c'])).rc).toBe(2);
    expect((await run(['--frobnicate'])).rc).toBe(2);
  });
});
