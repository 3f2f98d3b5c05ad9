// engine.spec.ts - UnicornEngine against Unicorn 2.0.1: memory, registers, hooks, errors, shared memory, TB cache

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as KeystoneWasm from '../../node_modules/keystone-wasm/dist/index.d.ts';
import { createEngine, EmuError, Prot } from '../../emu/index.ts';
import type { Engine, MemAccess, X86Reg } from '../../emu/index.ts';
import { UC_ERR_MAP, UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED } from '../../emu/raw/x86Const.ts';

const CODE = 0x1000n;
const DATA = 0x8000n;
let ks: KeystoneWasm.Keystone;
const open: Engine[] = [];

/** Assemble at `address`; empty keystone output means an assembly error. */
function asm(src: string, address = CODE): Uint8Array {
  const bytes = ks.asm(src, { address: Number(address) });
  if (!bytes || bytes.length === 0) throw new Error(`asm failed: ${src}`);
  return new Uint8Array(bytes);
}

/** A fresh engine with RWX code at 0x1000 (16 KiB) and data at 0x8000 (4 KiB). */
function engine(code?: string): Engine {
  const e = createEngine();
  open.push(e);
  e.memMap(CODE, 0x4000, Prot.ALL);
  e.memMap(DATA, 0x1000, Prot.READ | Prot.WRITE);
  if (code !== undefined) e.memWrite(CODE, asm(code));
  return e;
}

/** Run from CODE until a hlt (hlt makes uc_emu_start return UC_ERR_OK). */
function run(e: Engine, count = 0, begin = CODE): void {
  e.emuStart(begin, 0n, 0, count);
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

beforeAll(async () => {
  // keystone-wasm's exports map has no "types" condition: import it untyped, type it from its d.ts
  const { Keystone, Const, loadKeystone } = (await import('keystone-wasm' as string)) as typeof KeystoneWasm;
  await loadKeystone();
  ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);
});

afterEach(() => {
  for (const e of open.splice(0)) e.close();
});

