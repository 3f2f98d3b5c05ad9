// staticModule.ts - every static check of a livepatch module, without booting anything

import { linkModule, type LinkedModule } from './modLink.ts';
import type { KernelView } from './kernelView.ts';
import type { DeclPatch } from './klpStructs.ts';
import { elfCheck, moduleChecks } from './checks/module.ts';
import { relocChecks } from './checks/relocs.ts';
import { funcChecks } from './checks/func.ts';
import type { CheckResult } from './types.ts';

/** The static verdict on a module and what the trial needs from it. */
export interface StaticModule {
  lm: LinkedModule;
  patch?: DeclPatch;
  checks: CheckResult[];
}

/**
 * Link the module on the host against `view` and run the module, relocation
 * and per-function checks. @throws ValidateInputError when it is not ELF
 */
export function checkModuleStatic(bytes: Uint8Array, file: string, view: KernelView): StaticModule {
  const lm = linkModule(bytes, file, view);
  const elf = elfCheck(lm);
  if (elf.status === 'fail') return { lm, checks: [elf] };
  const { checks, patch } = moduleChecks(lm, view);
  const all = [elf, ...checks, ...relocChecks(lm), ...(patch ? funcChecks(lm, view, patch) : [])];
  return { lm, checks: all, ...(patch ? { patch } : {}) };
}
