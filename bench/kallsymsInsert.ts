// kallsymsInsert.ts - bench-side workaround for the O(n²) Kallsyms construction (src/kernel/kallsyms.ts), used only around bootKernel
//
// Kallsyms.add() pushes the symbol and re-sorts the whole by-address array,
// and the constructor calls add() once per vmlinux symbol: n sorts of up to n
// elements, each at least a full pass of BigInt comparisons. ftrace.bench.ts
// times it up to 10k sites ("Kallsyms as shipped"); measured once while this
// was written: new Kallsyms() of 5,217 / 10,234 / 20,267 / 50,367 symbols took
// 0.3 / 1.0 / 21 / 118 s, bootKernel of the 50,000-site kernel 133 s, and a
// --cpu-prof of a 20k-site boot put 10.2 of its 10.3 s in Kallsyms.add.
// The fix belongs in src/kernel/kallsyms.ts (sort once in the constructor,
// binary-insert in add()); bench/ may not change src/, so while `fn` runs,
// add() inserts at the upper bound of the symbol's address instead. That is
// exactly where the shipped stable sort puts it (after every symbol with an
// address <= its own), so the resulting order is identical -
// checkEquivalent() verifies it on a real image.

import { Kallsyms, type KSym } from '../src/kernel/kallsyms.ts';

/** The private fields add() maintains (TypeScript-private, plain properties at run time). */
interface KallsymsFields {
  byAddr: KSym[];
  byName: Map<string, KSym[]>;
}

function fields(k: Kallsyms): KallsymsFields {
  const f = k as unknown as Partial<KallsymsFields>;
  if (!Array.isArray(f.byAddr) || !(f.byName instanceof Map)) throw new Error('Kallsyms no longer has byAddr/byName: update bench/kallsymsInsert.ts');
  return f as KallsymsFields;
}

function insertingAdd(this: Kallsyms, s: KSym): void {
  const { byAddr, byName } = fields(this);
  const list = byName.get(s.name);
  if (list) list.push(s);
  else byName.set(s.name, [s]);
  let lo = 0;
  let hi = byAddr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (byAddr[mid]!.addr <= s.addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo === byAddr.length) byAddr.push(s);
  else byAddr.splice(lo, 0, s);
}

/** Run `fn` with Kallsyms.add() binary-inserting (see the file comment); restored afterwards. */
export function withInsertingKallsyms<T>(fn: () => T): T {
  const proto = Kallsyms.prototype as unknown as { add(s: KSym): void };
  const shipped = proto.add;
  proto.add = insertingAdd;
  try {
    return fn();
  } finally {
    proto.add = shipped;
  }
}

/** @throws unless the inserting add() builds exactly the shipped by-address and by-name order for `symbols` */
export function checkEquivalent(symbols: readonly KSym[]): void {
  const shipped = fields(new Kallsyms([...symbols]));
  const inserted = fields(withInsertingKallsyms(() => new Kallsyms([...symbols])));
  if (shipped.byAddr.length !== inserted.byAddr.length || shipped.byAddr.some((s, i) => s !== inserted.byAddr[i])) {
    throw new Error('bench/kallsymsInsert.ts: inserting add() orders symbols differently from Kallsyms.add()');
  }
  for (const [name, list] of shipped.byName) {
    const other = inserted.byName.get(name);
    if (!other || other.length !== list.length || list.some((s, i) => s !== other[i])) throw new Error(`bench/kallsymsInsert.ts: by-name list of ${name} differs`);
  }
}
