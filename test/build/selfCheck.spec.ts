// selfCheck.spec.ts - the image rules (ftrace nops, __mcount_loc, frame pointers, decodability) with negative controls

import { describe, expect, it } from 'vitest';
import { disassemble } from '../../src/asm/disasm.ts';
import { selfCheck } from '../../src/build/selfCheck.ts';
import { linkKernel } from '../../src/build/vmlinux.ts';
import type { KernelImage } from '../../src/kernel/image.ts';
import { parseImage } from '../../src/kernel/loadImage.ts';
import { SOURCES, START, withFunc } from './synthKernel.ts';

const imageOf = (files: readonly { name: string; text: string }[]): KernelImage => parseImage(linkKernel(files).elf);
const hex = (a: bigint): string => `0x${a.toString(16)}`;

/** A deep enough copy of `img` to mutate section bytes and __mcount_loc without touching the original. */
function clone(img: KernelImage): KernelImage {
  return { ...img, sections: img.sections.map((s) => ({ ...s, data: s.data.slice() })), symbols: img.symbols.map((s) => ({ ...s })), mcountLoc: [...img.mcountLoc] };
}

function addrOf(img: KernelImage, name: string): bigint {
  const s = img.symbols.filter((x) => x.name === name);
  expect(s, name).toHaveLength(1);
  return s[0]!.addr;
}

/** Overwrite one byte of the image at `addr`. */
function poke(img: KernelImage, addr: bigint, value: number): void {
  const s = img.sections.find((x) => addr >= x.addr && addr < x.addr + BigInt(x.data.length))!;
  s.data[Number(addr - s.addr)] = value;
}

const good = imageOf(SOURCES);
const FRAME = '\tpush rbp\n\tmov rbp, rsp\n';

describe('[build/selfCheck]: a sound image', () => {
  it('reports nothing for the synthetic kernel (SYM_CODE and user code are exempt from frame rules)', () => {
    expect(good.mcountLoc).toHaveLength(4);
    expect(selfCheck(good)).toEqual([]);
    expect(selfCheck(clone(good))).toEqual([]);
  });

  it('accepts leave before ret and several returns that all restore RBP', () => {
    const body = `${FRAME}\ttest rdi, rdi\n\tjz .Lz\n\tpop rbp\n\tret\n.Lz:\n\tleave\n\tret\n`;
    expect(selfCheck(imageOf(withFunc('SYM_FUNC_START', 'f', body)))).toEqual([]);
  });
});

