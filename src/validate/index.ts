// index.ts - klpemu validate as a library: check a livepatch module or raw text patches, get a Report

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ET_REL } from '../elf/index.ts';
import { loadImage, DEFAULT_VMLINUX } from '../kernel/loadImage.ts';
import type { KernelImage } from '../kernel/image.ts';
import { imageView, type KernelView } from './kernelView.ts';
import { linkModule, moduleKallsyms, STATIC_MODULE_BASE, STATIC_OBJECT_BASE, type LinkedModule } from './modLink.ts';
import type { DeclPatch } from './klpStructs.ts';
import { elfCheck, moduleChecks, relocChecks } from './checks/module.ts';
import { funcChecks } from './checks/func.ts';
import { checkRawPatch, parseRawPatch, type RawPatchSpec } from './rawPatch.ts';
import { trialModule } from './trial.ts';
import { trialPatches } from './rawTrial.ts';
import type { ModuleFile, TrialOptions } from './trialKit.ts';
import { makeReport, ValidateInputError, type CheckResult, type Report } from './types.ts';

export { CHECK_IDS, ValidateInputError, failedIds, makeReport } from './types.ts';
export type { CheckResult, CheckStatus, Report } from './types.ts';
export { renderAll, renderJson, renderText, summarize, verdictLine } from './report.ts';
export { readPatchList } from './rawPatch.ts';
export type { RawPatchSpec } from './rawPatch.ts';
export { imageView, systemView } from './kernelView.ts';
export type { ModuleFile, TrialOptions } from './trialKit.ts';

/** What a validation runs against and how. */
export interface ValidateOptions extends Partial<Omit<TrialOptions, 'image'>> {
  /** vmlinux path (default kernel-image/build/vmlinux). */
  kernel?: string;
  /** An already parsed image (tests reuse one); wins over `kernel`. */
  image?: KernelImage;
  /** Run the trial (default: true for modules, false for raw patches). */
  trial?: boolean;
  /** Look for `<object>.ko` of each klp object that is a module in this directory (validateModuleFile: the module's). */
  objectDir?: string;
}

/** The static verdict on a module and what the trial needs from it. */
export interface StaticModule {
  lm: LinkedModule;
  patch?: DeclPatch;
  checks: CheckResult[];
}

/** The parsed image of the options (ValidateInputError when the file is missing or not vmlinux). */
export function imageOf(o: ValidateOptions): KernelImage {
  if (o.image) return o.image;
  try {
    return loadImage(o.kernel ?? DEFAULT_VMLINUX);
  } catch (e) {
    throw new ValidateInputError(`kernel: ${(e as Error).message}`);
  }
}

/**
 * Link the module on the host against `view` and run the module, relocation
 * and per-function checks. @throws ValidateInputError when it is not ELF
 */
export function checkModuleStatic(bytes: Uint8Array, file: string, view: KernelView, objects: ModuleFile[] = []): StaticModule {
  const linked = new Map<string, LinkedModule>();
  for (const o of objects) {
    const m = linkModule(o.bytes, o.file, view, STATIC_OBJECT_BASE);
    if (m.elf.type !== ET_REL || !m.name) throw new ValidateInputError(`${o.file}: not a kernel module (ET_REL with a .modinfo name)`);
    linked.set(m.name, m);
  }
  const lm = linkModule(bytes, file, view, STATIC_MODULE_BASE, new Map([...linked].map(([n, m]) => [n, moduleKallsyms(m)])));
  const elf = elfCheck(lm);
  if (elf.status === 'fail') return { lm, checks: [elf] };
  const { checks, patch } = moduleChecks(lm, view);
  const all = [elf, ...checks, ...relocChecks(lm), ...(patch ? funcChecks(lm, view, patch, linked) : [])];
  return { lm, checks: all, ...(patch ? { patch } : {}) };
}

/** The klp objects of a patch that are modules (not vmlinux). */
const moduleObjects = (st: StaticModule): string[] => (st.patch?.objects ?? []).filter((o) => o !== 'vmlinux');

/** Read a module file (ValidateInputError when unreadable). */
export function readModuleFile(path: string): ModuleFile {
  try {
    return { file: path, bytes: readFileSync(path) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidateInputError(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

function trialOptions(image: KernelImage, o: ValidateOptions): TrialOptions {
  const { kernel: _k, image: _i, trial: _t, objectDir: _d, ...rest } = o;
  return { ...rest, image };
}

/** Validate module bytes: static checks, then (by default) the trial run. */
export function validateModule(bytes: Uint8Array, file: string, o: ValidateOptions = {}): Report {
  const image = imageOf(o);
  for (const s of o.set ?? []) if (!image.symbols.some((x) => x.name === s.sym)) throw new ValidateInputError(`--set: unknown symbol '${s.sym}'`);
  const view = imageView(image);
  let objects = o.objects ?? [];
  let st = checkModuleStatic(bytes, file, view, objects);
  // A patch of a module (klp_object.name = "foo"): use foo.ko from the module's directory unless given.
  if (o.objectDir !== undefined) {
    const have = new Set(objects.map((x) => linkModule(x.bytes, x.file, view).name));
    const found = moduleObjects(st).filter((n) => !have.has(n)).map((n) => join(o.objectDir!, `${n}.ko`)).filter((p) => existsSync(p));
    if (found.length) {
      objects = [...objects, ...found.map(readModuleFile)];
      st = checkModuleStatic(bytes, file, view, objects);
    }
  }
  const checks = [...st.checks];
  const loadable = !checks.some((c) => c.id === 'mod.elf' && c.status === 'fail');
  if ((o.trial ?? true) && loadable) checks.push(...trialModule(bytes, st, { ...trialOptions(image, o), objects }));
  return makeReport('module', file, image.path, checks);
}

/** Validate a module file; the modules its klp objects name are taken from the same directory when there. */
export function validateModuleFile(path: string, o: ValidateOptions = {}): Report {
  const m = readModuleFile(path);
  return validateModule(m.bytes, path, { objectDir: dirname(path), ...o });
}

/** Validate raw patches {site, old, new}: static checks, then (with trial) text_poke_bp on a scratch machine. */
export function validatePatches(specs: RawPatchSpec[], input: string, o: ValidateOptions = {}): Report {
  const image = imageOf(o);
  const view = imageView(image);
  const patches = specs.map((s) => parseRawPatch(view, s));
  const checks = patches.flatMap((p) => checkRawPatch(view, p));
  if (o.trial ?? false) checks.push(...trialPatches(specs, trialOptions(image, o)));
  return makeReport('patch', input, image.path, checks);
}
