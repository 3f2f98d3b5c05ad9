# proc_cmdline.S - fs/proc/cmdline.c: /proc/cmdline

.section .text

# cmdline_proc_show(m, v): the boot command line and a newline
SYM_FUNC_START cmdline_proc_show
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	lea rsi, [rip + saved_command_line]
	call seq_puts
	mov rdi, rbx
	mov esi, 10
	call seq_putc
	xor eax, eax
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END cmdline_proc_show