describe('[build/selfCheck]: negative controls', () => {
  it('(a) a traceable function whose nop was corrupted', () => {
    const img = clone(good);
    const ip = addrOf(img, 'start_kernel');
    poke(img, ip + 4n, 0x01); // 0f 1f 44 00 01: still a 5-byte nop, but not the ftrace one
    expect(selfCheck(img)).toEqual([`__mcount_loc entry ${hex(ip)} (start_kernel) does not hold the ftrace nop`]);
  });

  it('(b) a function without push rbp; mov rbp, rsp', () => {
    expect(selfCheck(imageOf(withFunc('SYM_FUNC_START', 'f', '\txor eax, eax\n\tret\n')))).toEqual(['f: no frame pointer prologue (push rbp; mov rbp, rsp)']);
    expect(selfCheck(imageOf(withFunc('SYM_FUNC_START_NOTRACE', 'g', '\tmov rbp, rsp\n\tpush rbp\n\tpop rbp\n\tret\n')))).toEqual(['g: no frame pointer prologue (push rbp; mov rbp, rsp)']);
    // the same body as SYM_CODE is exempt
    expect(selfCheck(imageOf([{ name: 'k.S', text: `${START}SYM_CODE_START h\n\txor eax, eax\n\tret\nSYM_CODE_END h\n` }]))).toEqual([]);
  });

  it('(c) a ret not preceded by pop rbp or leave', () => {
    const img = imageOf(withFunc('SYM_FUNC_START', 'f', `${FRAME}\ttest rdi, rdi\n\tjz .Lz\n\tpop rbp\n\tret\n.Lz:\n\tpop rbp\n\txor eax, eax\n\tret\n`));
    const f = addrOf(img, 'f');
    // nop(5) push(1) mov(3) test(3) jz(2) pop(1) ret(1) pop(1) xor(2) -> the bad ret is at +19
    expect(selfCheck(img)).toEqual([`f: ret at ${hex(f + 19n)} without pop rbp/leave before it`]);
    const g = imageOf(withFunc('SYM_FUNC_START_NOTRACE', 'g', `${FRAME}\tpop rbx\n\tret\n`));
    expect(selfCheck(g)).toEqual([`g: ret at ${hex(addrOf(g, 'g') + 5n)} without pop rbp/leave before it`]);
  });

  it('(d) an __mcount_loc entry pointing into the middle of a function', () => {
    const img = clone(good);
    const ip = addrOf(img, 'meminfo_show');
    const i = img.mcountLoc.indexOf(ip);
    expect(i).toBeGreaterThanOrEqual(0);
    img.mcountLoc[i] = ip + 5n;
    const errs = selfCheck(img);
    expect(errs).toContain(`__mcount_loc entry ${hex(ip + 5n)} is not the entry of a function`);
    expect(errs).toContain('meminfo_show starts with the ftrace nop but is not in __mcount_loc');
  });

  it('(d2) an __mcount_loc entry naming SYM_CODE', () => {
    const img = clone(good);
    img.mcountLoc.push(addrOf(img, 'startup_64'));
    expect(selfCheck(img)).toEqual([`__mcount_loc entry ${hex(addrOf(img, 'startup_64'))} is not the entry of a function`]);
  });

  it('(e) bytes inside a function that capstone cannot decode', () => {
    // 0x06 (push es) is invalid in 64-bit mode: capstone stops right before it.
    const probe = disassemble(Uint8Array.of(0x90, 0x06, 0xc3), 0x1000n);
    expect(probe.map((i) => i.mnemonic)).toEqual(['nop']);
    const img = imageOf(withFunc('SYM_FUNC_START', 'f', `${FRAME}\t.byte 0x06\n\tpop rbp\n\tret\n`));
    const f = addrOf(img, 'f');
    expect(selfCheck(img)).toEqual([`f: bytes at ${hex(f + 9n)} do not decode (capstone)`]);
    // user code is exempt from the frame rules, not from decodability
    const user = imageOf([{ name: 'k.S', text: START }, { name: 'u.S', text: '.section .usertext\nSYM_FUNC_START_NOTRACE u\n\tnop\n\t.byte 0x06\n\tret\nSYM_FUNC_END u\n' }]);
    expect(selfCheck(user)).toEqual(['u: bytes at 0x400001 do not decode (capstone)']);
  });

  it('(f) a function that starts with the ftrace nop but is not in __mcount_loc', () => {
    const img = clone(good);
    const ip = addrOf(img, 'start_kernel');
    img.mcountLoc = img.mcountLoc.filter((a) => a !== ip);
    const errs = selfCheck(img);
    expect(errs).toContain('start_kernel starts with the ftrace nop but is not in __mcount_loc');
    // a NOTRACE function that hand-codes the nop bytes
    const hand = imageOf(withFunc('SYM_FUNC_START_NOTRACE', 'g', `\t.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n${FRAME}\tpop rbp\n\tret\n`));
    expect(selfCheck(hand)).toContain('g starts with the ftrace nop but is not in __mcount_loc');
  });

  it('a function symbol whose size runs past its section', () => {
    const img = clone(good);
    const f = img.symbols.find((s) => s.name === 'idle_loop')!;
    f.size = 0x10000;
    expect(selfCheck(img)).toEqual([`idle_loop: 65536 bytes at ${hex(f.addr)} are outside the image`]);
  });
});
