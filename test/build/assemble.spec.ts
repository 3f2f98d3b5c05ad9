// assemble.spec.ts - keystone via linkKernel (cross-file references, located errors) and the layout.ts equates it is fed

import { describe, expect, it } from 'vitest';
import { EmuError } from '../../emu/errors.ts';
import { Hypercall, KlpState, MemoryMap, TASK, THREAD_SIZE, TIF } from '../../src/abi/layout.ts';
import { equateLines, layoutEquates } from '../../src/build/equates.ts';
import { linkKernel } from '../../src/build/vmlinux.ts';
import { parseImage } from '../../src/kernel/loadImage.ts';
import { START, withFunc } from './synthKernel.ts';

function emuError(fn: () => unknown): EmuError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EmuError);
    return e as EmuError;
  }
  throw new Error('expected an EmuError');
}

/** The bytes of function `name` in a linked kernel. */
function funcBytes(files: { name: string; text: string }[], name: string): string {
  const img = parseImage(linkKernel(files).elf);
  const f = img.symbols.find((s) => s.name === name)!;
  const sec = img.sections.find((s) => f.addr >= s.addr && f.addr < s.addr + BigInt(s.size))!;
  const o = Number(f.addr - sec.addr);
  return Buffer.from(sec.data.subarray(o, o + f.size)).toString('hex');
}

describe('[build/assemble]: keystone through linkKernel', () => {
  it('resolves references across files and sections: call rel32, RIP-relative lea, .quad', () => {
    const files = [
      { name: 'a.S', text: `${START}SYM_FUNC_START_NOTRACE callee\n\tpush rbp\n\tmov rbp, rsp\n\tpop rbp\n\tret\nSYM_FUNC_END callee\n` },
      { name: 'b.S', text: [
        'SYM_FUNC_START_NOTRACE caller', '\tpush rbp', '\tmov rbp, rsp', '\tcall callee', '\tlea rax, [rip + table]', '\tpop rbp', '\tret', 'SYM_FUNC_END caller',
        '.section .data', 'SYM_DATA_START table', '\t.quad callee', '\t.quad caller', 'SYM_DATA_END table',
      ].join('\n') },
    ];
    const img = parseImage(linkKernel(files).elf);
    const addr = (n: string): bigint => img.symbols.find((s) => s.name === n)!.addr;
    const bytes = (a: bigint, n: number): Buffer => {
      const sec = img.sections.find((s) => a >= s.addr && a < s.addr + BigInt(s.size))!;
      return Buffer.from(sec.data.subarray(Number(a - sec.addr), Number(a - sec.addr) + n));
    };
    const code = bytes(addr('caller'), 16); // push(1) mov(3) call(5) lea(7)
    expect(code.subarray(4, 5).toString('hex')).toBe('e8');
    expect(addr('caller') + 9n + BigInt(code.readInt32LE(5))).toBe(addr('callee'));
    expect(code.subarray(9, 12).toString('hex')).toBe('488d05');
    expect(addr('caller') + 16n + BigInt(code.readInt32LE(12))).toBe(addr('table'));
    const table = bytes(addr('table'), 16);
    expect([table.readBigUInt64LE(0), table.readBigUInt64LE(8)]).toEqual([addr('callee'), addr('caller')]);
  });

  it('a line that does not assemble gives an EmuError naming its file and line', () => {
    const e = emuError(() => linkKernel(withFunc('SYM_FUNC_START', 'f', '\tpush rbp\n\tmov rbp, rsp\n\tfrobnicate rax, 1\n\tret\n')));
    expect(e.kind).toBe('asm');
    // START is 3 lines, then SYM_FUNC_START f (4), push (5), mov (6), the bad line (7)
    expect(e.message).toMatch(/^k\.S:7: .*frobnicate rax, 1/);
  });

  it('an AT&T operand is refused with its line (keystone alone drops that line and reports success)', async () => {
    // negative control: keystone itself silently loses the middle statement
    const { Keystone, Const, loadKeystone } = await import('keystone-wasm');
    await loadKeystone();
    const ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);
    expect(Buffer.from(ks.asm('nop\nmov rax, %rbx\nnop', { address: 0x1000n })).toString('hex')).toBe('9090');
    const e = emuError(() => linkKernel(withFunc('SYM_FUNC_START', 'f', '\tpush rbp\n\tmov rbp, rsp\n\tmov rax, %rbx\n\tret\n')));
    expect(e.kind).toBe('asm');
    expect(e.message).toMatch(/^k\.S:7: AT&T operand in Intel syntax .*mov rax, %rbx/);
    // '%' inside string and character literals is fine
    expect(() => linkKernel(withFunc('SYM_FUNC_START', 'g', "\tpush rbp\n\tmov rbp, rsp\n\tcmp sil, '%'\n\tpop rbp\n\tret\n"))).not.toThrow();
  });

  it('an unknown name is located and named', () => {
    const e = emuError(() => linkKernel(withFunc('SYM_FUNC_START_NOTRACE', 'f', '\tnop\n\tmov eax, NO_SUCH_EQUATE\n\tret\n')));
    expect(e.kind).toBe('asm');
    expect(e.message).toMatch(/^k\.S:6: .*NO_SUCH_EQUATE/);
  });

  it('through linkKernel: the error names the second file and its own line number', () => {
    const files = [
      { name: 'a.S', text: START },
      { name: 'b.S', text: '# b.S\n.section .text\nSYM_FUNC_START g\n\tpush rbp\n\tmov rbp, rsp +\n\tpop rbp\n\tret\nSYM_FUNC_END g\n' },
    ];
    const e = emuError(() => linkKernel(files));
    expect(e.kind).toBe('asm');
    expect(e.message).toMatch(/^b\.S:5: .*mov rbp, rsp \+/);
  });

  it('an error in user code (its own unit) is located too', () => {
    const files = [{ name: 'a.S', text: START }, { name: 'u.S', text: '.section .usertext\nSYM_FUNC_START_NOTRACE u\n\n\tbogus_insn\nSYM_FUNC_END u\n' }];
    expect(emuError(() => linkKernel(files)).message).toMatch(/^u\.S:4: .*bogus_insn/);
  });

  it('a kernel reference to a file-local label of another file does not resolve', () => {
    const files = [
      { name: 'a.S', text: `${START}SYM_FUNC_START_LOCAL_NOTRACE helper\n\tret\nSYM_FUNC_END helper\n` },
      { name: 'b.S', text: 'SYM_FUNC_START_NOTRACE g\n\tjmp helper\nSYM_FUNC_END g\n' },
    ];
    expect(emuError(() => linkKernel(files)).message).toMatch(/^b\.S:2: .*helper/);
  });
});

