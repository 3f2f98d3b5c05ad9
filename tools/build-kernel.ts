// build-kernel.ts - assemble kernel-image/*.S into kernel-image/build/{vmlinux,System.map}

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { linkKernel, readSources } from '../src/build/vmlinux.ts';
import { selfCheck } from '../src/build/selfCheck.ts';
import { parseImage } from '../src/kernel/loadImage.ts';
import { buildModuleFile, moduleSources } from '../src/module/sources.ts';

const srcDir = fileURLToPath(new URL('../kernel-image/', import.meta.url));
const outDir = join(srcDir, 'build');

function main(): number {
  const files = readSources(srcDir);
  const res = linkKernel(files);
  const img = parseImage(res.elf, 'vmlinux');
  const errs = selfCheck(img);
  if (errs.length) {
    for (const e of errs) process.stderr.write(`build-kernel: ${e}\n`);
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'vmlinux'), res.elf);
  writeFileSync(join(outDir, 'System.map'), res.systemMap);
  const funcs = img.symbols.filter((s) => s.type === 'func').length;
  process.stdout.write(`  LD      vmlinux (${files.length} files, ${funcs} functions, ${img.mcountLoc.length} in __mcount_loc, ${res.elf.length} bytes)\n`);
  process.stdout.write('  NM      System.map\n');
  mkdirSync(join(outDir, 'modules'), { recursive: true });
  for (const src of moduleSources()) {
    const { ko } = buildModuleFile(src, img);
    const out = join(outDir, 'modules', src.replace(/^.*\//, '').replace(/\.S$/, '.ko'));
    writeFileSync(out, ko);
    process.stdout.write(`  LD [M]  ${out.slice(srcDir.length)}\n`);
  }
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`build-kernel: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
