// sourceFile.spec.ts - kernel source preprocessing: comments, SYM_* annotations, file-local renaming, located errors

import { describe, expect, it } from 'vitest';
import { EmuError } from '../../emu/errors.ts';
import { parseSource, renameIdents, stripComment, type SectionName } from '../../src/build/sourceFile.ts';
import { linkKernel } from '../../src/build/vmlinux.ts';
import { parseImage } from '../../src/kernel/loadImage.ts';
import { HEAD_S, MEMINFO_S, parseReadelfSyms, runOn, SOURCES, START } from './synthKernel.ts';

const texts = (src: ReturnType<typeof parseSource>, sec: SectionName): string[] => (src.lines.get(sec) ?? []).map((l) => l.text);

/** The EmuError thrown by `fn` (fails the test when it throws anything else or nothing). */
function emuError(fn: () => unknown): EmuError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EmuError);
    return e as EmuError;
  }
  throw new Error('expected an EmuError');
}

describe('[build/sourceFile]: comments and renaming', () => {
  it('stripComment drops a # comment but keeps # inside string literals', () => {
    expect(stripComment('\tmov eax, 1 # one')).toBe('\tmov eax, 1 ');
    expect(stripComment('# whole line')).toBe('');
    expect(stripComment('\t.asciz "a # b" # c')).toBe('\t.asciz "a # b" ');
    expect(stripComment('\t.asciz "say \\"#1\\"" # c')).toBe('\t.asciz "say \\"#1\\"" ');
    expect(stripComment('\tret')).toBe('\tret');
  });

  it('renameIdents renames whole identifiers outside strings only', () => {
    const map = new Map([['show_val_kb', 'show_val_kb__F1'], ['.Lout', '.Lout__F1']]);
    expect(renameIdents('\tcall show_val_kb', map)).toBe('\tcall show_val_kb__F1');
    expect(renameIdents('\tjne .Lout', map)).toBe('\tjne .Lout__F1');
    expect(renameIdents('\tcall show_val_kb_x', map)).toBe('\tcall show_val_kb_x');
    expect(renameIdents('\t.asciz "show_val_kb"', map)).toBe('\t.asciz "show_val_kb"');
  });

  it('renameIdents leaves numeric literals alone even when a local name matches their tail', () => {
    const map = new Map([['x10', 'x10__F0'], ['f', 'f__F0']]);
    expect(renameIdents('\tmov eax, 0x10', map)).toBe('\tmov eax, 0x10');
    expect(renameIdents('\tjmp 1f', map)).toBe('\tjmp 1f');
    expect(renameIdents('\tcall x10', map)).toBe('\tcall x10__F0');
    const text = `${START}SYM_FUNC_START_LOCAL x10\n\tpush rbp\n\tmov rbp, rsp\n\tmov eax, 0x10\n\tpop rbp\n\tret\nSYM_FUNC_END x10\n`;
    const img = parseImage(linkKernel([{ name: 'k.S', text }]).elf);
    const x10 = img.symbols.find((s) => s.name === 'x10')!;
    const text0 = img.sections.find((s) => s.name === '.text')!;
    const at = Number(x10.addr - text0.addr);
    expect(Buffer.from(text0.data.subarray(at + 9, at + 14)).toString('hex')).toBe('b810000000'); // mov eax, 0x10
  });
});

