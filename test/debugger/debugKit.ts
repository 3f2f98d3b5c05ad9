// debugKit.ts - debugger tests: a booted system under a Debugger whose output is captured per command

import { createSystem, type System } from '../../src/system.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import type { KernelImage } from '../../src/kernel/image.ts';
import { Debugger } from '../../src/debugger/session.ts';
import { targetOfSystem, type DebugTarget } from '../../src/debugger/target.ts';

let image: KernelImage | undefined;

/** kernel-image/build/vmlinux, parsed once per test file (globalSetup rebuilds it when stale). */
export function builtImage(): KernelImage {
  image ??= loadImage();
  return image;
}

/** A debugger session whose output is collected; `run` returns what one command printed. */
export interface Session {
  sys: System;
  d: Debugger;
  /** Everything printed so far. */
  out: () => string;
  /** Run one command line: its success and what it printed. */
  run: (line: string) => Promise<{ ok: boolean; text: string }>;
  /** Run a command that must succeed; returns its output. */
  ok: (line: string) => Promise<string>;
  /** Run a command that must fail; returns its output. */
  fails: (line: string) => Promise<string>;
  close: () => void;
}

/** Wrap any target (a bare kernel too) in a captured session. */
export function sessionOf(target: DebugTarget, sys?: System): Session {
  let buf = '';
  const d = new Debugger(target, { out: (t) => void (buf += t), continueLimitNs: 3_000_000_000n });
  const run = async (line: string): Promise<{ ok: boolean; text: string }> => {
    const from = buf.length;
    const ok = await d.execute(line);
    return { ok, text: buf.slice(from) };
  };
  const expectOk = async (line: string): Promise<string> => {
    const r = await run(line);
    if (!r.ok) throw new Error(`command failed: ${line}\n${r.text}`);
    return r.text;
  };
  const expectFail = async (line: string): Promise<string> => {
    const r = await run(line);
    if (r.ok) throw new Error(`command succeeded but should fail: ${line}\n${r.text}`);
    return r.text;
  };
  const close = (): void => {
    d.close();
    target.kernel.machine.close();
  };
  return { sys: sys!, d, out: () => buf, run, ok: expectOk, fails: expectFail, close };
}

/** Boot a full system (ftrace, modules, livepatch) deterministically and attach a debugger. */
export function bootSession(opts: { cpus?: number; seed?: number; nrSleepers?: number } = {}): Session {
  const sys = createSystem({ cpus: opts.cpus ?? 2, seed: opts.seed ?? 1, mode: 'deterministic', image: builtImage(), nrSleepers: opts.nrSleepers });
  return sessionOf(targetOfSystem(sys), sys);
}

/** Address of a kernel symbol. */
export function symAddr(s: Session, name: string): bigint {
  return s.d.kernel.sym(name);
}

/** `0x…` as the debugger prints it. */
export const hx = (v: bigint): string => `0x${v.toString(16)}`;
