// testShadowVars.ts - tools/testing/selftests/livepatch/test-shadow-vars.sh: the shadow variable API, pointers printed as PTRn ids

import type { Scenario } from './testLivepatch.ts';
import { insmod, lines, rmmod } from './notation.ts';

const M = 'test_klp_shadow_vars';
const ID1 = '1234';
const ID2 = '1235';
/** PTR ids the module gives shadow_ctor and shadow_dtor (first seen in that order). */
const CTOR = 4;
const DTOR = 17;

const p = (s: string): string => `${M}: ${s}`;
/** G(o,id,r): klp_shadow_get(obj=PTRo, id=0xid) = PTRr */
const get = (o: number, id: string, r: number): string => p(`klp_shadow_get(obj=PTR${o}, id=0x${id}) = PTR${r}`);
/** GA/AL(o,id,d,r): the allocating calls, ctor_data=PTRd, result PTRr. */
const alloc = (fn: string, o: number, id: string, d: number, r: number): string =>
  p(`klp_${fn}(obj=PTR${o}, id=0x${id}, size=8, gfp_flags=GFP_KERNEL), ctor=PTR${CTOR}, ctor_data=PTR${d} = PTR${r}`);
const ga = (o: number, id: string, d: number, r: number): string => alloc('shadow_get_or_alloc', o, id, d, r);
const al = (o: number, id: string, d: number, r: number): string => alloc('shadow_alloc', o, id, d, r);
const ctor = (r: number, d: number): string => p(`shadow_ctor: PTR${r} -> PTR${d}`);
/** OK(a,b) and NUL */
const ok = (a: number, b: number): string => p(`  got expected PTR${a} -> PTR${b} result`);
const nul = p('  got expected NULL result');

/** The three objects' ids, and for each its ID1 (data, var) and ID2 (data, var) pointer ids. */
const OBJS = [
  { o: 1, d1: 2, v1: 3, d2: 5, v2: 6 },
  { o: 9, d1: 7, v1: 8, d2: 10, v2: 11 },
  { o: 14, d1: 12, v1: 13, d2: 15, v2: 16 },
];

export const TEST_SHADOW_VARS: Scenario[] = [
  {
    name: 'basic shadow variable API',
    run(t) { t.loadMod(M); t.unloadMod(M); },
    expected: lines(
      insmod(M),
      get(1, ID1, 0), nul,
      ...OBJS.flatMap((x, i) => [
        ctor(x.v1, x.d1), i % 2 ? al(x.o, ID1, x.d1, x.v1) : ga(x.o, ID1, x.d1, x.v1),
        ctor(x.v2, x.d2), al(x.o, ID2, x.d2, x.v2),
      ]),
      ...OBJS.flatMap((x) => [get(x.o, ID1, x.v1), ok(x.v1, x.d1), get(x.o, ID2, x.v2), ok(x.v2, x.d2)]),
      ...OBJS.flatMap((x) => [ga(x.o, ID1, x.d1, x.v1), ok(x.v1, x.d1)]),
      ...OBJS.flatMap((x) => [
        p(`shadow_dtor(obj=PTR${x.o}, shadow_data=PTR${x.v1})`),
        p(`klp_shadow_free(obj=PTR${x.o}, id=0x${ID1}, dtor=PTR${DTOR})`),
        get(x.o, ID1, 0), nul,
      ]),
      ...OBJS.flatMap((x) => [get(x.o, ID2, x.v2), ok(x.v2, x.d2)]),
      p(`klp_shadow_free_all(id=0x${ID2}, dtor=PTR0)`),
      ...OBJS.flatMap((x) => [get(x.o, ID2, 0), nul]),
      rmmod(M),
    ),
  },
];