describe('[build/sourceFile]: SYM_* annotations', () => {
  it('SYM_FUNC_START emits an aligned label, the ftrace nop and an end label', () => {
    const src = parseSource('f.S', 'SYM_FUNC_START foo\n\tret\nSYM_FUNC_END foo\n', 0);
    expect(texts(src, '.text')).toEqual(['.balign 16, 0xcc', 'foo:', '.byte 0x0f, 0x1f, 0x44, 0x00, 0x00', 'ret', '__end__foo:']);
    expect(src.syms).toEqual([{ name: 'foo', label: 'foo', kind: 'func', global: true, traceable: true, section: '.text', file: 'f.S', line: 1 }]);
    expect(src.lines.get('.text')!.map((l) => l.line)).toEqual([1, 1, 1, 2, 3]);
  });

  it('_NOTRACE emits no nop; _LOCAL and .L names get a per-file suffix; data goes to its section', () => {
    const src = parseSource('g.S', [
      'SYM_FUNC_START_LOCAL_NOTRACE helper', '.Lloop:', '\tjmp .Lloop', 'SYM_FUNC_END helper',
      '.section .data', 'SYM_DATA_START_LOCAL counter', '\t.quad helper', 'SYM_DATA_END counter', 'EXPORT_SYMBOL_GPL helper2',
    ].join('\n'), 7);
    expect(texts(src, '.text')).toEqual(['.balign 16, 0xcc', 'helper__F7:', '.Lloop__F7:', 'jmp .Lloop__F7', '__end__helper__F7:']);
    expect(texts(src, '.data')).toEqual(['.balign 8, 0', 'counter__F7:', '.quad helper__F7', '__end__counter__F7:']);
    expect(src.syms.map((s) => [s.name, s.label, s.kind, s.global, s.traceable, s.section])).toEqual([
      ['helper', 'helper__F7', 'func', false, false, '.text'],
      ['counter', 'counter__F7', 'object', false, false, '.data'],
    ]);
    expect(src.exports).toEqual(['helper2']);
  });

  it('linked: a traceable function starts with 0f 1f 44 00 00, a NOTRACE one with push rbp', () => {
    const img = parseImage(linkKernel(SOURCES).elf);
    const text = img.sections.find((s) => s.name === '.text')!;
    const head = (name: string): string => {
      const f = img.symbols.find((s) => s.name === name)!;
      const at = Number(f.addr - text.addr);
      return Buffer.from(text.data.subarray(at, at + 5)).toString('hex');
    };
    expect(head('start_kernel')).toBe('0f1f440000');
    expect(head('meminfo_show')).toBe('0f1f440000');
    expect(head('idle_loop').slice(0, 2)).toBe('55');
  });

  it('two files may each define a local show_val_kb: both are LOCAL FUNC, each after its STT_FILE', () => {
    const { elf } = linkKernel([{ name: 'head.S', text: HEAD_S }, { name: 'meminfo.S', text: MEMINFO_S }, SOURCES[2]!]);
    const syms = parseReadelfSyms(runOn(elf, 'readelf', ['-s', '-W']).stdout);
    const fileOf = (i: number): string | undefined => syms.slice(0, i).reverse().find((s) => s.type === 'FILE')?.name;
    const locals = syms.map((s, i) => ({ s, i })).filter(({ s }) => s.name === 'show_val_kb');
    expect(locals.map(({ s }) => `${s.type} ${s.bind}`)).toEqual(['FUNC LOCAL', 'FUNC LOCAL']);
    expect(locals.map(({ i }) => fileOf(i))).toEqual(['head.S', 'meminfo.S']);
    expect(locals[0]!.s.value).not.toBe(locals[1]!.s.value);
    expect(syms.filter((s) => s.type === 'FILE').map((s) => [s.name, s.bind, s.ndx])).toEqual([['head.S', 'LOCAL', 'ABS'], ['meminfo.S', 'LOCAL', 'ABS']]);
    expect(syms.some((s) => s.name.includes('__F'))).toBe(false);
  });
});

describe('[build/sourceFile]: errors name the file and line', () => {
  const link = (...files: [string, string][]): EmuError => emuError(() => linkKernel(files.map(([name, text]) => ({ name, text }))));

  it('unknown section', () => {
    const e = link(['a.S', `${START}\n.section .init.text\n`]);
    expect(e.kind).toBe('asm');
    expect(e.message).toBe('a.S:5: unknown section .init.text');
  });

  it('unterminated SYM_FUNC_START (reported at its start line)', () => {
    expect(link(['a.S', `${START}SYM_FUNC_START f\n\tpush rbp\n`]).message).toBe('a.S:4: f has no end annotation');
  });

  it('mismatched END', () => {
    expect(link(['a.S', `${START}SYM_FUNC_START f\n\tret\nSYM_FUNC_END g\n`]).message).toMatch(/^a\.S:6: SYM_FUNC_END g without a matching start$/);
    expect(link(['a.S', `${START}SYM_DATA_END d\n`]).message).toMatch(/^a\.S:4: SYM_DATA_END d without a matching start$/);
  });

  it('a start inside an open symbol, .section inside a function, a function in a data section', () => {
    expect(link(['a.S', `${START}SYM_FUNC_START f\nSYM_FUNC_START g\n`]).message).toBe('a.S:5: g starts inside f');
    expect(link(['a.S', `${START}SYM_FUNC_START f\n.section .data\n`]).message).toBe('a.S:5: .section inside f');
    expect(link(['a.S', `${START}.section .rodata\nSYM_FUNC_START f\nSYM_FUNC_END f\n`]).message).toBe('a.S:5: f: function outside a text section');
  });

  it('duplicate global names both definitions', () => {
    const e = link(['a.S', START], ['b.S', `\n\n${START}`]);
    expect(e.message).toBe('b.S:3: startup_64 already defined at a.S:1');
  });

  it('EXPORT_SYMBOL of an unknown symbol names the file and the symbol', () => {
    // The export's line is not recorded by parseSource (exports: string[]), so only the file is named.
    const e = link(['a.S', `${START}EXPORT_SYMBOL no_such_fn\n`]);
    expect(e.kind).toBe('asm');
    expect(e.message).toMatch(/^a\.S\b.*no_such_fn/);
  });

  it('a traceable function in .usertext', () => {
    const e = link(['a.S', START], ['u.S', '.section .usertext\nSYM_FUNC_START user_fn\n\tret\nSYM_FUNC_END user_fn\n']);
    expect(e.message).toMatch(/^u\.S:2: user_fn: user code is not traceable/);
  });
});
