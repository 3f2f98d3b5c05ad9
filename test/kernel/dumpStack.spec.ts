// dumpStack.spec.ts - an oops prints the kernel's lines: taint, RIP at the faulting instruction, and a Call Trace walked from pt_regs
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { buildCase, cases } from '../fixtures/validate/build.ts';
import { bootSystem, MS, sh } from '../helpers/klpHarness.ts';

describe('[kernel/dumpStack]: the oops of a livepatch whose new function dereferences NULL', () => {
  let sys: System;
  let oops: string[];
  const dir = mkdtempSync(join(tmpdir(), 'klpemu-oops-'));

  beforeAll(() => {
    sys = bootSystem({ seed: 3, nrUserTasks: 4 }); // two cat_cmdline tasks: two oopses
    const ko = join(dir, 'oops_new_func.ko');
    writeFileSync(ko, buildCase(cases().find((c) => c.name === 'oops-new-func')!, sys.kernel.image));
    expect(sh(sys, `insmod ${ko}`).status).toBe(0);
    expect(sys.kernel.runUntil(() => sys.kernel.oopses.length > 0, 2000n * MS)).toBe(true);
    const lines = sys.kernel.dmesg().map((l) => l.replace(/^\[[ \d.]+\] /, ''));
    const first = lines.findIndex((l) => l.startsWith('BUG: unable to handle page fault'));
    oops = lines.slice(first, lines.indexOf('---[ end trace 0000000000000000 ]---', first) + 1);
  });
  afterAll(() => {
    sys.kernel.machine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the load at +0xb, the taint of the module load, and the RIP of that instruction', () => {
    expect(sys.kernel.oopses[0]!.text).toBe('livepatch_cmdline_proc_show+0xb/0x25 [oops_new_func]');
    expect(oops[3]).toBe('Oops: 0000 [#1] PREEMPT SMP');
    expect(oops[4]).toMatch(/^CPU: \d PID: \d+ Comm: \S+ Tainted: G {11}O {2}K {4}6\.6\.0-klpemu #1$/);
    expect(oops[5]).toBe('RIP: 0010:livepatch_cmdline_proc_show+0xb/0x25 [oops_new_func]');
    // show_opcodes: the faulting `mov rax, qword ptr [rax]` in <>, after the entry nop and prologue
    expect(oops[6]).toMatch(/^Code: (?:[0-9a-f]{2} ){31}0f 1f 44 00 00 55 48 89 e5 31 c0 <48> 8b 00(?: [0-9a-f]{2}){19}$/);
    expect(oops[7]).toMatch(/^RSP: 0018:ffff8880000[0-9a-f]{5} EFLAGS: [0-9a-f]{8} ORIG_RAX: 0000000000000000$/);
    expect(oops[8]).toMatch(/^RAX: 0000000000000000 RBX: [0-9a-f]{16} RCX: [0-9a-f]{16}$/);
    expect(oops.find((l) => l.startsWith('CR2: '))).toMatch(/^CR2: 0000000000000000 /);
  });

  it('prints a Call Trace of kernel text between <TASK> and </TASK>, before the end marker', () => {
    const at = oops.indexOf('Call Trace:');
    expect(oops[at - 1]).toMatch(/^CR2: /);
    expect(oops[at + 1]).toBe(' <TASK>');
    const frames = oops.slice(at + 2, oops.indexOf(' </TASK>'));
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) expect(f).toMatch(/^ [A-Za-z_0-9]+\+0x[0-9a-f]+\/0x[0-9a-f]+$/);
    // the procfs read that called the patched show function is on it
    expect(frames.some((f) => /^ __x64_sys_(open|read)\+/.test(f))).toBe(true);
    expect(oops[oops.length - 1]).toBe('---[ end trace 0000000000000000 ]---');
  });

  it('a second oops is tainted D (TAINT_DIE) as well', () => {
    expect(sys.kernel.runUntil(() => sys.kernel.oopses.length > 1, 2000n * MS)).toBe(true);
    const cpuLines = sys.kernel.dmesg().filter((l) => / Comm: .* Tainted: /.test(l));
    expect(cpuLines[1]).toMatch(/Tainted: G {6}D {4}O {2}K {4}6\.6\.0-klpemu #1$/);
  });
});
