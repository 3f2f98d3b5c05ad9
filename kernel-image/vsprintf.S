# vsprintf.S - lib/vsprintf.c: vsnprintf, snprintf, sprintf (the subset the toy kernel prints with)
#
# Arguments come as an array of u64 slots (the toy's va_list: printk and
# seq_printf spill their register arguments into one). Supported: %% %c %s
# %d %i %u %x %X %p %px %pG<type> (flags by name, vsprintf_flags.S), flags
# '-' and '0', a decimal width, and the length modifiers l, ll, z, h
# (without l/z a number is 32 bits, as an int).

VSN_LEFT = 1
VSN_ZERO = 2
VSN_FLAGS = 56
VSN_WIDTH = 64
VSN_LONG = 72
VSN_NEG = 80
VSN_NUMBUF = 112
VSN_FLAGBUF = 240
VSN_FLAGBUF_LEN = 128
# frame below the saved registers: 72 bytes of state, then the flags buffer

# VSN_PUTC reg8: append one byte if it fits (size - 1 bytes and the NUL);
# clobbers rax and r11. Registers: rbx = buf, r12 = size, r15 = position.
.macro VSN_PUTC r
	lea r11, [r12 - 1]
	lea rax, [rbx + r15]
	cmp r15, r11
	lea r11, [rip + vsn_sink]
	cmovae rax, r11
	mov byte ptr [rax], \r
	inc r15
.endm

.section .text

# vsnprintf(buf, size, fmt, args) -> length of the full output (without NUL)
SYM_FUNC_START vsnprintf
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 200
	mov rbx, rdi
	mov r12, rsi
	mov r13, rdx
	mov r14, rcx
	xor r15d, r15d
.Lloop:
	movzx esi, byte ptr [r13]
	test sil, sil
	jz .Lend
	inc r13
	cmp sil, '%'
	je .Lspec
	VSN_PUTC sil
	jmp .Lloop
.Lspec:
	mov qword ptr [rbp - VSN_FLAGS], 0
	mov qword ptr [rbp - VSN_WIDTH], 0
	mov qword ptr [rbp - VSN_LONG], 0
	mov qword ptr [rbp - VSN_NEG], 0
.Lflags:
	movzx esi, byte ptr [r13]
	cmp sil, '-'
	jne .Lnot_left
	or qword ptr [rbp - VSN_FLAGS], VSN_LEFT
	inc r13
	jmp .Lflags
.Lnot_left:
	cmp sil, '0'
	jne .Lwidth
	or qword ptr [rbp - VSN_FLAGS], VSN_ZERO
	inc r13
	jmp .Lflags
.Lwidth:
	movzx esi, byte ptr [r13]
	sub esi, '0'
	cmp esi, 9
	ja .Llength
	mov rax, qword ptr [rbp - VSN_WIDTH]
	imul rax, rax, 10
	add rax, rsi
	mov qword ptr [rbp - VSN_WIDTH], rax
	inc r13
	jmp .Lwidth
.Llength:
	movzx esi, byte ptr [r13]
	cmp sil, 'l'
	je .Lis_long
	cmp sil, 'z'
	je .Lis_long
	cmp sil, 'h'
	jne .Lconv
	inc r13
	jmp .Llength
.Lis_long:
	mov qword ptr [rbp - VSN_LONG], 1
	inc r13
	jmp .Llength
.Lconv:
	test sil, sil
	jz .Lend
	inc r13
	cmp sil, '%'
	je .Lpercent
	cmp sil, 'c'
	je .Lchar
	cmp sil, 's'
	je .Lstring
	cmp sil, 'd'
	je .Lsigned
	cmp sil, 'i'
	je .Lsigned
	cmp sil, 'u'
	je .Lunsigned
	cmp sil, 'x'
	je .Lhex
	cmp sil, 'X'
	je .Lhex_upper
	cmp sil, 'p'
	je .Lpointer
	mov dil, '%'
	VSN_PUTC dil
	VSN_PUTC sil
	jmp .Lloop
.Lpercent:
	VSN_PUTC sil
	jmp .Lloop
.Lpointer_flags:
	# %pG<type>: the argument points at the flags; print them as a string.
	movzx edi, byte ptr [r13 + 1]
	add r13, 2
	test dil, dil
	jnz .Lflags_type
	dec r13
.Lflags_type:
	mov rsi, qword ptr [r14]
	add r14, 8
	mov esi, dword ptr [rsi]
	lea rdx, [rbp - VSN_FLAGBUF]
	mov ecx, VSN_FLAGBUF_LEN
	call format_gfp_flags
	lea r8, [rbp - VSN_FLAGBUF]
	jmp .Lstr_ok
.Lchar:
	mov rsi, qword ptr [r14]
	add r14, 8
	VSN_PUTC sil
	jmp .Lloop
.Lstring:
	mov r8, qword ptr [r14]
	add r14, 8
	test r8, r8
	jnz .Lstr_ok
	lea r8, [rip + vsn_null]
.Lstr_ok:
	xor eax, eax
.Lstrlen:
	cmp byte ptr [r8 + rax], 0
	je .Lstrlen_done
	inc rax
	jmp .Lstrlen
.Lstrlen_done:
	mov r9, qword ptr [rbp - VSN_WIDTH]
	sub r9, rax
	test qword ptr [rbp - VSN_FLAGS], VSN_LEFT
	jnz .Lstr_body
.Lstr_pad:
	test r9, r9
	jle .Lstr_body
	mov sil, ' '
	VSN_PUTC sil
	dec r9
	jmp .Lstr_pad
