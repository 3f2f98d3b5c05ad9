// rawPatch.ts - a raw text patch {site, old, new}: parsing (hex or `call SYM`), the JSON list, its static checks

import { readFileSync } from 'node:fs';
import { hexAddr, resolveAddress, symbolize, type KernelView } from './kernelView.ts';
import { FTRACE_NOP, encodeRel32, parseHex } from './insn.ts';
import { ValidateInputError, type CheckResult } from './types.ts';
import { bytesChecks, siteChecks } from './checks/site.ts';
import { insnChecks, targetChecks } from './checks/new.ts';

/** A patch as a user or a JSON file gives it. */
export interface RawPatchSpec {
  site: string;
  /** Hex bytes, `nop` (the ftrace nop), or `call SYM|ADDR` / `jmp SYM|ADDR` (encoded at the site). */
  old: string;
  new: string;
  /** The address `new` is meant to reach (optional; `call SYM` sets it). */
  target?: string;
}

/** A resolved patch. */
export interface RawPatch {
  spec: RawPatchSpec;
  site: bigint;
  old: Uint8Array;
  new: Uint8Array;
  target?: bigint;
  /** `cmdline_proc_show (0xffffffff81001230)`: the subject of its checks. */
  label: string;
}

function addr(view: KernelView, spec: string, what: string): bigint {
  const a = resolveAddress(view, spec);
  if (typeof a === 'string') throw new ValidateInputError(`${what}: ${a}`);
  return a;
}

/** Bytes from hex, `nop`, or `call/jmp TARGET` (rel32 truncated as a careless tool would). */
function bytesOf(view: KernelView, text: string, site: bigint, what: string): { bytes: Uint8Array; target?: bigint } {
  const t = text.trim();
  if (/^nop5?$/i.test(t)) return { bytes: Uint8Array.from(FTRACE_NOP) };
  const m = /^(call|jmp)\s+(\S+)$/i.exec(t);
  if (m) {
    const target = addr(view, m[2]!, `${what} target`);
    return { bytes: encodeRel32(m[1]!.toLowerCase() as 'call' | 'jmp', site, target), target };
  }
  return { bytes: parseHex(t, what) };
}

/** Resolve a spec against a kernel view; throws ValidateInputError on bad input. */
export function parseRawPatch(view: KernelView, spec: RawPatchSpec): RawPatch {
  if (typeof spec.site !== 'string' || typeof spec.old !== 'string' || typeof spec.new !== 'string') {
    throw new ValidateInputError('a patch needs string fields site, old and new');
  }
  const site = addr(view, spec.site, 'site');
  const old = bytesOf(view, spec.old, site, 'old');
  const nw = bytesOf(view, spec.new, site, 'new');
  const target = spec.target !== undefined ? addr(view, spec.target, 'target') : nw.target;
  const label = `${spec.site} (${hexAddr(site)} ${symbolize(view, site)})`;
  return { spec, site, old: old.bytes, new: nw.bytes, ...(target !== undefined ? { target } : {}), label };
}

/** Read a JSON list of {site, old, new[, target]} (or {patches: [...]}). */
export function readPatchList(path: string): RawPatchSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValidateInputError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ValidateInputError(`${path}: not JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(json) ? json : (json as { patches?: unknown })?.patches;
  if (!Array.isArray(list) || list.length === 0) throw new ValidateInputError(`${path}: expected a non-empty list of {site, old, new}`);
  return list.map((p, i) => {
    const o = p as Record<string, unknown>;
    if (typeof o?.site !== 'string' || typeof o.old !== 'string' || typeof o.new !== 'string') {
      throw new ValidateInputError(`${path}: patch ${i}: needs string fields site, old and new`);
    }
    return { site: o.site, old: o.old, new: o.new, ...(typeof o.target === 'string' ? { target: o.target } : {}) };
  });
}

/** Every static check of one patch, in report order: site, bytes, new. */
export function checkRawPatch(view: KernelView, p: RawPatch): CheckResult[] {
  return [...siteChecks(view, p), ...bytesChecks(view, p), ...insnChecks(view, p), ...targetChecks(view, p)];
}
