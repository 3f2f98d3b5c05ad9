# panic.S - kernel/panic.c: tainted_mask, add_taint() and print_tainted() for the oops lines
#
# The host's module loader sets TAINT_OOT_MODULE and TAINT_LIVEPATCH bits here
# (src/module/loader.ts, add_taint's host half); die() adds TAINT_DIE after an
# oops, as oops_end() does, and prints print_tainted() in its CPU line.

.section .text

# add_taint(flag): set bit `flag` of tainted_mask.
SYM_FUNC_START add_taint
	push rbp
	mov rbp, rsp
	lock bts qword ptr [rip + tainted_mask], rdi
	pop rbp
	ret
SYM_FUNC_END add_taint

# print_tainted() -> "Not tainted", or "Tainted: " and one column per flag
# (its letter when set; 'G' or ' ' when clear), in a static buffer.
SYM_FUNC_START print_tainted
	push rbp
	mov rbp, rsp
	mov rdx, qword ptr [rip + tainted_mask]
	lea rax, [rip + str_not_tainted]
	test rdx, rdx
	jz .Ldone
	lea rdi, [rip + tainted_buf]
	lea rsi, [rip + str_tainted]
.Lprefix:
	mov al, byte ptr [rsi]
	test al, al
	jz .Lflags
	mov byte ptr [rdi], al
	inc rsi
	inc rdi
	jmp .Lprefix
.Lflags:
	xor ecx, ecx
	lea rsi, [rip + taint_flags]
.Lflag:
	movzx eax, byte ptr [rsi + rcx * 2 + 1]
	bt rdx, rcx
	jnc .Lput
	movzx eax, byte ptr [rsi + rcx * 2]
.Lput:
	mov byte ptr [rdi], al
	inc rdi
	inc ecx
	cmp ecx, Taint_FLAGS_COUNT
	jb .Lflag
	mov byte ptr [rdi], 0
	lea rax, [rip + tainted_buf]
.Ldone:
	pop rbp
	ret
SYM_FUNC_END print_tainted

.section .rodata
# taint_flags[]: c_true, c_false per flag, in the kernel's bit order.
SYM_DATA_START_LOCAL taint_flags
	.ascii "PGF S R M B U D A W C I O E L K X T N "
SYM_DATA_END taint_flags
SYM_DATA_START_LOCAL str_not_tainted
	.asciz "Not tainted"
SYM_DATA_END str_not_tainted
SYM_DATA_START_LOCAL str_tainted
	.asciz "Tainted: "
SYM_DATA_END str_tainted

.section .data
SYM_DATA_START tainted_mask
	.quad 0
SYM_DATA_END tainted_mask

.section .bss
SYM_DATA_START_LOCAL tainted_buf
	.zero 32
SYM_DATA_END tainted_buf
