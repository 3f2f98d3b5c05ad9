// build-module.ts - `klpemu build-module SRC.S [-o OUT.ko] [--kernel vmlinux]`: one assembly source to an ELF relocatable module

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadImage } from '../src/kernel/loadImage.ts';
import { buildModuleFile } from '../src/module/sources.ts';

const USAGE = `usage: klpemu build-module SRC.S [-o OUT.ko] [--kernel vmlinux]

Assembles SRC.S with the kernel's macros (kernel-image/asm.inc, modules/module.inc):
one section per function, relocations for every reference outside its section
(derived from keystone's bytes and verified), .modinfo, __mcount_loc, and the
.klp.rela/.klp.sym sections of a livepatch module. References resolve against
--kernel (default kernel-image/build/vmlinux). Output: SRC with .ko (or -o).
`;

/** Entry point: returns the exit code (0 built, 1 the source did not build, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({ args: argv, allowPositionals: true, options: { output: { type: 'string', short: 'o' }, kernel: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`build-module: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (a.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [src, ...extra] = a.positionals;
  if (!src || extra.length || !src.endsWith('.S')) {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    readFileSync(src);
  } catch (e) {
    process.stderr.write(`build-module: ${src}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}\n`);
    return 2;
  }
  try {
    const image = loadImage(a.values.kernel);
    const { name, ko } = buildModuleFile(src, image);
    const out = a.values.output ?? src.replace(/\.S$/, '.ko');
    writeFileSync(out, ko);
    process.stdout.write(`  LD [M]  ${out} (module ${name}, ${ko.length} bytes)\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`build-module: ${src}: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  }
}
