# seq_file.S - fs/seq_file.c: seq_printf, seq_puts, seq_putc, seq_put_decimal_ull_width
#
# struct seq_file is SEQ_* in asm.inc. Output past the buffer is counted as
# overflow and dropped, as seq_set_overflow.

.section .text

# seq_vprintf(m, fmt, args)
SYM_FUNC_START seq_vprintf
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov rcx, rdx
	mov rdx, rsi
	mov rdi, qword ptr [rbx + SEQ_buf]
	mov rsi, qword ptr [rbx + SEQ_count]
	add rdi, rsi
	mov rax, qword ptr [rbx + SEQ_size]
	sub rax, rsi
	mov rsi, rax
	mov r12, rax
	call vsnprintf
	cmp rax, r12
	jae .Loverflow
	add qword ptr [rbx + SEQ_count], rax
	jmp .Lvp_out
.Loverflow:
	mov rax, qword ptr [rbx + SEQ_size]
	mov qword ptr [rbx + SEQ_count], rax
.Lvp_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END seq_vprintf
EXPORT_SYMBOL seq_vprintf

# seq_printf(m, fmt, a0..a3)
SYM_FUNC_START seq_printf
	push rbp
	mov rbp, rsp
	push r9
	push r8
	push rcx
	push rdx
	mov rdx, rsp
	call seq_vprintf
	add rsp, 32
	pop rbp
	ret
SYM_FUNC_END seq_printf
EXPORT_SYMBOL seq_printf

# seq_puts(m, s)
SYM_FUNC_START seq_puts
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rsi
	mov rdi, rsi
	call strlen
	mov rdx, qword ptr [rbx + SEQ_count]
	lea rcx, [rdx + rax]
	cmp rcx, qword ptr [rbx + SEQ_size]
	jae .Lputs_overflow
	mov rdi, qword ptr [rbx + SEQ_buf]
	add rdi, rdx
	mov qword ptr [rbx + SEQ_count], rcx
	mov rsi, r12
	mov rdx, rax
	call memcpy
	jmp .Lputs_out
.Lputs_overflow:
	mov rax, qword ptr [rbx + SEQ_size]
	mov qword ptr [rbx + SEQ_count], rax
.Lputs_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END seq_puts
EXPORT_SYMBOL seq_puts

# seq_putc(m, c)
SYM_FUNC_START seq_putc
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rdi + SEQ_count]
	cmp rax, qword ptr [rdi + SEQ_size]
	jae .Lputc_full
	mov rcx, qword ptr [rdi + SEQ_buf]
	mov byte ptr [rcx + rax], sil
	inc qword ptr [rdi + SEQ_count]
.Lputc_full:
	pop rbp
	ret
SYM_FUNC_END seq_putc
EXPORT_SYMBOL seq_putc

# seq_put_decimal_ull_width(m, delimiter, num, width): delimiter then num right-aligned
SYM_FUNC_START seq_put_decimal_ull_width
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov rbx, rdi
	mov r12, rdx
	mov r13, rcx
	call seq_puts
	mov rdi, rbx
	lea rsi, [rip + fmt_lu_width]
	mov rdx, r13
	mov rcx, r12
	call seq_printf_width
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END seq_put_decimal_ull_width
EXPORT_SYMBOL seq_put_decimal_ull_width

# seq_printf_width(m, "%*lu"-like fmt, width, num): builds "%<width>lu" then prints num.
SYM_FUNC_START_LOCAL seq_printf_width
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	sub rsp, 32
	mov rbx, rdi
	mov r12, rcx
	mov rcx, rdx
	mov rdx, rsi
	mov rdi, rsp
	mov esi, 32
	call snprintf
	mov rdi, rbx
	mov rsi, rsp
	mov rdx, r12
	call seq_printf
	add rsp, 32
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END seq_printf_width

.section .rodata
SYM_DATA_START_LOCAL fmt_lu_width
	.asciz "%%%ulu"
SYM_DATA_END fmt_lu_width
