// synthKernel.ts - small synthetic kernel sources for the build tests, and binutils runners over a linked vmlinux

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Boot code, a traceable global, a file-local `show_val_kb`, rodata/data/bss objects. */
export const HEAD_S = `# head.S - synthetic boot (comments use '#')
.section .text
SYM_CODE_START startup_64
	lea rdi, [rip + banner]   # the banner's address
	call start_kernel
.Lhang:
	hlt
	jmp .Lhang
SYM_CODE_END startup_64

SYM_FUNC_START start_kernel
	push rbp
	mov rbp, rsp
	call show_val_kb
	call meminfo_show
	mov rax, user_main        # a user entry point, as an absolute value
	mov rax, qword ptr [rip + user_entry]
	pop rbp
	ret
SYM_FUNC_END start_kernel
EXPORT_SYMBOL start_kernel

SYM_FUNC_START_LOCAL show_val_kb
	push rbp
	mov rbp, rsp
	cmp dword ptr [rdi + TASK_patch_state], KlpState_UNDEFINED
	jne .Lout
	mov eax, Hypercall_PANIC
.Lout:
	pop rbp
	ret
SYM_FUNC_END show_val_kb

.section .rodata
SYM_DATA_START banner
	.asciz "klpemu # not a comment"
SYM_DATA_END banner

.section .data
SYM_DATA_START user_entry
	.quad user_main
SYM_DATA_END user_entry

.section .bss
SYM_DATA_START_LOCAL scratch
	.zero 64
SYM_DATA_END scratch
`;

/** A second file with its own file-local `show_val_kb` and `.Lout`, plus a NOTRACE function. */
export const MEMINFO_S = `# meminfo.S
.section .text
SYM_FUNC_START meminfo_show
	push rbp
	mov rbp, rsp
	call show_val_kb
	leave
	ret
SYM_FUNC_END meminfo_show

SYM_FUNC_START_LOCAL show_val_kb
	push rbp
	mov rbp, rsp
	test rdi, rdi
	jz .Lout                  # same .L name as head.S
	xor eax, eax
.Lout:
	pop rbp
	ret
SYM_FUNC_END show_val_kb

SYM_FUNC_START_NOTRACE idle_loop
	push rbp
	mov rbp, rsp
	pause
	pop rbp
	ret
SYM_FUNC_END idle_loop
`;

/** User code in .usertext (NOTRACE, as user code must be). */
export const USER_S = `# user.S
.section .usertext
SYM_FUNC_START_NOTRACE user_main
	push rbp
	mov rbp, rsp
	mov eax, Syscall_getpid
	syscall
	pop rbp
	ret
SYM_FUNC_END user_main
`;

export const SOURCES: readonly { name: string; text: string }[] = [
  { name: 'head.S', text: HEAD_S },
  { name: 'meminfo.S', text: MEMINFO_S },
  { name: 'user.S', text: USER_S },
];

/** The smallest valid kernel: a SYM_CODE startup_64. */
export const START = 'SYM_CODE_START startup_64\n\thlt\nSYM_CODE_END startup_64\n';

/** A kernel consisting of startup_64 plus one extra function body in .text. */
export const withFunc = (annot: string, name: string, body: string): { name: string; text: string }[] => [
  { name: 'k.S', text: `${START}${annot} ${name}\n${body}SYM_FUNC_END ${name}\n` },
];

export interface ToolRun { status: number | null; stdout: string; stderr: string }

/** Write `elf` to a temp file and run a binutils tool on it (the file's path is the last argument). */
export function runOn(elf: Uint8Array, tool: string, args: string[]): ToolRun {
  const dir = mkdtempSync(join(tmpdir(), 'klpemu-build-'));
  try {
    const path = join(dir, 'vmlinux');
    writeFileSync(path, elf);
    const r = spawnSync(tool, [...args, path], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReadelfSym { num: number; value: bigint; size: number; type: string; bind: string; ndx: string; name: string }

/** The rows of `readelf -s -W`. */
export function parseReadelfSyms(out: string): ReadelfSym[] {
  const rows: ReadelfSym[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+): ([0-9a-f]{16})\s+(\d+) (\w+)\s+(\w+)\s+\w+\s+(\w+) ?(.*)$/.exec(line);
    if (m) rows.push({ num: Number(m[1]), value: BigInt(`0x${m[2]}`), size: Number(m[3]), type: m[4]!, bind: m[5]!, ndx: m[6]!, name: m[7]! });
  }
  return rows;
}
