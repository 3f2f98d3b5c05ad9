// prng.ts - seeded pseudo-random numbers: the interleaving is a pure function of the seed

/**
 * xorshift128+ over two 64-bit words, seeded through splitmix64, so small
 * seeds (0, 1, 2...) still give well-mixed, distinct streams.
 */
export class Prng {
  private s0: bigint;
  private s1: bigint;

  constructor(seed: number) {
    let x = BigInt.asUintN(64, BigInt(seed) + 0x9e3779b97f4a7c15n);
    const next = (): bigint => {
      x = BigInt.asUintN(64, x + 0x9e3779b97f4a7c15n);
      let z = x;
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
      return z ^ (z >> 31n);
    };
    this.s0 = next();
    this.s1 = next() | 1n;
  }

  /** Next 64-bit value. */
  nextU64(): bigint {
    let s1 = this.s0;
    const s0 = this.s1;
    this.s0 = s0;
    s1 = BigInt.asUintN(64, s1 ^ (s1 << 23n));
    this.s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return BigInt.asUintN(64, this.s1 + s0);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + Number(this.nextU64() % BigInt(hi - lo + 1));
  }

  save(): [bigint, bigint] {
    return [this.s0, this.s1];
  }

  restore(s: [bigint, bigint]): void {
    [this.s0, this.s1] = s;
  }
}
