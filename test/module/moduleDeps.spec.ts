// moduleDeps.spec.ts - a module using another module's EXPORT_SYMBOL: resolution, the reference it holds (lsmod, holders, rmmod), duplicate exports
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { buildModule } from '../../src/module/build.ts';
import { modulePrelude } from '../../src/module/sources.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { bootSystem, dmesgSince, fingerprint, fingerprintDiff, removeScratch, sh, writeKo } from '../helpers/klpHarness.ts';

/** dep_provider: exports dep_answer(x) = x + 40. */
const PROVIDER = [
  'MODULE_LICENSE "GPL"', '.section .text',
  'SYM_FUNC_START dep_answer', '\tpush rbp', '\tmov rbp, rsp', '\tlea rax, [rdi + 40]', '\tpop rbp', '\tret', 'SYM_FUNC_END dep_answer',
  'EXPORT_SYMBOL dep_answer', '',
].join('\n');

/** dep_user: its init prints dep_answer(2), computed by the provider's code. */
const USER = [
  'MODULE_LICENSE "GPL"', 'EXTERN dep_answer', '.section .text',
  'SYM_FUNC_START_LOCAL dep_user_init', '\tpush rbp', '\tmov rbp, rsp', '\tmov edi, 2', '\tcall dep_answer',
  '\tlea rdi, [rip + fmt]', '\tmov rsi, rax', '\tcall _printk', '\txor eax, eax', '\tpop rbp', '\tret', 'SYM_FUNC_END dep_user_init',
  'MODULE_INIT dep_user_init',
  '.section .rodata', 'SYM_DATA_START_LOCAL fmt', '\t.asciz "\\0016dep_user: dep_answer(2) = %d"', 'SYM_DATA_END fmt', '',
].join('\n');

describe('[module/loader]: symbols exported by loaded modules', () => {
  let sys: System;
  let provider: string;
  let user: string;
  beforeAll(() => {
    sys = bootSystem({ seed: 13 });
    const names = new Set(loadImage().symbols.map((s) => s.name));
    provider = writeKo('dep_provider.ko', buildModule('dep_provider.S', PROVIDER, names, modulePrelude()));
    user = writeKo('dep_user.ko', buildModule('dep_user.S', USER, names, modulePrelude()));
  });
  afterAll(() => {
    sys.kernel.machine.close();
    removeScratch();
  });

  it('without its provider the user is refused (Unknown symbol) and the machine is unchanged', () => {
    const before = fingerprint(sys);
    const from = sys.kernel.dmesg().length;
    expect(sh(sys, `insmod ${user}`).err).toBe(`insmod: ERROR: could not insert module ${user}: Unknown symbol in module, or unknown parameter (see dmesg)\n`);
    expect(dmesgSince(sys, from)).toContain('dep_user: Unknown symbol dep_answer (err -2)');
    expect(fingerprintDiff(before, fingerprint(sys))).toEqual([]);
  });

  it('with it loaded, the user links to the provider\'s function and its init runs it', () => {
    expect(sh(sys, `insmod ${provider}`).status).toBe(0);
    const from = sys.kernel.dmesg().length;
    expect(sh(sys, `insmod ${user}`)).toEqual({ out: '', err: '', status: 0 });
    expect(dmesgSince(sys, from)).toContain('dep_user: dep_answer(2) = 42');
  });

  it('the provider is held: lsmod "Used by 1 dep_user", /sys/module/dep_provider/holders, refcnt 1', () => {
    const rows = sh(sys, 'lsmod').out.split('\n');
    expect(rows.find((r) => r.startsWith('dep_provider '))).toMatch(/^dep_provider +\d+  1 dep_user$/);
    expect(rows.find((r) => r.startsWith('dep_user '))).toMatch(/^dep_user +\d+  0$/);
    expect(sh(sys, 'ls /sys/module/dep_provider/holders').out).toBe('dep_user\n');
    expect(sh(sys, 'cat /sys/module/dep_provider/refcnt').out).toBe('1\n');
  });

  it('rmmod of the provider is refused while the user holds it ("in use by"); nothing changes', () => {
    const before = fingerprint(sys);
    expect(sh(sys, 'rmmod dep_provider').err).toBe('rmmod: ERROR: Module dep_provider is in use by: dep_user\n');
    expect(sys.modules.rmmod('dep_provider')).toBe(-11);
    expect(fingerprintDiff(before, fingerprint(sys))).toEqual([]);
  });

  it('a second module exporting the same name is refused: exports duplicate symbol', () => {
    const names = new Set(loadImage().symbols.map((s) => s.name));
    const twin = writeKo('dep_twin.ko', buildModule('dep_twin.S', PROVIDER, names, modulePrelude()));
    const before = fingerprint(sys);
    const from = sys.kernel.dmesg().length;
    expect(sh(sys, `insmod ${twin}`).err).toBe(`insmod: ERROR: could not insert module ${twin}: Invalid module format\n`);
    expect(dmesgSince(sys, from)).toContain('dep_twin: exports duplicate symbol dep_answer (owned by dep_provider)');
    expect(fingerprintDiff(before, fingerprint(sys))).toEqual([]);
  });

  it('after the user is gone the provider is free again and unloads', () => {
    expect(sh(sys, 'rmmod dep_user').status).toBe(0);
    expect(sh(sys, 'ls /sys/module/dep_provider/holders').out).toBe('');
    expect(sh(sys, 'cat /sys/module/dep_provider/refcnt').out).toBe('0\n');
    expect(sh(sys, 'rmmod dep_provider')).toEqual({ out: '', err: '', status: 0 });
    expect(sh(sys, 'lsmod').out).toBe('Module                  Size  Used by\n');
  });
});