.Lstr_body:
	movzx esi, byte ptr [r8]
	test sil, sil
	jz .Lstr_tail
	VSN_PUTC sil
	inc r8
	jmp .Lstr_body
.Lstr_tail:
	test r9, r9
	jle .Lloop
	mov sil, ' '
	VSN_PUTC sil
	dec r9
	jmp .Lstr_tail
.Lsigned:
	mov rax, qword ptr [r14]
	add r14, 8
	cmp qword ptr [rbp - VSN_LONG], 0
	jne .Lsigned_long
	movsxd rax, eax
.Lsigned_long:
	test rax, rax
	jns .Ldecimal
	neg rax
	mov qword ptr [rbp - VSN_NEG], 1
	jmp .Ldecimal
.Lunsigned:
	mov rax, qword ptr [r14]
	add r14, 8
	cmp qword ptr [rbp - VSN_LONG], 0
	jne .Ldecimal
	mov eax, eax
.Ldecimal:
	mov ecx, 10
	lea r8, [rip + vsn_digits]
	jmp .Lnumber
.Lpointer:
	cmp byte ptr [r13], 'G'
	je .Lpointer_flags
	cmp byte ptr [r13], 'x'
	jne .Lpointer_plain
	inc r13
.Lpointer_plain:
	mov qword ptr [rbp - VSN_LONG], 1
	mov qword ptr [rbp - VSN_WIDTH], 16
	mov qword ptr [rbp - VSN_FLAGS], VSN_ZERO
.Lhex:
	lea r8, [rip + vsn_digits]
	jmp .Lhex_common
.Lhex_upper:
	lea r8, [rip + vsn_digits_upper]
.Lhex_common:
	mov rax, qword ptr [r14]
	add r14, 8
	cmp qword ptr [rbp - VSN_LONG], 0
	jne .Lhex_long
	mov eax, eax
.Lhex_long:
	mov ecx, 16
# .Lnumber: rax = magnitude, rcx = base, r8 = digit table, VSN_NEG set for '-'.
.Lnumber:
	xor r9d, r9d
	lea r10, [rbp - VSN_NUMBUF]
.Ldigit:
	xor edx, edx
	div rcx
	movzx edx, byte ptr [r8 + rdx]
	mov byte ptr [r10 + r9], dl
	inc r9
	test rax, rax
	jnz .Ldigit
	# r8 = padding = width - digits - sign
	mov r8, qword ptr [rbp - VSN_WIDTH]
	sub r8, r9
	sub r8, qword ptr [rbp - VSN_NEG]
	test qword ptr [rbp - VSN_FLAGS], VSN_LEFT | VSN_ZERO
	jnz .Lsign
.Lpad_space:
	test r8, r8
	jle .Lsign
	mov sil, ' '
	VSN_PUTC sil
	dec r8
	jmp .Lpad_space
.Lsign:
	cmp qword ptr [rbp - VSN_NEG], 0
	je .Lzeros
	mov sil, '-'
	VSN_PUTC sil
.Lzeros:
	test qword ptr [rbp - VSN_FLAGS], VSN_LEFT
	jnz .Ldigits_out
	test qword ptr [rbp - VSN_FLAGS], VSN_ZERO
	jz .Ldigits_out
.Lpad_zero:
	test r8, r8
	jle .Ldigits_out
	mov sil, '0'
	VSN_PUTC sil
	dec r8
	jmp .Lpad_zero
.Ldigits_out:
	test r9, r9
	jz .Ltail
	dec r9
	mov sil, byte ptr [r10 + r9]
	VSN_PUTC sil
	jmp .Ldigits_out
.Ltail:
	test qword ptr [rbp - VSN_FLAGS], VSN_LEFT
	jz .Lloop
.Lpad_right:
	test r8, r8
	jle .Lloop
	mov sil, ' '
	VSN_PUTC sil
	dec r8
	jmp .Lpad_right
.Lend:
	# NUL-terminate at min(position, size - 1)
	lea rax, [r12 - 1]
	cmp r15, rax
	cmovb rax, r15
	mov byte ptr [rbx + rax], 0
	mov rax, r15
	add rsp, 200
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END vsnprintf
EXPORT_SYMBOL vsnprintf

# snprintf(buf, size, fmt, a0, a1, a2) -> vsnprintf with the register arguments
SYM_FUNC_START snprintf
	push rbp
	mov rbp, rsp
	push r9
	push r8
	push rcx
	mov rcx, rsp
	call vsnprintf
	add rsp, 24
	pop rbp
	ret
SYM_FUNC_END snprintf
EXPORT_SYMBOL snprintf

# sprintf(buf, fmt, a0, a1, a2, a3) -> vsnprintf with no limit (INT_MAX)
SYM_FUNC_START sprintf
	push rbp
	mov rbp, rsp
	push r9
	push r8
	push rcx
	push rdx
	mov rdx, rsi
	mov esi, 0x7fffffff
	mov rcx, rsp
	call vsnprintf
	add rsp, 32
	pop rbp
	ret
SYM_FUNC_END sprintf
EXPORT_SYMBOL sprintf

.section .rodata
SYM_DATA_START_LOCAL vsn_digits
	.ascii "0123456789abcdef"
SYM_DATA_END vsn_digits
SYM_DATA_START_LOCAL vsn_digits_upper
	.ascii "0123456789ABCDEF"
SYM_DATA_END vsn_digits_upper
SYM_DATA_START_LOCAL vsn_null
	.asciz "(null)"
SYM_DATA_END vsn_null

.section .bss
SYM_DATA_START_LOCAL vsn_sink
	.zero 8
SYM_DATA_END vsn_sink