describe('[emu/engine]: unit', () => {
  describe('memory', () => {
    it('maps, writes, reads back and lists regions (end inclusive)', () => {
      const e = engine();
      e.memWrite(DATA + 0x10n, new Uint8Array([1, 2, 3, 4, 0xff]));
      expect(Array.from(e.memRead(DATA + 0x10n, 5))).toEqual([1, 2, 3, 4, 0xff]);
      expect(e.memRegions()).toEqual([
        { begin: 0x1000n, end: 0x4fffn, perms: 7 },
        { begin: 0x8000n, end: 0x8fffn, perms: 3 },
      ]);
    });

    it('reads larger than the scratch buffer and returns independent copies', () => {
      const e = engine();
      const big = new Uint8Array(0x3000).map((_, i) => i & 0xff);
      e.memWrite(CODE, big);
      const a = e.memRead(CODE, 0x3000);
      expect(a).toEqual(big);
      const b = e.memRead(CODE, 4);
      const c = e.memRead(CODE + 4n, 4);
      expect(Array.from(b)).toEqual([0, 1, 2, 3]);
      expect(Array.from(c)).toEqual([4, 5, 6, 7]);
    });

    it('protects and unmaps', () => {
      const e = engine();
      e.memProtect(CODE + 0x1000n, 0x1000, Prot.READ);
      e.memUnmap(CODE + 0x3000n, 0x1000);
      expect(e.memRegions()).toEqual([
        { begin: 0x1000n, end: 0x1fffn, perms: 7 },
        { begin: 0x2000n, end: 0x2fffn, perms: 1 },
        { begin: 0x3000n, end: 0x3fffn, perms: 7 },
        { begin: 0x8000n, end: 0x8fffn, perms: 3 },
      ]);
    });

    it('reading unmapped memory throws EmuError with op, address, size and uc_strerror text', () => {
      const err = caught(() => engine().memRead(0xdead0000n, 8));
      expect(err).toBeInstanceOf(EmuError);
      expect(err).toMatchObject({
        kind: 'unmapped', op: 'uc_mem_read', address: 0xdead0000n, size: 8,
        ucErrno: UC_ERR_READ_UNMAPPED, ucStrerror: 'Invalid memory read (UC_ERR_READ_UNMAPPED)',
      });
      expect((err as Error).message).toBe('uc_mem_read failed: Invalid memory read (UC_ERR_READ_UNMAPPED) at 0xdead0000 size 8');
    });

    it('writing unmapped memory and overlapping maps fail with their own kinds', () => {
      const e = engine();
      expect(caught(() => e.memWrite(0x100000n, new Uint8Array(4)))).toMatchObject({
        kind: 'unmapped', op: 'uc_mem_write', ucErrno: UC_ERR_WRITE_UNMAPPED, address: 0x100000n, size: 4,
      });
      const err = caught(() => e.memMap(CODE, 0x1000, Prot.ALL));
      expect(err).toMatchObject({ kind: 'map', op: 'uc_mem_map', ucErrno: UC_ERR_MAP });
      expect((err as Error).message).toBe('uc_mem_map failed: Invalid memory mapping (UC_ERR_MAP) at 0x1000 size 4096');
      expect(caught(() => e.memMap(0x20001n, 0x1000, Prot.ALL))).toMatchObject({ kind: 'arg', op: 'uc_mem_map' });
    });
  });

  describe('registers', () => {
    const GPRS: X86Reg[] = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp',
      'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

    it('round-trips every GPR, rip and rflags', () => {
      const e = engine();
      GPRS.forEach((r, i) => e.regWrite(r, 0x1111111111111111n * BigInt(i + 1) & 0xffffffffffffffffn));
      GPRS.forEach((r, i) => expect(e.regRead(r)).toBe(0x1111111111111111n * BigInt(i + 1) & 0xffffffffffffffffn));
      e.regWrite('rax', -1n);
      expect(e.regRead('rax')).toBe(0xffffffffffffffffn);
      e.regWrite('rip', 0xffffffff81000000n);
      expect(e.regRead('rip')).toBe(0xffffffff81000000n);
      e.regWrite('rflags', 0x246n);
      expect(e.regRead('rflags')).toBe(0x246n);
    });

    it('round-trips fs_base/gs_base, control registers; EFER reads 0x500 in 64-bit mode', () => {
      const e = engine();
      e.regWrite('fs_base', 0x7f0000001000n);
      e.regWrite('gs_base', 0xffff888000000000n);
      e.regWrite('cr0', 0x80050033n);
      e.regWrite('cr2', 0xdead0000n);
      e.regWrite('cr3', 0x5000n);
      e.regWrite('cr4', 0x6f0n);
      expect(e.regReadBatch(['fs_base', 'gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'efer']))
        .toEqual([0x7f0000001000n, 0xffff888000000000n, 0x80050033n, 0xdead0000n, 0x5000n, 0x6f0n, 0x500n]);
    });

    it('segment selectors read back zero-extended (Unicorn fills only 16 bits)', () => {
      const e = engine();
      e.regWrite('rax', -1n); // dirty the shared scratch slot
      e.regRead('rax');
      e.regWrite('ds', 0x18n);
      expect(e.regRead('ds')).toBe(0x18n);
      expect(e.regReadBatch(['rax', 'ds', 'es'])).toEqual([0xffffffffffffffffn, 0x18n, 0n]);
    });

    it('batch write/read agree with single accesses, also across the special efer path', () => {
      const e = engine();
      const regs: X86Reg[] = ['rax', 'rbx', 'rip', 'rflags', 'r15'];
      e.regWriteBatch(regs, [1n, 2n, 0x1234n, 0x202n, 0xfeedn]);
      expect(regs.map((r) => e.regRead(r))).toEqual([1n, 2n, 0x1234n, 0x202n, 0xfeedn]);
      expect(e.regReadBatch([...regs, 'efer'])).toEqual([1n, 2n, 0x1234n, 0x202n, 0xfeedn, 0x500n]);
      expect(caught(() => e.regWriteBatch(['rax'], []))).toMatchObject({ kind: 'input' });
      expect(caught(() => e.regRead('xmm0' as X86Reg))).toMatchObject({ kind: 'input' });
    });

    it('msrRead sees a wrmsr done by guest code (IA32_FS_BASE also updates fs_base)', () => {
      const e = engine('mov ecx, 0xc0000100; mov eax, 0x11223344; mov edx, 0x55667788; wrmsr; hlt');
      run(e);
      expect(e.msrRead(0xc0000100)).toBe(0x5566778811223344n);
      expect(e.regRead('fs_base')).toBe(0x5566778811223344n);
      e.msrWrite(0xc0000082, 0xffffffff81000000n);
      expect(e.msrRead(0xc0000082)).toBe(0xffffffff81000000n);
    });

    it('round-trips GDTR and IDTR through uc_x86_mmr', () => {
      const e = engine();
      e.gdtrWrite({ base: 0xffffffff82000000n, limit: 0x7f });
      e.idtrWrite({ base: 0xfffffe0000000000n, limit: 0xfff });
      expect(e.gdtrRead()).toEqual({ base: 0xffffffff82000000n, limit: 0x7f });
      expect(e.idtrRead()).toEqual({ base: 0xfffffe0000000000n, limit: 0xfff });
    });
  });

  describe('execution', () => {
    it('hlt returns from emuStart with RIP after the hlt', () => {
      const e = engine('mov eax, 7; hlt; mov eax, 8');
      run(e);
      expect(e.regRead('rax')).toBe(7n);
      expect(e.regRead('rip')).toBe(CODE + 6n);
    });

    it('stops after exactly `count` instructions on a fresh engine', () => {
      const e = engine(Array(10).fill('inc rax').join('; ') + '; hlt');
      run(e, 3);
      expect(e.regRead('rax')).toBe(3n);
      expect(e.regRead('rip')).toBe(CODE + 9n);
    });

    it('honours `count` on code translated by an earlier uncounted run (engine flushes on the switch)', () => {
      const e = engine(Array(10).fill('inc rax').join('; ') + '; hlt');
      run(e);
      expect(e.regRead('rax')).toBe(10n);
      e.regWrite('rax', 0n);
      run(e, 4);
      expect(e.regRead('rax')).toBe(4n);
      e.regWrite('rax', 0n);
      run(e);
      expect(e.regRead('rax')).toBe(10n);
    });

    it('an unhandled int3 ends emuStart with kind exception and RIP after the int3', () => {
      const e = engine('nop; int3; nop');
      const err = caught(() => run(e));
      expect(err).toMatchObject({ kind: 'exception', op: 'uc_emu_start', address: CODE + 2n });
      expect((err as Error).message).toBe('uc_emu_start failed: Unhandled CPU exception (UC_ERR_EXCEPTION) at 0x1002');
    });

    it('contextSave/contextRestore round-trips registers, also into another engine', () => {
      const e = engine('mov rax, 0x1234; mov rbx, 0x5678; hlt');
      run(e);
      e.gdtrWrite({ base: 0x9000n, limit: 0x27 });
      const blob = e.contextSave();
      e.regWriteBatch(['rax', 'rbx', 'rip'], [0n, 0n, 0n]);
      e.contextRestore(blob);
      expect(e.regReadBatch(['rax', 'rbx', 'rip'])).toEqual([0x1234n, 0x5678n, CODE + 0xfn]);
      const f = engine();
      f.contextRestore(blob);
      expect(f.regReadBatch(['rax', 'rbx', 'rip'])).toEqual([0x1234n, 0x5678n, CODE + 0xfn]);
      expect(f.gdtrRead()).toEqual({ base: 0x9000n, limit: 0x27 });
      expect(caught(() => f.contextRestore(blob.subarray(0, 64)))).toMatchObject({ kind: 'input', op: 'uc_context_restore' });
    });

    it('close is idempotent and later use throws kind closed', () => {
      const e = createEngine();
      e.close();
      e.close();
      expect(caught(() => e.regRead('rax'))).toMatchObject({ kind: 'closed' });
      expect(caught(() => e.memMap(CODE, 0x1000, Prot.ALL))).toMatchObject({ kind: 'closed' });
    });
  });

  describe('hooks', () => {
    it('code hook sees each instruction address and size; stops firing after remove()', () => {
      const e = engine('mov eax, 1; inc rax; nop; hlt');
      const seen: Array<[bigint, number]> = [];
      const h = e.addCodeHook((a, s) => seen.push([a, s]));
      run(e);
      expect(seen).toEqual([[CODE, 5], [CODE + 5n, 3], [CODE + 8n, 1], [CODE + 9n, 1]]);
      h.remove();
      h.remove();
      run(e);
      expect(seen).toHaveLength(4);
    });

    it('a code hook added after the code was translated still fires (engine flushes)', () => {
      const e = engine('inc rax; inc rax; hlt');
      run(e);
      const seen: bigint[] = [];
      e.addCodeHook((a) => seen.push(a), CODE + 3n, CODE + 3n);
      run(e);
      expect(seen).toEqual([CODE + 3n]);
    });

    it('block hook fires once per translated block with its size', () => {
      const e = engine('inc rax; jmp next; nop; next: inc rbx; hlt');
      const seen: Array<[bigint, number]> = [];
      const h = e.addBlockHook((a, s) => seen.push([a, s]));
      run(e);
      expect(seen).toEqual([[CODE, 5], [CODE + 6n, 4]]);
      h.remove();
      run(e);
      expect(seen).toHaveLength(2);
    });

    it('interrupt hook gets intno 3 for int3 with RIP already after it; writing RIP there is honoured', () => {
      const e = engine('int3; mov eax, 1; hlt; target: mov eax, 2; hlt');
      const seen: Array<[number, bigint]> = [];
      const h = e.addInterruptHook((n) => {
        seen.push([n, e.regRead('rip')]);
        e.regWrite('rip', CODE + 7n);
      });
      run(e);
      expect(seen).toEqual([[3, CODE + 1n]]);
      expect(e.regRead('rax')).toBe(2n);
      h.remove();
      expect(caught(() => run(e))).toMatchObject({ kind: 'exception' });
    });

    it('writing RIP inside a code hook redirects execution', () => {
      const e = engine('mov eax, 1; hlt; target: mov eax, 2; hlt');
      e.addCodeHook(() => e.regWrite('rip', CODE + 6n), CODE, CODE);
      run(e);
      expect(e.regRead('rax')).toBe(2n);
    });

    it('invalid-mem hook reports the access; mapping and returning true resumes', () => {
      const e = engine('mov rcx, 0x100000; mov qword ptr [rcx], rax; mov rbx, qword ptr [rcx]; hlt');
      const seen: Array<[MemAccess, bigint, number, bigint]> = [];
      const h = e.addInvalidMemHook((access, addr, size, value) => {
        seen.push([access, addr, size, value]);
        e.memMap(addr & ~0xfffn, 0x1000, Prot.ALL);
        return true;
      });
      e.regWrite('rax', 0xfedcba9876543210n);
      run(e);
      expect(seen).toEqual([['write-unmapped', 0x100000n, 8, 0xfedcba9876543210n]]);
      expect(e.regRead('rbx')).toBe(0xfedcba9876543210n);
      h.remove();
      e.memUnmap(0x100000n, 0x1000);
      expect(caught(() => run(e))).toMatchObject({ kind: 'unmapped', op: 'uc_emu_start' });
      expect(seen).toHaveLength(1);
    });

    it('invalid-mem hook maps UC_MEM_* to protection and fetch kinds', () => {
      const e = engine('mov rcx, 0x8000; mov dword ptr [rcx], eax; hlt');
      e.memProtect(DATA, 0x1000, Prot.READ);
      const seen: Array<[MemAccess, bigint, number, bigint]> = [];
      e.addInvalidMemHook((a, addr, size, value) => (seen.push([a, addr, size, value]), false));
      e.regWrite('rax', 0xffffffffn);
      expect(caught(() => run(e))).toMatchObject({ kind: 'prot', ucStrerror: 'Write to write-protected memory (UC_ERR_WRITE_PROT)' });
      expect(caught(() => e.emuStart(DATA, 0n, 0, 0))).toMatchObject({ kind: 'prot' });
      expect(caught(() => e.emuStart(0x200000n, 0n, 0, 0))).toMatchObject({ kind: 'unmapped' });
      expect(seen).toEqual([
        ['write-prot', DATA, 4, 0xffffffffn], ['fetch-prot', DATA, 1, 0n], ['fetch-unmapped', 0x200000n, 1, 0n],
      ]);
    });

    it('RIP at a faulting access is the block start unless counting (pitfall: earlier effects already done)', () => {
      const e = engine('mov rcx, 0x8000; inc rax; mov dword ptr [rcx], eax; hlt');
      e.memProtect(DATA, 0x1000, Prot.READ);
      const rips: bigint[] = [];
      e.addInvalidMemHook(() => (rips.push(e.regRead('rip')), false));
      expect(caught(() => run(e))).toMatchObject({ kind: 'prot', address: CODE });
      expect(e.regRead('rax')).toBe(1n); // the inc already ran: restarting at RIP would repeat it
      e.regWrite('rax', 0n);
      expect(caught(() => run(e, 1000))).toMatchObject({ kind: 'prot', address: CODE + 10n });
      expect(rips).toEqual([CODE, CODE + 10n]);
    });

    it('syscall hook fires (Unicorn does nothing else for syscall); stops after remove()', () => {
      const e = engine('syscall; inc rax; hlt');
      let calls = 0;
      const h = e.addSyscallHook(() => calls++);
      run(e);
      expect(calls).toBe(1);
      expect(e.regRead('rax')).toBe(1n);
      h.remove();
      run(e);
      expect(calls).toBe(1);
    });

    it('out hook gets port, size and value for out imm8/dx with al/ax/eax', () => {
      const e = engine('mov dx, 0x3f8; out dx, ax; out dx, eax; out 0x80, al; hlt');
      const seen: Array<[number, number, number]> = [];
      const h = e.addOutHook((p, s, v) => seen.push([p, s, v]));
      e.regWrite('rax', 0x12345678n);
      run(e);
      expect(seen).toEqual([[0x3f8, 2, 0x5678], [0x3f8, 4, 0x12345678], [0x80, 1, 0x78]]);
      h.remove();
      run(e);
      expect(seen).toHaveLength(3);
    });

    it('mem-write hook gets address, size and the zero-extended value within its range', () => {
      const e = engine('mov rcx, 0x8000; mov byte ptr [rcx], al; mov qword ptr [rcx + 0x100], rax; hlt');
      const seen: Array<[bigint, number, bigint]> = [];
      e.addMemWriteHook((a, s, v) => seen.push([a, s, v]), DATA, DATA + 0xffn);
      e.regWrite('rax', -1n);
      run(e);
      expect(seen).toEqual([[DATA, 1, 0xffn]]);
    });

    it('a hook removing itself mid-run is safe and does not fire again', () => {
      const e = engine('inc rax; inc rax; inc rax; hlt');
      let calls = 0;
      const h = e.addCodeHook(() => {
        calls++;
        h.remove();
      });
      run(e);
      run(e);
      expect(calls).toBe(1);
      expect(e.regRead('rax')).toBe(6n);
    });
  });

  describe('capture-stop-rethrow', () => {
    it('a throw in a code hook comes out of emuStart as the same object and stops emulation there', () => {
      const e = engine('inc rax; inc rax; inc rax; hlt');
      const boom = new Error('boom');
      let later = 0;
      e.addCodeHook((a) => {
        if (a === CODE + 3n) throw boom;
        if (a > CODE + 3n) later++;
      });
      expect(caught(() => run(e))).toBe(boom);
      expect(later).toBe(0);
      expect(e.regRead('rax')).toBe(1n);
    });

    it('a throw in an invalid-mem hook wins over the status it causes; the engine stays usable', () => {
      const e = engine('mov rcx, 0x100000; mov rax, qword ptr [rcx]; hlt');
      const boom = new RangeError('no page');
      const h = e.addInvalidMemHook(() => { throw boom; });
      expect(caught(() => run(e))).toBe(boom);
      h.remove();
      e.memWrite(CODE, asm('mov eax, 5; hlt'));
      run(e);
      expect(e.regRead('rax')).toBe(5n);
    });

    it('non-Error values thrown by interrupt, syscall and out hooks are re-thrown unchanged', () => {
      const e = engine('int3; hlt');
      const token = { reason: 'token' };
      e.addInterruptHook(() => { throw token; });
      expect(caught(() => run(e))).toBe(token);
      const f = engine('syscall; out 0x80, al; hlt');
      const hs = f.addSyscallHook(() => { throw 'syscall!'; });
      expect(caught(() => run(f))).toBe('syscall!');
      hs.remove();
      const boom = new Error('out');
      f.addOutHook(() => { throw boom; });
      expect(caught(() => run(f))).toBe(boom);
    });
  });

  describe('shared memory and the translated-block cache', () => {
    it('two engines mapping one buffer through memMapPtr see each other\'s writes', () => {
      const buf = new Uint8Array(0x2000);
      const a = createEngine();
      const b = createEngine();
      open.push(a, b);
      a.memMapPtr(DATA, buf, Prot.ALL);
      b.memMapPtr(DATA, buf, Prot.ALL);
      a.memWrite(DATA + 0x1800n, new Uint8Array([9, 8, 7]));
      expect(Array.from(b.memRead(DATA + 0x1800n, 3))).toEqual([9, 8, 7]);
      expect(Array.from(buf.subarray(0x1800, 0x1803))).toEqual([9, 8, 7]);
      buf[0x10] = 0x42;
      expect(a.memRead(DATA + 0x10n, 1)[0]).toBe(0x42);
      b.memWrite(CODE + 0x7000n, asm('mov rcx, 0x8020; mov qword ptr [rcx], 0x77; hlt', DATA)); // guest store from b
      b.emuStart(DATA, 0n, 0, 0);
      expect(a.memRead(DATA + 0x20n, 1)[0]).toBe(0x77);
    });

    it('stale TB: a host patch in the shared buffer is not seen until tbRemoveCache (sync_core)', () => {
      const buf = new Uint8Array(0x1000);
      const a = createEngine();
      open.push(a);
      a.memMapPtr(CODE, buf, Prot.ALL);
      buf.set(asm('mov eax, 1; hlt'));
      run(a);
      expect(a.regRead('rax')).toBe(1n);
      buf[1] = 2; // host text patch: mov eax, 2
      a.regWrite('rax', 0n);
      run(a);
      expect(a.regRead('rax')).toBe(1n); // negative control: the old translation still runs
      a.tbRemoveCache(CODE, CODE + 6n);
      run(a);
      expect(a.regRead('rax')).toBe(2n);
      buf[1] = 3;
      a.tbFlush();
      run(a);
      expect(a.regRead('rax')).toBe(3n);
    });

    it('memWrite through the engine itself is coherent with its own translations', () => {
      const e = engine('mov eax, 1; hlt');
      run(e);
      e.memWrite(CODE + 1n, new Uint8Array([4]));
      run(e);
      expect(e.regRead('rax')).toBe(4n);
    });

    it('tbRemoveCache rejects an empty range with kind arg', () => {
      const e = engine();
      expect(caught(() => e.tbRemoveCache(0x2000n, 0x1000n))).toMatchObject({ kind: 'arg', op: 'uc_ctl(TB_REMOVE_CACHE)' });
    });
  });
});
