// paramArray.spec.ts - module_param_array (MODULE_PARM_ARRAY) and kobjects with guest show/store (kobject_create_and_add, sysfs_create_file)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { buildModule } from '../../src/module/build.ts';
import { modulePrelude } from '../../src/module/sources.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { bootSystem, dmesgLines, removeScratch, sh, writeKo } from '../helpers/klpHarness.ts';

/** A plain module: two array parameters, /sys/kernel/<dir>/sub/value served by guest show/store. */
const source = (dir: string): string => `
MODULE_LICENSE "GPL"
MODULE_PARM_ARRAY vals int nvals 0644 "some ints"
MODULE_PARM_ARRAY flags bool nflags 0444 "some bools"
MODULE_PARM_ARRAY secret int nsecret 0 "not in sysfs"

.section .text
SYM_FUNC_START_LOCAL value_show
	push rbp
	mov rbp, rsp
	mov rdi, rdx
	lea rsi, [rip + fmt_value]
	mov edx, dword ptr [rip + value]
	call sprintf
	pop rbp
	ret
SYM_FUNC_END value_show

SYM_FUNC_START_LOCAL value_store
	push rbp
	mov rbp, rsp
	movzx eax, byte ptr [rdx]
	sub eax, 48
	mov dword ptr [rip + value], eax
	mov rax, rcx
	pop rbp
	ret
SYM_FUNC_END value_store

SYM_FUNC_START_LOCAL pa_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + name_dir]
	mov rsi, qword ptr [rip + kernel_kobj]
	call kobject_create_and_add
	mov qword ptr [rip + dir_kobj], rax
	test rax, rax
	jz .Lnomem
	lea rdi, [rip + name_sub]
	mov rsi, rax
	call kobject_create_and_add
	mov qword ptr [rip + sub_kobj], rax
	mov rdi, rax
	lea rsi, [rip + value_attr]
	call sysfs_create_file
	pop rbp
	ret
.Lnomem:
	mov eax, -12
	pop rbp
	ret
SYM_FUNC_END pa_init

SYM_FUNC_START_LOCAL pa_exit
	push rbp
	mov rbp, rsp
	mov rdi, qword ptr [rip + sub_kobj]
	call kobject_put
	mov rdi, qword ptr [rip + dir_kobj]
	call kobject_put
	pop rbp
	ret
SYM_FUNC_END pa_exit

MODULE_INIT pa_init
MODULE_EXIT pa_exit

.section .rodata
SYM_DATA_START_LOCAL name_dir
	.asciz "${dir}"
SYM_DATA_END name_dir
SYM_DATA_START_LOCAL name_sub
	.asciz "sub"
SYM_DATA_END name_sub
SYM_DATA_START_LOCAL name_value
	.asciz "value"
SYM_DATA_END name_value
SYM_DATA_START_LOCAL fmt_value
	.asciz "%d\\n"
SYM_DATA_END fmt_value

.section .data
.balign 8
SYM_DATA_START_LOCAL dir_kobj
	.quad 0
SYM_DATA_END dir_kobj
SYM_DATA_START_LOCAL sub_kobj
	.quad 0
SYM_DATA_END sub_kobj
SYM_DATA_START_LOCAL value_attr
	.quad name_value
	.short 0644
	.zero 6
	.quad value_show
	.quad value_store
SYM_DATA_END value_attr
SYM_DATA_START_LOCAL value
	.long 7
SYM_DATA_END value
SYM_DATA_START nvals
	.long 0
SYM_DATA_END nvals
SYM_DATA_START_LOCAL nflags
	.long 0
SYM_DATA_END nflags
SYM_DATA_START_LOCAL nsecret
	.long 0
SYM_DATA_END nsecret
SYM_DATA_START_LOCAL vals
	.zero 4 * 5
SYM_DATA_END vals
SYM_DATA_START_LOCAL flags
	.zero 3
SYM_DATA_END flags
SYM_DATA_START_LOCAL secret
	.zero 4 * 2
SYM_DATA_END secret
`;

