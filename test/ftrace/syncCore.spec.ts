// syncCore.spec.ts - text_poke_sync: three syncs per batch; without them vCPUs keep running stale translations of a patched site
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bootGetpidEverywhere, callBytes, counterHandler, Int3Tracker, newOps, SiteMonitor, type FtraceKernel } from '../helpers/ftraceKit.ts';
import { BP_PATCHING, FTRACE_NOP, FTRACE_OPS } from '../../src/abi/layout.ts';
import { TP_VEC_MAX, type PokeSite } from '../../src/ftrace/index.ts';

// Each vCPU engine pays for its first translation-cache flush (adding a code hook) - seconds on a loaded host.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

describe('[ftrace/sync]: text_poke_bp syncs every vCPU between its phases', () => {
  let fk: FtraceKernel;
  let mon: SiteMonitor;
  let int3: Int3Tracker;
  let ops: bigint;
  let site: bigint;
  let handler: ReturnType<typeof counterHandler>;
  beforeAll(() => {
    fk = bootGetpidEverywhere({ cpus: 2, seed: 5 });
    handler = counterHandler(fk.k);
    ops = newOps(fk.k, handler.addr);
    site = fk.ftrace.recordOf('__x64_sys_getpid')!.ip;
    expect(fk.ftrace.ftraceSetFilterIp(ops, site, false, true)).toBe(0);
    mon = new SiteMonitor(fk, site, handler.addr);
    int3 = new Int3Tracker(fk.k);
    fk.ftrace.poker.afterSync = () => {
      fk.k.machine.runFor(150_000n);
      if (fk.ftrace.poker.syncs % 3 === 0) int3.drain();
    };
    fk.k.machine.runFor(2_000_000n);
    // every vCPU has translated and run the site: its nop is cached code now
    mon.perCpuHits.forEach((n) => expect(n).toBeGreaterThan(0));
  });
  afterAll(() => fk.k.machine.close());

  it('with the syncs: 3 per batch, and every entry over the call runs the handler (no stale code)', () => {
    const { k, ftrace } = fk;
    const s0 = ftrace.poker.syncs;
    const m0 = k.machine.syncCount;
    expect(ftrace.registerFtraceFunction(ops)).toBe(0);
    expect(ftrace.poker.syncs - s0).toBe(3);
    expect(k.machine.syncCount - m0).toBe(3);
    const calls0 = mon.byState.call;
    k.machine.runFor(3_000_000n);
    expect(mon.byState.call - calls0).toBeGreaterThan(0);
    expect(ftrace.unregisterFtraceFunction(ops)).toBe(0);
    expect(ftrace.poker.syncs - s0).toBe(6);
    // 3 for the batch and one when the trampoline is freed
    expect(k.machine.syncCount - m0).toBe(7);
    expect(mon.staleCalls).toBe(0);
    expect(mon.staleInsns).toEqual([]);
    expect(mon.mismatches).toEqual([]);
    expect(mon.torn).toEqual([]);
    expect(Number(handler.count())).toBe(mon.handlerHits);
  });

  it('without them (syncCore a no-op): the site holds the call but vCPUs run the old nop and the handler does not fire', () => {
    const { k, ftrace } = fk;
    const real = k.machine.syncCore;
    let skipped = 0;
    k.machine.syncCore = () => void skipped++;
    const s0 = ftrace.poker.syncs;
    const stale0 = mon.staleCalls;
    const staleInsns0 = mon.staleInsns.length;
    const h0 = handler.count();
    const int3Delivered0 = int3.delivered;
    try {
      expect(ftrace.registerFtraceFunction(ops)).toBe(0);
      expect(ftrace.poker.syncs - s0).toBe(3);
      expect(skipped).toBe(3);
      expect(k.machine.mem.read(site, 5)).toEqual(Buffer.from(callBytes(site, k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.trampoline)))));
      k.machine.runFor(3_000_000n);
    } finally {
      k.machine.syncCore = real;
    }
    // stale: entries over the call bytes with no handler call, and the int3 phase never trapped
    expect(mon.staleCalls - stale0).toBeGreaterThan(0);
    expect(handler.count()).toBe(h0);
    expect(mon.staleInsns.length - staleInsns0).toBeGreaterThan(0);
    expect(mon.staleInsns.at(-1)).toMatch(/5-byte translation of the site over \[cc /);
    expect(int3.delivered).toBe(int3Delivered0);

    // one real sync ends it: from then on every entry calls the handler
    k.machine.syncCore(site, site + 5n);
    const stale1 = mon.staleCalls;
    const calls1 = mon.byState.call;
    k.machine.runFor(3_000_000n);
    expect(mon.staleCalls).toBe(stale1);
    expect(mon.byState.call - calls1).toBeGreaterThan(0);
    expect(handler.count()).toBeGreaterThan(h0);
    expect(ftrace.unregisterFtraceFunction(ops)).toBe(0);
    expect(k.machine.mem.read(site, 5)).toEqual(Buffer.from(FTRACE_NOP));
    expect(k.oopses).toEqual([]);
  });

  it(`batches of TP_VEC_MAX (${TP_VEC_MAX}) sites: 3 syncs each, bp_desc cleared after the last`, () => {
    const { k, ftrace } = fk;
    const mem = k.machine.mem;
    const n = TP_VEC_MAX + 10;
    const base = k.moduleArea.alloc(n * 8, 16n);
    const target = k.sym('ftrace_caller');
    const sites: PokeSite[] = [];
    for (let i = 0; i < n; i++) {
      const addr = base + BigInt(i * 8);
      mem.write(addr, FTRACE_NOP);
      sites.push({ addr, old: FTRACE_NOP, new: callBytes(addr, target) });
    }
    const s0 = ftrace.poker.syncs;
    const b0 = ftrace.poker.batches;
    expect(ftrace.poker.textPokeAll(sites)).toBeUndefined();
    expect(ftrace.poker.batches - b0).toBe(2);
    expect(ftrace.poker.syncs - s0).toBe(6);
    for (const s of sites) expect(mem.read(s.addr, 5)).toEqual(Buffer.from(s.new));
    expect(mem.readU64(k.sym('bp_desc') + BigInt(BP_PATCHING.vec))).toBe(0n);
    expect(mem.readU64(k.sym('bp_desc') + BigInt(BP_PATCHING.nr_entries))).toBe(0n);
    expect(() => ftrace.poker.textPokeBpBatch(sites)).toThrow(RangeError);
  });
});
