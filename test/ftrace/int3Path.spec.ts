// int3Path.spec.ts - vCPUs that hit a site while it holds text_poke_bp's int3: poke_int3_handler emulates the instruction being installed
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { symU64 } from '../helpers/kernelImage.ts';
import { bootGetpidEverywhere, callBytes, counterHandler, hex, Int3Tracker, newOps, SiteMonitor, type FtraceKernel } from '../helpers/ftraceKit.ts';
import { FTRACE_NOP, FTRACE_OPS, Opcode } from '../../src/abi/layout.ts';

// Each vCPU engine pays for its first translation-cache flush (adding a code hook) - seconds on a loaded host.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

/** What happened while the machine ran with the site holding int3, in one phase window. */
interface Window {
  bytes: string;
  bpHits: bigint;
  handlerCalls: bigint;
  int3Entries: number;
  delivered: number;
}

describe('[ftrace/int3]: the int3 of a live batch is emulated as the new instruction', () => {
  let fk: FtraceKernel;
  let mon: SiteMonitor;
  let int3: Int3Tracker;
  let ops: bigint;
  let site: bigint;
  let handler: ReturnType<typeof counterHandler>;
  beforeAll(() => {
    fk = bootGetpidEverywhere({ cpus: 2, seed: 13 });
    handler = counterHandler(fk.k);
    ops = newOps(fk.k, handler.addr);
    site = fk.ftrace.recordOf('__x64_sys_getpid')!.ip;
    expect(fk.ftrace.ftraceSetFilterIp(ops, site, false, true)).toBe(0);
    mon = new SiteMonitor(fk, site, handler.addr);
    int3 = new Int3Tracker(fk.k);
    fk.k.machine.runFor(1_000_000n);
  });
  afterAll(() => fk.k.machine.close());

  /**
   * Run `op` (one batch) with the machine running after its first two syncs until
   * at least `want` entries went through the int3 and came back to the body;
   * after the last sync, drain in-flight int3s (see Int3Tracker).
   */
  function patchWithWindows(op: () => number, want: number): Window[] {
    const { k, ftrace } = fk;
    const windows: Window[] = [];
    const start = ftrace.poker.syncs;
    ftrace.poker.afterSync = () => {
      const phase = ftrace.poker.syncs - start;
      if (phase === 3) return int3.drain();
      const bytes = hex(k.machine.mem.read(site, 5));
      const bp0 = symU64(k, 'bp_int3_hits');
      const h0 = handler.count();
      const e0 = mon.byState.int3;
      const d0 = k.machine.vcpus.reduce((a, v) => a + (v.delivered.get(3) ?? 0), 0);
      const ok = k.machine.runUntil(() => mon.byState.int3 - e0 >= want, { maxNs: 50_000_000n });
      expect(ok, `phase ${phase}: ${want} entries through the int3`).toBe(true);
      windows.push({
        bytes, bpHits: symU64(k, 'bp_int3_hits') - bp0, handlerCalls: handler.count() - h0, int3Entries: mon.byState.int3 - e0,
        delivered: k.machine.vcpus.reduce((a, v) => a + (v.delivered.get(3) ?? 0), 0) - d0,
      });
    };
    try {
      expect(op()).toBe(0);
    } finally {
      ftrace.poker.afterSync = undefined;
    }
    expect(windows).toHaveLength(2);
    return windows;
  }

  it('registering: with only `cc` + the nop tail in memory, the handler runs once per entry (the call is emulated)', () => {
    const { k, ftrace } = fk;
    const w = patchWithWindows(() => ftrace.registerFtraceFunction(ops), 5);
    const tramp = k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.trampoline));
    const call = callBytes(site, tramp);
    expect(w[0]!.bytes).toBe(hex(Uint8Array.of(Opcode.INT3, ...FTRACE_NOP.subarray(1))));
    expect(w[1]!.bytes).toBe(hex(Uint8Array.of(Opcode.INT3, ...call.subarray(1))));
    for (const x of w) {
      expect(x.int3Entries).toBeGreaterThanOrEqual(5);
      expect(x.bpHits).toBeGreaterThanOrEqual(BigInt(x.int3Entries));
      expect(x.delivered).toBeGreaterThanOrEqual(x.int3Entries);
      // no call instruction existed at the site in window 0: every handler call came from poke_int3_handler
      expect(x.handlerCalls).toBeGreaterThanOrEqual(BigInt(x.int3Entries));
    }
    // each emulated call returned to site + 5 on the stack it was made from, having called the handler once
    expect(mon.mismatches).toEqual([]);
    expect(mon.unmatchedHandler).toEqual([]);
    expect(mon.torn).toEqual([]);
    expect(k.machine.mem.read(site, 5)).toEqual(Buffer.from(call));
    expect(k.oopses).toEqual([]);
  });

  it('unregistering: the int3 over the call tail is emulated as the nop - no handler call, the function still runs', () => {
    const { k, ftrace } = fk;
    const tramp = k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.trampoline));
    const calls0 = symU64(k, 'user_getpid_calls');
    const w = patchWithWindows(() => ftrace.unregisterFtraceFunction(ops), 5);
    expect(w[0]!.bytes).toBe(hex(Uint8Array.of(Opcode.INT3, ...callBytes(site, tramp).subarray(1))));
    expect(w[1]!.bytes).toBe(hex(Uint8Array.of(Opcode.INT3, ...FTRACE_NOP.subarray(1))));
    for (const x of w) {
      expect(x.int3Entries).toBeGreaterThanOrEqual(5);
      expect(x.bpHits).toBeGreaterThanOrEqual(BigInt(x.int3Entries));
      // window entries that came through the int3 ran no handler (calls in flight from before may finish)
      expect(x.handlerCalls).toBeLessThanOrEqual(BigInt(k.machine.vcpus.length));
    }
    expect(mon.mismatches).toEqual([]);
    expect(symU64(k, 'user_getpid_calls')).toBeGreaterThan(calls0);
    expect(k.machine.mem.read(site, 5)).toEqual(Buffer.from(FTRACE_NOP));
    expect(k.oopses).toEqual([]);
  });

  it('an int3 at a site that is not in the live batch is not poke_int3_handler\'s: the kernel reports it (die)', () => {
    const { k } = fk;
    const other = fk.ftrace.recordOf('__x64_sys_nanosleep')!.ip;
    const bp0 = symU64(k, 'bp_int3_hits');
    k.machine.mem.writeU8(other, Opcode.INT3);
    k.machine.syncCore(other, other + 5n);
    k.machine.runUntil(() => k.oopses.length > 0, { maxNs: 200_000_000n });
    expect(k.oopses[0]).toMatchObject({ vector: 3, text: expect.stringMatching(/^__x64_sys_nanosleep\+0x1\//) });
    expect(symU64(k, 'bp_int3_hits')).toBe(bp0);
  });
});
