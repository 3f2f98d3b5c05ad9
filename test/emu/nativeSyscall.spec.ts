// nativeSyscall.spec.ts - the native syscall hook does what the JS hook does, counts, falls back, disarms, removes
import { afterEach, describe, expect, it } from 'vitest';
import { Keystone, Const } from 'keystone-wasm';
import { keystoneReady } from '../../emu/keystone.ts';
import { createEngine, Prot } from '../../emu/index.ts';
import type { Engine, X86Reg } from '../../emu/index.ts';
import { syscallRipBias } from '../../emu/machine/syscallBias.ts';

await keystoneReady();
const ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);

const CODE = 0x1000n;
/** Where the hook sends a syscall: count it in rax, go back to the syscall. */
const TARGET = 0x1100n;
const HLT = 0x1002n;
/** syscall's RFLAGS mask as Linux sets SFMASK (TF, IF, DF, AC ... here TF|IF|DF), RF cleared as the CPU does. */
const KEEP = ~(0x100n | 0x200n | 0x400n | 0x10000n);
const BIAS = syscallRipBias(createEngine);
const open: Engine[] = [];

afterEach(() => {
  for (const e of open.splice(0)) e.close();
});

/** 0x1000: syscall; hlt. TARGET: inc rax; jmp 0x1000. */
function engine(): Engine {
  const e = createEngine();
  open.push(e);
  e.memMap(0n, 0x4000, Prot.ALL);
  const mem = new Uint8Array(0x200).fill(0xf4);
  mem.set(ks.asm('syscall; hlt', { address: Number(CODE) }), 0);
  mem.set(ks.asm(`inc rax; jmp ${CODE}`, { address: Number(TARGET) }), Number(TARGET - CODE));
  e.memWrite(CODE, mem);
  e.regWrite('rsp', 0x3000n);
  return e;
}

const REGS: X86Reg[] = ['rcx', 'r11', 'rflags', 'rip', 'rax'];
const regs = (e: Engine): bigint[] => e.regReadBatch(REGS);
/** What a fallback does to end the run: land on the hlt after the syscall. */
const stop = (e: Engine): void => e.regWrite('rip', HLT - BIAS);