describe('[build/equates]: layout.ts as assembler equates', () => {
  const eq = layoutEquates();

  it('names struct fields, enums and TIF bits and masks as the kernel sources use them', () => {
    expect(eq.get('TASK_patch_state')).toBe(BigInt(TASK.patch_state));
    expect(eq.get('Hypercall_PANIC')).toBe(BigInt(Hypercall.PANIC));
    expect(eq.get('Hypercall_PANIC')).toBe(1n);
    expect(eq.get('TIF_PATCH_PENDING')).toBe(13n);
    expect(eq.get('_TIF_PATCH_PENDING')).toBe(1n << 13n);
    expect(eq.get('_TIF_NEED_RESCHED')).toBe(1n << BigInt(TIF.NEED_RESCHED));
    expect(eq.get('KlpState_UNDEFINED')).toBe(-1n);
    expect(eq.get('KlpState_PATCHED')).toBe(BigInt(KlpState.PATCHED));
    expect(eq.get('THREAD_SIZE')).toBe(BigInt(THREAD_SIZE));
    expect(eq.get('MemoryMap_USER_BASE')).toBe(MemoryMap.USER_BASE);
    expect([...eq.keys()].some((k) => k.startsWith('FTRACE_NOP'))).toBe(false);
  });

  it('equateLines writes hex, negatives with a leading minus, extras last', () => {
    const lines = equateLines(new Map([['user_fn', 0x400000n]]));
    expect(lines).toContain('KlpState_UNDEFINED = -0x1');
    expect(lines).toContain('_TIF_PATCH_PENDING = 0x2000');
    expect(lines).toContain(`TASK_patch_state = 0x${TASK.patch_state.toString(16)}`);
    expect(lines[lines.length - 1]).toBe('user_fn = 0x400000');
    expect(lines.length).toBe(eq.size + 1);
    expect(new Set(lines.map((l) => l.split(' = ')[0])).size).toBe(lines.length);
  });

  it('negative and mask equates assemble to the right immediates', () => {
    const body = [
      '\tcmp dword ptr [rax], KlpState_UNDEFINED',
      '\tmov dword ptr [rdi + TASK_patch_state], KlpState_UNDEFINED',
      '\ttest qword ptr [rdi], _TIF_PATCH_PENDING',
      '\tmov eax, Hypercall_PANIC',
      '\tret',
    ].join('\n');
    const off = TASK.patch_state.toString(16).padStart(2, '0');
    expect(funcBytes(withFunc('SYM_FUNC_START_NOTRACE', 'f', `${body}\n`), 'f')).toBe([
      '8338ff', // cmp dword ptr [rax], -1
      `c747${off}ffffffff`, // mov dword ptr [rdi + patch_state], -1
      '48f70700200000', // test qword ptr [rdi], 0x2000
      'b801000000', // mov eax, 1
      'c3',
    ].join(''));
  });
});
