// raw.spec.ts - the raw FFI layer: library loading, the install hint, generated constants, EmuError format

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadUnicorn, unicornAvailable } from '../../emu/raw/unicorn.ts';
import { EmuError, kindForUcErr, ucError } from '../../emu/errors.ts';
import * as C from '../../emu/raw/x86Const.ts';
import { generate } from '../../tools/gen-unicorn-const.ts';

const MISSING = 'libunicorn-klpemu-missing.so.2';

describe('[emu/raw]: unit', () => {
  it('a missing library throws EmuError kind load with one line naming the Debian package', () => {
    let err: unknown;
    try {
      loadUnicorn(MISSING);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EmuError);
    expect(err).toMatchObject({ kind: 'load', op: 'dlopen' });
    expect((err as Error).message).toBe(`klpemu: cannot load ${MISSING} — install it with: apt-get install libunicorn2`);
    expect((err as Error).message).not.toContain('\n');
  });

  it('unicornAvailable reports without throwing', () => {
    expect(unicornAvailable(MISSING)).toEqual({
      ok: false, message: `klpemu: cannot load ${MISSING} — install it with: apt-get install libunicorn2`,
    });
    expect(unicornAvailable()).toEqual({ ok: true });
  });

  it('binds libunicorn 2.0.x and its uc_strerror texts', () => {
    const { lib } = loadUnicorn();
    const major = new Uint32Array(1);
    const minor = new Uint32Array(1);
    const v = lib.uc_version(major, minor);
    expect([major[0], minor[0]]).toEqual([2, 0]);
    expect(v >>> 16).toBe(0x200);
    expect(lib.uc_strerror(C.UC_ERR_READ_UNMAPPED)).toBe('Invalid memory read (UC_ERR_READ_UNMAPPED)');
    expect(loadUnicorn()).toBe(loadUnicorn());
  });

  it('constants hold the 2.0.1 values the engine relies on', () => {
    expect([C.UC_ARCH_X86, C.UC_MODE_64, C.UC_HOOK_MEM_UNMAPPED, C.UC_HOOK_MEM_PROT]).toEqual([4, 8, 0x70, 0x380]);
    expect([C.UC_X86_REG_RIP, C.UC_X86_REG_MSR, C.UC_X86_REG_GDTR, C.UC_X86_REG_IDTR]).toEqual([41, 248, 243, 242]);
    expect([C.UC_X86_INS_SYSCALL, C.UC_X86_INS_OUT]).toEqual([699, 500]);
    expect([C.UC_CTL_WRITE_TB_REMOVE_CACHE, C.UC_CTL_WRITE_TB_FLUSH]).toEqual([0x48000009, 0x4000000a]);
  });

  it.skipIf(!existsSync('/usr/include/unicorn/unicorn.h'))('x86Const.ts matches what the generator makes from the headers', () => {
    const file = readFileSync(new URL('../../emu/raw/x86Const.ts', import.meta.url), 'utf8');
    expect(generate()).toBe(file);
  });

  it('ucError formats op, strerror, address and size and classifies the status', () => {
    const e = ucError('uc_mem_read', C.UC_ERR_READ_UNMAPPED, 'Invalid memory read (UC_ERR_READ_UNMAPPED)', 0xdead0000n, 8);
    expect(e.message).toBe('uc_mem_read failed: Invalid memory read (UC_ERR_READ_UNMAPPED) at 0xdead0000 size 8');
    expect(e).toMatchObject({ name: 'EmuError', kind: 'unmapped', ucErrno: 6, address: 0xdead0000n, size: 8 });
    expect([C.UC_ERR_WRITE_PROT, C.UC_ERR_MAP, C.UC_ERR_ARG, C.UC_ERR_INSN_INVALID, C.UC_ERR_HOOK].map(kindForUcErr))
      .toEqual(['prot', 'map', 'arg', 'exception', 'unicorn']);
  });
});