function ko(name: string, dir: string): string {
  const image = loadImage();
  const bytes = buildModule(`${name}.S`, source(dir), new Set(image.symbols.map((s) => s.name)), modulePrelude());
  return writeKo(`${name}.ko`, bytes);
}

describe('[module]: module_param_array and kobject sysfs attributes', () => {
  let sys: System;
  beforeAll(() => {
    sys = bootSystem({ seed: 21 });
  });
  afterAll(() => {
    sys.kernel.machine.close();
    removeScratch();
  });
  const P = '/sys/module/param_array_test/parameters';

  it('insmod sets the arrays and their counts; sysfs shows them comma-separated, by perm; store rewrites them', () => {
    expect(sh(sys, `insmod ${ko('param_array_test', 'param_array_test')} vals=1,-2,0x10 flags=Y,n secret=5`).status).toBe(0);
    expect(sh(sys, `cat ${P}/vals`).out).toBe('1,-2,16\n');
    expect(sh(sys, `cat ${P}/flags`).out).toBe('Y,N\n');
    expect(sh(sys, `stat -c %A ${P}/vals ${P}/flags`).out).toBe('-rw-r--r--\n-r--r--r--\n');
    expect(sh(sys, `ls ${P}`).out).toBe('flags\nvals\n');
    const nvals = sys.kernel.kallsyms.lookup('nvals')!.addr;
    expect(sys.kernel.machine.mem.readU32(nvals)).toBe(3);
    expect(sh(sys, `echo 4,5 > ${P}/vals`).status).toBe(0);
    expect(sh(sys, `cat ${P}/vals`).out).toBe('4,5\n');
    expect(sys.kernel.machine.mem.readU32(nvals)).toBe(2);
    // max = ARRAY_SIZE(vals) = 5
    const from = sys.kernel.dmesg().length;
    expect(sh(sys, `echo 1,2,3,4,5,6 > ${P}/vals`).err).toBe('sh: echo: write error: Invalid argument\n');
    expect(dmesgLines(sys).slice(from)).toEqual(['vals: can only take 5 arguments']);
    expect(sh(sys, `echo 1,x > ${P}/vals`).status).toBe(1);
  });

  it('kobject_create_and_add under kernel_kobj and a child: a directory tree; the attribute runs guest show/store', () => {
    expect(sh(sys, 'ls /sys/kernel/param_array_test').out).toBe('sub\n');
    expect(sh(sys, 'cat /sys/kernel/param_array_test/sub/value').out).toBe('7\n');
    expect(sh(sys, 'echo 3 > /sys/kernel/param_array_test/sub/value').status).toBe(0);
    expect(sh(sys, 'cat /sys/kernel/param_array_test/sub/value').out).toBe('3\n');
    expect(sh(sys, 'rmmod param_array_test').status).toBe(0);
    expect(sys.kernel.vfs.exists('/sys/kernel/param_array_test')).toBe(false);
  });

  it('a duplicate kobject name fails like the kernel: sysfs warning, kobject_add error, init returns -ENOMEM', () => {
    const from = sys.kernel.dmesg().length;
    const path = ko('dup_kobject_test', 'livepatch');
    expect(sh(sys, `insmod ${path}`).err).toBe(`insmod: ERROR: could not insert module ${path}: Cannot allocate memory\n`);
    expect(dmesgLines(sys).slice(from)).toEqual([
      "sysfs: cannot create duplicate filename '/kernel/livepatch'",
      "kobject: kobject_add_internal failed for livepatch with -EEXIST, don't try to register things with the same name in the same directory.",
      'kobject_create_and_add: kobject_add error: -17',
    ]);
    expect(sys.kernel.vfs.isDir('/sys/kernel/livepatch')).toBe(true);
    expect(sys.modules.list()).toEqual([]);
  });
});