describe('[emu/nativeSyscall]: the native syscall hook', () => {
  it('sets RCX, R11, RFLAGS and RIP exactly as the JS hook the machine used does', () => {
    const flags = 0x2c7n | 0x200n | 0x400n | 0x800n; // CF PF ZF SF + IF DF OF
    const native = engine();
    let nativeFallbacks = 0;
    const h = native.addNativeSyscallHook(() => { nativeFallbacks++; stop(native); });
    h.arm(TARGET - BIAS, KEEP, 2); // one native syscall, the second falls back
    native.regWrite('rflags', flags);
    native.emuStart(CODE, 0n, 0, 0);

    const js = engine();
    let jsCalls = 0;
    js.addSyscallHook(() => {
      if (++jsCalls === 2) return stop(js);
      const [rip, rf] = js.regReadBatch(['rip', 'rflags']);
      js.regWriteBatch(['rcx', 'r11', 'rflags', 'rip'], [rip! + 2n, rf!, rf! & KEEP, TARGET - BIAS]);
    });
    js.regWrite('rflags', flags);
    js.emuStart(CODE, 0n, 0, 0);

    expect(nativeFallbacks).toBe(1);
    expect(h.takeCount()).toBe(1);
    const [rcx, r11, rflags, rip, rax] = regs(native);
    expect({ rcx, r11, rax, rip }).toEqual({ rcx: CODE + 2n, r11: flags, rax: 1n, rip: HLT + 1n });
    // The second syscall saw the masked flags (inc rax then recomputes the arithmetic ones).
    expect(rflags! & 0x700n).toBe(0n);
    expect(regs(native)).toEqual(regs(js));
  });

  it('runs limit-1 syscalls natively, then calls the fallback once; takeCount resets', () => {
    const e = engine();
    let fallbacks = 0;
    const h = e.addNativeSyscallHook(() => { fallbacks++; stop(e); });
    h.arm(TARGET - BIAS, KEEP, 10);
    e.emuStart(CODE, 0n, 0, 0);
    expect(e.regRead('rax')).toBe(9n);
    expect(fallbacks).toBe(1);
    expect(h.takeCount()).toBe(9);
    expect(h.takeCount()).toBe(0);
  });

  it('disarmed, every syscall goes to the fallback and none is counted', () => {
    const e = engine();
    let fallbacks = 0;
    const h = e.addNativeSyscallHook(() => {
      if (++fallbacks === 4) return stop(e);
      e.regWrite('rip', TARGET - BIAS);
    });
    h.arm(TARGET - BIAS, KEEP, 1000);
    h.disarm();
    expect(h.armed).toBe(false);
    e.emuStart(CODE, 0n, 0, 0);
    expect(fallbacks).toBe(4);
    expect(e.regRead('rax')).toBe(3n);
    expect(h.takeCount()).toBe(0);
  });

  it('a disarm from inside the run (as Vcpu.raise does) sends the very next syscall to the fallback', () => {
    const e = engine();
    let fallbacks = 0;
    const h = e.addNativeSyscallHook(() => { fallbacks++; stop(e); });
    // A code hook at TARGET stands in for a hook that raises an interrupt on the running vCPU.
    let seen = 0;
    e.addCodeHook(() => { if (++seen === 5) h.disarm(); }, TARGET, TARGET);
    h.arm(TARGET - BIAS, KEEP, 1000);
    e.emuStart(CODE, 0n, 0, 0);
    expect(fallbacks).toBe(1);
    expect(e.regRead('rax')).toBe(5n);
    expect(h.takeCount()).toBe(5);
  });

  it('a throw in the fallback stops the run and emuStart re-throws it', () => {
    const e = engine();
    const boom = new Error('fallback');
    const h = e.addNativeSyscallHook(() => { throw boom; });
    h.arm(TARGET - BIAS, KEEP, 3);
    expect(() => e.emuStart(CODE, 0n, 0, 0)).toThrow(boom);
    expect(h.takeCount()).toBe(2);
  });

  it('after remove() neither the native path nor the fallback runs, and arm() is ignored', () => {
    const e = engine();
    let fallbacks = 0;
    const h = e.addNativeSyscallHook(() => { fallbacks++; stop(e); });
    h.remove();
    h.arm(TARGET - BIAS, KEEP, 1000);
    expect(h.armed).toBe(false);
    e.emuStart(CODE, 0n, 0, 0);
    // No hook: Unicorn treats syscall as a no-op and the hlt after it runs.
    expect({ fallbacks, rax: e.regRead('rax'), rip: e.regRead('rip'), count: h.takeCount() }).toEqual({ fallbacks: 0, rax: 0n, rip: HLT + 1n, count: 0 });
  });
});

describe('[emu/nativeSyscall]: the native block counter', () => {
  /** 0x1000: mov ecx, N; loop at 0x1100: dec ecx; jnz (one block per iteration); hlt. */
  function loopEngine(n: number): Engine {
    const e = createEngine();
    open.push(e);
    e.memMap(0n, 0x4000, Prot.ALL);
    const mem = new Uint8Array(0x200).fill(0xf4);
    mem.set(ks.asm(`mov ecx, ${n}; jmp ${TARGET}`, { address: Number(CODE) }), 0);
    mem.set(ks.asm(`dec ecx; jnz ${TARGET}; hlt`, { address: Number(TARGET) }), Number(TARGET - CODE));
    e.memWrite(CODE, mem);
    return e;
  }

  it('counts only blocks inside its range and calls the fallback at every limit-th, when it resets', () => {
    const e = loopEngine(100);
    const at: bigint[] = [];
    const h = e.addNativeBlockCounter((addr) => { at.push(addr); h.reset(30); }, TARGET, TARGET + 0xffn);
    h.reset(30);
    e.emuStart(CODE, 0n, 0, 0);
    // 100 loop blocks at TARGET and the hlt block after it (the block at CODE is outside):
    // the fallback at the 30th, 60th and 90th, 11 counted since the last reset.
    expect(at).toEqual([TARGET, TARGET, TARGET]);
    expect(h.count).toBe(11);
    expect(e.regRead('rcx')).toBe(0n);
  });

  it('outside its range nothing is counted; after remove() the fallback never runs', () => {
    const e = loopEngine(50);
    let calls = 0;
    const outside = e.addNativeBlockCounter(() => calls++, 0x3000n, 0x3fffn);
    outside.reset(1);
    const inside = e.addNativeBlockCounter(() => calls++, TARGET, TARGET + 0xffn);
    inside.reset(1);
    inside.remove();
    e.emuStart(CODE, 0n, 0, 0);
    expect({ calls, outside: outside.count }).toEqual({ calls: 0, outside: 0 });
  });
});
