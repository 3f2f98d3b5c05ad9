// interrupts.spec.ts - exceptions and interrupts delivered through the guest IDT
import { describe, expect, it } from 'vitest';
import { miniGuest, TEXT_RO } from '../../helpers/miniGuest.ts';
import { Vector } from '../../../src/abi/layout.ts';

const HALT = 'cli\n  hlt';

describe('[emu/machine/interrupts]: unit', () => {
  it('delivers 500 consecutive int3 through the IDT with the trap RIP', () => {
    const { m, sym } = miniGuest(
      `  mov rcx, 500\nl: int3\nafter_bp: dec rcx\n  jnz l\n  ${HALT}`,
      `h_bp: inc qword ptr [rip+cnt]\n  mov rax, [rsp]\n  mov [rip+last_rip], rax\n  iretq\ncnt: .quad 0\nlast_rip: .quad 0`,
      { [Vector.BP]: 'h_bp' }, ['cnt', 'last_rip', 'after_bp'],
    );
    m.runFor(100_000_000n);
    expect(m.mem.readU64(sym.cnt!)).toBe(500n);
    expect(m.mem.readU64(sym.last_rip!)).toBe(sym.after_bp);
    expect(m.vcpus[0]!.delivered.get(Vector.BP)).toBe(500);
    m.close();
  });

  it('delivers #UD at the faulting instruction and resumes where the handler says', () => {
    const { m, sym } = miniGuest(
      `bad: ud2\n  mov qword ptr [rip+after], 1\n  ${HALT}`,
      `h_ud: mov rax, [rsp]\n  mov [rip+ud_rip], rax\n  add qword ptr [rsp], 2\n  iretq\nud_rip: .quad 0\nafter: .quad 0`,
      { [Vector.UD]: 'h_ud' }, ['bad', 'ud_rip', 'after'],
    );
    m.runFor(10_000_000n);
    expect(m.mem.readU64(sym.ud_rip!)).toBe(sym.bad);
    expect(m.mem.readU64(sym.after!)).toBe(1n);
    m.close();
  });

  it('delivers three #DE in a row as #DE, never as #DF (unicorn#1883 worked around)', () => {
    const { m, sym } = miniGuest(
      `  xor ebx, ebx\n  mov eax, 1\n  xor edx, edx\n  div rbx\n  div rbx\n  div rbx\n  ${HALT}`,
      `h_de: inc qword ptr [rip+decnt]\n  add qword ptr [rsp], 3\n  iretq\nh_df: inc qword ptr [rip+dfcnt]\n  ${HALT}\ndecnt: .quad 0\ndfcnt: .quad 0`,
      { [Vector.DE]: 'h_de', [Vector.DF]: 'h_df' }, ['decnt', 'dfcnt'],
    );
    m.runFor(10_000_000n);
    expect(m.mem.readU64(sym.decnt!)).toBe(3n);
    expect(m.mem.readU64(sym.dfcnt!)).toBe(0n);
    m.close();
  });

  it('delivers #GP with the selector as error code for a bad segment load', () => {
    const { m, sym } = miniGuest(
      `  mov ax, 0x1238\nbad: mov ds, ax\n  ${HALT}`,
      `h_gp: pop rax\n  mov [rip+gp_err], rax\n  mov rax, [rsp]\n  mov [rip+gp_rip], rax\n  add qword ptr [rsp], 2\n  iretq\ngp_err: .quad 0\ngp_rip: .quad 0`,
      { [Vector.GP]: 'h_gp' }, ['gp_err', 'gp_rip', 'bad'],
    );
    m.runFor(10_000_000n);
    expect(m.mem.readU64(sym.gp_rip!)).toBe(sym.bad);
    expect(m.mem.readU64(sym.gp_err!)).toBe(0x1238n);
    m.close();
  });

  it('turns an unmapped read into #PF with CR2 and error code 0', () => {
    const { m, sym } = miniGuest(
      `  mov rax, 0x5000000\nbad: mov rbx, [rax]\n  ${HALT}`,
      `h_pf: pop rax\n  mov [rip+pf_err], rax\n  mov rax, cr2\n  mov [rip+pf_cr2], rax\n  mov rax, [rsp]\n  mov [rip+pf_rip], rax\n  add qword ptr [rsp], 3\n  iretq\npf_err: .quad 0xff\npf_cr2: .quad 0\npf_rip: .quad 0`,
      { [Vector.PF]: 'h_pf' }, ['pf_err', 'pf_cr2', 'pf_rip', 'bad'],
    );
    m.runFor(10_000_000n);
    expect(m.mem.readU64(sym.pf_cr2!)).toBe(0x5000000n);
    expect(m.mem.readU64(sym.pf_err!)).toBe(0n);
    expect(m.mem.readU64(sym.pf_rip!)).toBe(sym.bad);
    m.close();
  });

  it('turns a write to read-only text into #PF with error code 3 and leaves the text unchanged', () => {
    const { m, sym } = miniGuest(
      `  mov rax, ${TEXT_RO}\n  mov rbx, 0x4141414141414141\nbad: mov [rax], rbx\n  ${HALT}`,
      `h_pf: pop rax\n  mov [rip+pf_err], rax\n  mov rax, cr2\n  mov [rip+pf_cr2], rax\n  add qword ptr [rsp], 3\n  iretq\npf_err: .quad 0xff\npf_cr2: .quad 0`,
      { [Vector.PF]: 'h_pf' }, ['pf_err', 'pf_cr2'],
    );
    m.runFor(10_000_000n);
    expect(m.mem.readU64(sym.pf_cr2!)).toBe(TEXT_RO);
    expect(m.mem.readU64(sym.pf_err!)).toBe(3n);
    expect(m.mem.readU64(TEXT_RO)).toBe(0n);
    m.close();
  });

  it('delivers the periodic timer only while IF is set, preempting a running loop', () => {
    const { m, sym } = miniGuest(
      `  sti\nl: inc qword ptr [rip+work]\n  mov eax, 3\n  int 0x82\n  cmp qword ptr [rip+work], 3000\n  jb l\n  cli\nl2: inc qword ptr [rip+work2]\n  mov eax, 3\n  int 0x82\n  cmp qword ptr [rip+work2], 3000\n  jb l2\n  ${HALT}`,
      `h_tmr: inc qword ptr [rip+ticks]\n  iretq\nticks: .quad 0\nwork: .quad 0\nwork2: .quad 0`,
      { [Vector.LOCAL_TIMER]: 'h_tmr' }, ['ticks', 'work', 'work2'],
    );
    m.runUntil(() => m.mem.readU64(sym.work2!) >= 1n);
    const ticksWhileOn = m.mem.readU64(sym.ticks!);
    // 3000 events at 10 us each = 30 ms of guest time: about 3 ticks at HZ=100.
    expect(ticksWhileOn).toBeGreaterThanOrEqual(2n);
    m.runFor(100_000_000n);
    expect(m.mem.readU64(sym.work2!)).toBe(3000n);
    expect(m.mem.readU64(sym.ticks!)).toBe(ticksWhileOn);
    m.close();
  });
});
