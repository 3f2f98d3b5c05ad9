// vmlinux.spec.ts - linkKernel output checked by binutils (readelf, objdump, nm): sections, symbols, __mcount_loc, System.map

import { beforeAll, describe, expect, it } from 'vitest';
import { linkKernel, type BuildResult } from '../../src/build/vmlinux.ts';
import { MemoryMap } from '../../src/abi/layout.ts';
import { parseReadelfSyms, runOn, SOURCES, type ReadelfSym, type ToolRun } from './synthKernel.ts';

const WARN = /warning|error/i;

/** Run a tool and require a clean run: exit 0, nothing that looks like a warning or error. */
function clean(elf: Uint8Array, tool: string, args: string[]): string {
  const r: ToolRun = runOn(elf, tool, args);
  expect(r.status, `${tool} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr).not.toMatch(WARN);
  expect(r.stdout).not.toMatch(WARN);
  return r.stdout;
}

/** Little-endian quads of `readelf -x <section>` (rows: address, up to four 8-hex-digit words, ascii). */
function hexDumpQuads(out: string): bigint[] {
  const bytes: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})/.exec(line);
    if (!m) continue;
    for (const word of m[1]!.trim().split(' ')) for (let i = 0; i < word.length; i += 2) bytes.push(parseInt(word.slice(i, i + 2), 16));
  }
  const b = Buffer.from(bytes);
  return Array.from({ length: b.length / 8 }, (_, i) => b.readBigUInt64LE(i * 8));
}

/** objdump -d lines `addr:\tbytes \tinsn` keyed by address. */
function objdumpLines(out: string): Map<bigint, { bytes: string; text: string }> {
  const m = new Map<bigint, { bytes: string; text: string }>();
  for (const line of out.split('\n')) {
    const r = /^\s*([0-9a-f]+):\t([0-9a-f ]+)\t(.*)$/.exec(line);
    if (r) m.set(BigInt(`0x${r[1]}`), { bytes: r[2]!.trim(), text: r[3]!.replace(/\s+/g, ' ').trim() });
  }
  return m;
}

describe('[build/vmlinux]: linkKernel checked by binutils', () => {
  let build: BuildResult;
  let syms: ReadelfSym[];
  const sym = (name: string): ReadelfSym => {
    const s = syms.filter((x) => x.name === name);
    expect(s, name).toHaveLength(1);
    return s[0]!;
  };

  beforeAll(() => {
    build = linkKernel(SOURCES);
    syms = parseReadelfSyms(clean(build.elf, 'readelf', ['-s', '-W']));
  });

  it('readelf -a -W accepts the image: ELF64, EXEC, X86-64, every expected section', () => {
    const out = clean(build.elf, 'readelf', ['-a', '-W']);
    expect(out).toMatch(/Class:\s+ELF64/);
    expect(out).toMatch(/Type:\s+EXEC \(Executable file\)/);
    expect(out).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    expect(out).toMatch(new RegExp(`Entry point address:\\s+0x${sym('startup_64').value.toString(16)}\\b`));
    const names = [...out.matchAll(/^\s*\[\s*\d+\] (\S+)/gm)].map((m) => m[1]);
    for (const s of ['.usertext', '.text', '.rodata', '__mcount_loc', '.data', '.bss', '.symtab', '.strtab']) expect(names).toContain(s);
    expect(out).toMatch(/\.text\s+PROGBITS\s+ffffffff81000000 \S+ \S+ 00\s+AX/);
    expect(out).toMatch(/\.bss\s+NOBITS\s+ffffffff81\S+ \S+ 000040 00\s+WA/);
    expect(out).toMatch(/__mcount_loc\s+PROGBITS\s+\S+ \S+ \S+ 00\s+A /);
  });

  it('objdump -d -M intel disassembles every code section without complaint', () => {
    const out = clean(build.elf, 'objdump', ['-d', '-M', 'intel']);
    expect(out).toContain('Disassembly of section .text:');
    expect(out).toContain('Disassembly of section .usertext:');
    expect(out).not.toContain('(bad)');
    expect(out).toMatch(/call\s+ffffffff81[0-9a-f]+ <start_kernel>/);
  });

  it('gives each symbol its binding, type and size', () => {
    expect(sym('startup_64')).toMatchObject({ type: 'NOTYPE', bind: 'GLOBAL', size: 15, value: MemoryMap.KERNEL_TEXT });
    expect(sym('start_kernel')).toMatchObject({ type: 'FUNC', bind: 'GLOBAL', size: 35 });
    expect(sym('meminfo_show')).toMatchObject({ type: 'FUNC', bind: 'GLOBAL', size: 16 });
    expect(sym('idle_loop')).toMatchObject({ type: 'FUNC', bind: 'GLOBAL', size: 8 });
    expect(sym('banner')).toMatchObject({ type: 'OBJECT', bind: 'GLOBAL', size: 'klpemu # not a comment'.length + 1 });
    expect(sym('user_entry')).toMatchObject({ type: 'OBJECT', bind: 'GLOBAL', size: 8 });
    expect(sym('scratch')).toMatchObject({ type: 'OBJECT', bind: 'LOCAL', size: 64 });
    expect(sym('_text')).toMatchObject({ type: 'NOTYPE', bind: 'GLOBAL', size: 0 });
    const locals = syms.filter((s) => s.name === 'show_val_kb');
    expect(locals.map((s) => [s.type, s.bind, s.size])).toEqual([['FUNC', 'LOCAL', 22], ['FUNC', 'LOCAL', 18]]);
    // .symtab's sh_info is one past the last local: every LOCAL precedes every GLOBAL.
    const firstGlobal = syms.findIndex((s) => s.bind === 'GLOBAL');
    expect(syms.slice(firstGlobal).every((s) => s.bind === 'GLOBAL')).toBe(true);
  });

  it('__mcount_loc lists exactly the traceable functions, in address order, each holding the ftrace nop', () => {
    const quads = hexDumpQuads(clean(build.elf, 'readelf', ['-x', '__mcount_loc']));
    const traced = ['start_kernel', 'meminfo_show'].map((n) => sym(n).value);
    traced.push(...syms.filter((s) => s.name === 'show_val_kb').map((s) => s.value));
    expect(quads).toEqual([...traced].sort((a, b) => (a < b ? -1 : 1)));
    expect(quads).not.toContain(sym('idle_loop').value);
    expect(quads).not.toContain(sym('startup_64').value);
    const dis = objdumpLines(clean(build.elf, 'objdump', ['-d', '-M', 'intel']));
    for (const ip of quads) expect(dis.get(ip), `0x${ip.toString(16)}`).toEqual({ bytes: '0f 1f 44 00 00', text: 'nop DWORD PTR [rax+rax*1+0x0]' });
    expect(dis.get(sym('idle_loop').value)?.bytes).toBe('55');
    expect(sym('__stop_mcount_loc').value - sym('__start_mcount_loc').value).toBe(BigInt(quads.length * 8));
  });

  it('System.map is sorted by address, uses T/t/D/B/R/b letters, and equals `nm -n`', () => {
    const rows = build.systemMap.trimEnd().split('\n').map((l) => {
      const [addr, letter, name] = l.split(' ');
      return { addr: BigInt(`0x${addr}`), letter: letter!, name: name! };
    });
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.addr >= rows[i - 1]!.addr).toBe(true);
    const letters = (n: string): string[] => rows.filter((r) => r.name === n).map((r) => r.letter);
    expect(letters('startup_64')).toEqual(['T']);
    expect(letters('start_kernel')).toEqual(['T']);
    expect(letters('show_val_kb')).toEqual(['t', 't']);
    expect(letters('banner')).toEqual(['R']);
    expect(letters('user_entry')).toEqual(['D']);
    expect(letters('scratch')).toEqual(['b']);
    expect(letters('__bss_start')).toEqual(['B']);
    expect(letters('user_main')).toEqual(['T']);
    expect(rows.map((r) => r.name)).not.toContain('head.S');
    expect(build.systemMap).toBe(clean(build.elf, 'nm', ['-n']));
  });

  it('places .usertext at the user base and lets kernel code and data use user addresses', () => {
    expect(sym('user_main')).toMatchObject({ value: MemoryMap.USER_BASE, type: 'FUNC', bind: 'GLOBAL' });
    expect(MemoryMap.USER_BASE).toBe(0x400000n);
    const data = hexDumpQuads(clean(build.elf, 'readelf', ['-x', '.data']));
    expect(data).toEqual([0x400000n]);
    const dis = objdumpLines(clean(build.elf, 'objdump', ['-d', '-M', 'intel']));
    expect([...dis.values()].map((d) => d.text)).toContain('mov rax,0x400000');
    expect(dis.get(0x400000n)?.text).toBe('push rbp');
  });

  it('is reproducible: the same sources link to byte-identical ELF and System.map', () => {
    const again = linkKernel(SOURCES.map((s) => ({ ...s })));
    expect(Buffer.compare(again.elf, build.elf)).toBe(0);
    expect(again.systemMap).toBe(build.systemMap);
  });

  it('changing one instruction changes the image (reproducibility is not vacuous)', () => {
    const other = linkKernel(SOURCES.map((s) => (s.name === 'meminfo.S' ? { ...s, text: s.text.replace('xor eax, eax', 'xor ecx, ecx') } : s)));
    expect(Buffer.compare(other.elf, build.elf)).not.toBe(0);
    expect(other.systemMap).toBe(build.systemMap);
  });
});

describe('[build/vmlinux]: generated sections of a large kernel', () => {
  it('links 3,000 traceable functions: __mcount_loc holds every one, in order (keystone traps on one chunk of ~1.2k)', () => {
    const n = 3000;
    const files = [{ name: 'head.S', text: `.section .text\nSYM_CODE_START startup_64\n\thlt\nSYM_CODE_END startup_64\n` }];
    for (let f = 0; f < n / 250; f++) {
      const fns = Array.from({ length: 250 }, (_, i) => `SYM_FUNC_START gen_fn_${f}_${i}\n\tpush rbp\n\tmov rbp, rsp\n\tpop rbp\n\tret\nSYM_FUNC_END gen_fn_${f}_${i}\nEXPORT_SYMBOL gen_fn_${f}_${i}\n`);
      files.push({ name: `gen${f}.S`, text: `.section .text\n${fns.join('')}` });
    }
    const big = linkKernel(files);
    const quads = hexDumpQuads(clean(big.elf, 'readelf', ['-x', '__mcount_loc']));
    expect(quads.length).toBe(n);
    expect(quads.every((q, i) => i === 0 || quads[i - 1]! < q)).toBe(true);
    const strings = clean(big.elf, 'readelf', ['-p', '__ksymtab_strings']);
    expect(strings).toContain('gen_fn_11_249');
  });
});
