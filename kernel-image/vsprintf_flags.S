# vsprintf_flags.S - lib/vsprintf.c's flags_string/format_flags for %pGg: gfp_t flags by name (GFP_KERNEL, __GFP_ZERO|...)
#
# vsnprintf hands `%pG<type>` here with the flags read through the pointer
# argument. Only type 'g' (gfp_t) has a table; the others print the value in
# hex. As the kernel's format_flags: walk the table in order, print every
# name whose whole mask is still set and clear those bits, '|' between
# names, and any bits left over as 0x<hex>. The combinations come first in
# the table, so GFP_KERNEL wins over its parts. Masks are GFP in
# src/abi/layout.ts.

.section .text
# format_gfp_flags(type, flags, buf, size): NUL-terminated text in buf
SYM_FUNC_START format_gfp_flags
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	mov r12, rsi
	mov rbx, rdx
	mov r13, rcx
	xor r15d, r15d
	mov byte ptr [rbx], 0
	cmp dil, 'g'
	jne .Lgfp_rest
	lea r14, [rip + gfpflag_names]
.Lgfp_next:
	test r12, r12
	jz .Lgfp_done
	mov rax, qword ptr [r14]
	test rax, rax
	jz .Lgfp_rest
	mov rcx, r12
	and rcx, rax
	cmp rcx, rax
	jne .Lgfp_skip
	not rax
	and r12, rax
	lea rdi, [rbx + r15]
	mov rsi, r13
	sub rsi, r15
	lea rdx, [rip + fmt_name]
	mov rcx, qword ptr [r14 + 8]
	call snprintf
	add r15, rax
	test r12, r12
	jz .Lgfp_skip
	lea rdi, [rbx + r15]
	mov rsi, r13
	sub rsi, r15
	lea rdx, [rip + fmt_bar]
	call snprintf
	add r15, rax
.Lgfp_skip:
	add r14, 16
	cmp r15, r13
	jb .Lgfp_next
	jmp .Lgfp_done
.Lgfp_rest:
	test r12, r12
	jz .Lgfp_done
	lea rdi, [rbx + r15]
	mov rsi, r13
	sub rsi, r15
	lea rdx, [rip + fmt_hex]
	mov rcx, r12
	call snprintf
.Lgfp_done:
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END format_gfp_flags

.section .rodata
SYM_DATA_START_LOCAL fmt_name
	.asciz "%s"
SYM_DATA_END fmt_name
SYM_DATA_START_LOCAL fmt_bar
	.asciz "|"
SYM_DATA_END fmt_bar
SYM_DATA_START_LOCAL fmt_hex
	.asciz "0x%lx"
SYM_DATA_END fmt_hex
SYM_DATA_START_LOCAL n_user
	.asciz "GFP_USER"
SYM_DATA_END n_user
SYM_DATA_START_LOCAL n_kernel
	.asciz "GFP_KERNEL"
SYM_DATA_END n_kernel
SYM_DATA_START_LOCAL n_nofs
	.asciz "GFP_NOFS"
SYM_DATA_END n_nofs
SYM_DATA_START_LOCAL n_atomic
	.asciz "GFP_ATOMIC"
SYM_DATA_END n_atomic
SYM_DATA_START_LOCAL n_noio
	.asciz "GFP_NOIO"
SYM_DATA_END n_noio
SYM_DATA_START_LOCAL n_nowait
	.asciz "GFP_NOWAIT"
SYM_DATA_END n_nowait
SYM_DATA_START_LOCAL n_high
	.asciz "__GFP_HIGH"
SYM_DATA_END n_high
SYM_DATA_START_LOCAL n_io
	.asciz "__GFP_IO"
SYM_DATA_END n_io
SYM_DATA_START_LOCAL n_fs
	.asciz "__GFP_FS"
SYM_DATA_END n_fs
SYM_DATA_START_LOCAL n_nowarn
	.asciz "__GFP_NOWARN"
SYM_DATA_END n_nowarn
SYM_DATA_START_LOCAL n_zero
	.asciz "__GFP_ZERO"
SYM_DATA_END n_zero
SYM_DATA_START_LOCAL n_hardwall
	.asciz "__GFP_HARDWALL"
SYM_DATA_END n_hardwall
SYM_DATA_START_LOCAL n_reclaim
	.asciz "__GFP_RECLAIM"
SYM_DATA_END n_reclaim
SYM_DATA_START_LOCAL n_direct
	.asciz "__GFP_DIRECT_RECLAIM"
SYM_DATA_END n_direct
SYM_DATA_START_LOCAL n_kswapd
	.asciz "__GFP_KSWAPD_RECLAIM"
SYM_DATA_END n_kswapd

# { u64 mask; const char *name } in the kernel's order, ended by mask 0
SYM_DATA_START_LOCAL gfpflag_names
	.quad GFP_USER, n_user
	.quad GFP_KERNEL, n_kernel
	.quad GFP_NOFS, n_nofs
	.quad GFP_ATOMIC, n_atomic
	.quad GFP_NOIO, n_noio
	.quad GFP_NOWAIT, n_nowait
	.quad GFP_HIGH, n_high
	.quad GFP_IO, n_io
	.quad GFP_FS, n_fs
	.quad GFP_NOWARN, n_nowarn
	.quad GFP_ZERO, n_zero
	.quad GFP_HARDWALL, n_hardwall
	.quad GFP_RECLAIM, n_reclaim
	.quad GFP_DIRECT_RECLAIM, n_direct
	.quad GFP_KSWAPD_RECLAIM, n_kswapd
	.quad 0, 0
SYM_DATA_END gfpflag_names
