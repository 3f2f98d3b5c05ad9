// kallsyms.spec.ts - address order (stable for equal addresses), find/symbolize, sympos, module removal
import { describe, expect, it } from 'vitest';
import { Kallsyms, type KSym } from '../../src/kernel/kallsyms.ts';

const T = 0xffffffff81000000n;
const sym = (name: string, off: number, size: number, obj = 'vmlinux', global = true): KSym => ({ name, addr: T + BigInt(off), size, type: 'func', global, obj });

describe('[kernel/kallsyms]', () => {
  it('keeps symbols in address order, same-address ones in the order they were added', () => {
    const k = new Kallsyms([sym('c', 0x40, 0x10), sym('a', 0x00, 0x10), sym('alias_b', 0x20, 0), sym('b', 0x20, 0x10), sym('a2', 0x00, 0)]);
    expect(k.all().map((s) => s.name)).toEqual(['a', 'a2', 'alias_b', 'b', 'c']);
    k.add(sym('mid', 0x30, 0x8, 'mod'));
    expect(k.all().map((s) => s.name)).toEqual(['a', 'a2', 'alias_b', 'b', 'mid', 'c']);
  });

  it('find prefers the sized symbol covering an address; symbolize prints sym+off/size [mod]', () => {
    const k = new Kallsyms([sym('alias_b', 0x20, 0), sym('b', 0x20, 0x10), sym('m', 0x100, 0x20, 'mymod')]);
    expect(k.find(T + 0x25n)?.name).toBe('b');
    expect(k.find(T + 0x30n)).toBeUndefined();
    expect(k.symbolize(T + 0x105n)).toBe('m+0x5/0x20 [mymod]');
  });

  it('sympos counts same-named symbols of one object in address order; 0 needs a unique one', () => {
    const k = new Kallsyms([sym('show_val_kb', 0x200, 0x10, 'vmlinux', false), sym('show_val_kb', 0x100, 0x10, 'vmlinux', false)]);
    expect(k.lookupSympos('vmlinux', 'show_val_kb', 1).sym?.addr).toBe(T + 0x100n);
    expect(k.lookupSympos('vmlinux', 'show_val_kb', 2).sym?.addr).toBe(T + 0x200n);
    expect(k.lookupSympos('vmlinux', 'show_val_kb', 0)).toEqual({ sym: undefined, count: 2 });
  });

  it('removeObject forgets a module\'s symbols only', () => {
    const k = new Kallsyms([sym('a', 0, 0x10), sym('m', 0x100, 0x20, 'mymod')]);
    k.removeObject('mymod');
    expect(k.all().map((s) => s.name)).toEqual(['a']);
    expect(k.lookup('m')).toBeUndefined();
  });

  it('50,000 symbols in scrambled order load in one pass (no re-sort per symbol) and come out sorted', () => {
    const syms = Array.from({ length: 50_000 }, (_, i) => sym(`f${i}`, ((i * 7919) % 50_000) * 16, 16));
    const k = new Kallsyms(syms);
    expect(k.all().every((s, i, a) => i === 0 || a[i - 1]!.addr <= s.addr)).toBe(true);
    expect(k.find(T + 16n * 1234n + 3n)?.addr).toBe(T + 16n * 1234n);
  });
});
