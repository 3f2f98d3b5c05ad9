// kallsyms.ts - symbol lookups over vmlinux and loaded modules (kernel/kallsyms.c)

/** One symbol, as kallsyms knows it. */
export interface KSym {
  name: string;
  addr: bigint;
  size: number;
  type: 'func' | 'object';
  global: boolean;
  /** Owning object: 'vmlinux' or a module name. */
  obj: string;
  /** SYM_CODE (entry stubs, trampolines): in text, but not a C-ABI function. */
  code?: boolean;
}

/**
 * Name and address lookups. `sympos` follows the kernel (kallsyms order, 1-based
 * among same-named symbols of one object; 0 means "must be unique").
 */
export class Kallsyms {
  private byAddr: KSym[] = [];
  private readonly byName = new Map<string, KSym[]>();

  constructor(syms: KSym[] = []) {
    for (const s of syms) this.add(s);
  }

  add(s: KSym): void {
    // Same-named symbols in address order too: sympos counts them the way
    // kallsyms_on_each_symbol() walks the (address-sorted) table.
    const list = this.byName.get(s.name);
    if (!list) this.byName.set(s.name, [s]);
    else list.splice(upperBound(list, s.addr), 0, s);
    // Binary insertion after every symbol at an address <= its own: the
    // order a stable sort gives, without re-sorting per symbol (O(n²) boots
    // at 50k symbols).
    this.byAddr.splice(upperBound(this.byAddr, s.addr), 0, s);
  }

  /** Forget every symbol of a module (on unload). */
  removeObject(obj: string): void {
    this.removeWhere((s) => s.obj === obj);
  }

  /** Forget every symbol matching `pred`. */
  removeWhere(pred: (s: KSym) => boolean): void {
    this.byAddr = this.byAddr.filter((s) => !pred(s));
    for (const [n, list] of this.byName) {
      const keep = list.filter((s) => !pred(s));
      if (keep.length) this.byName.set(n, keep);
      else this.byName.delete(n);
    }
  }

  all(): readonly KSym[] {
    return this.byAddr;
  }

  /** Every symbol of this name (in kallsyms order), optionally of one object. */
  lookupAll(name: string, obj?: string): KSym[] {
    const list = this.byName.get(name) ?? [];
    return obj === undefined ? list : list.filter((s) => s.obj === obj);
  }

  /** The unique global (or only) symbol of this name. */
  lookup(name: string): KSym | undefined {
    const list = this.byName.get(name);
    if (!list) return undefined;
    return list.find((s) => s.global) ?? (list.length === 1 ? list[0] : undefined);
  }

  /**
   * klp_find_object_symbol(): the sympos-th symbol `name` of `obj`; with
   * sympos 0 the symbol must be unique. Returns the match count for errors.
   */
  lookupSympos(obj: string, name: string, sympos: number): { sym?: KSym; count: number } {
    const list = this.lookupAll(name, obj);
    if (sympos === 0) return { sym: list.length === 1 ? list[0] : undefined, count: list.length };
    return { sym: list[sympos - 1], count: list.length };
  }

  /** The symbol containing `addr` (within its size), or undefined. */
  find(addr: bigint): KSym | undefined {
    let lo = 0;
    let hi = this.byAddr.length - 1;
    let best: KSym | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.byAddr[mid]!;
      if (s.addr <= addr) {
        best = s;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!best) return undefined;
    // Prefer a sized symbol covering addr among equal addresses.
    return addr < best.addr + BigInt(Math.max(best.size, 1)) ? best : undefined;
  }

  /** `%pS`-style: `name+0x5/0x20` (with ` [mod]` for modules), or the hex address. */
  symbolize(addr: bigint): string {
    const s = this.find(addr);
    if (!s) return `0x${addr.toString(16)}`;
    const mod = s.obj === 'vmlinux' ? '' : ` [${s.obj}]`;
    return `${s.name}+0x${(addr - s.addr).toString(16)}/0x${s.size.toString(16)}${mod}`;
  }
}

/** Index after every symbol of `list` (address-sorted) at an address <= `addr`. */
function upperBound(list: readonly KSym[], addr: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.addr <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
