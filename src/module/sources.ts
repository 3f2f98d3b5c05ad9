// sources.ts - build module sources against a kernel image: the prelude and the kernel's symbol names

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelImage } from '../kernel/image.ts';
import { splitDefinitions } from '../build/assemble.ts';
import { parseSource } from '../build/sourceFile.ts';
import { buildModule, moduleNameOf } from './build.ts';

const IMAGE_DIR = fileURLToPath(new URL('../../kernel-image/', import.meta.url));
export const MODULES_SRC = join(IMAGE_DIR, 'modules');

/** The kernel's macros (asm.inc) and the module macros (module.inc), as definition lines. */
export function modulePrelude(): string[] {
  const out: string[] = [];
  for (const f of [join(IMAGE_DIR, 'asm.inc'), join(MODULES_SRC, 'module.inc')]) {
    const src = parseSource(f, readFileSync(f, 'utf8'), 0);
    out.push(...splitDefinitions(src.lines.get('.text') ?? []).defs.map((d) => d.text));
  }
  return out;
}

/** Build one module source against `image`; returns its name and .ko bytes. */
export function buildModuleFile(path: string, image: KernelImage): { name: string; ko: Buffer } {
  const names = new Set(image.symbols.map((s) => s.name));
  const ko = buildModule(path.replace(/^.*\//, ''), readFileSync(path, 'utf8'), names, modulePrelude());
  return { name: moduleNameOf(path), ko };
}

/** Every module source shipped in kernel-image/modules. */
export function moduleSources(): string[] {
  return readdirSync(MODULES_SRC).filter((f) => f.endsWith('.S')).sort().map((f) => join(MODULES_SRC, f));
}
