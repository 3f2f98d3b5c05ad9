# proc_cmdline.S - fs/proc/cmdline.c: /proc/cmdline
#
# cmdline_proc_delay_ms (klpemu's knob, 0 by default) makes every reader sleep
# inside cmdline_proc_show first, so the demo and the tests can show a task
# whose stack holds the function a livepatch replaces.

.section .text

# cmdline_proc_show(m, v): the boot command line and a newline
SYM_FUNC_START cmdline_proc_show
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov rdi, qword ptr [rip + cmdline_proc_delay_ms]
	test rdi, rdi
	jz .Lno_delay
	call msleep_interruptible
.Lno_delay:
	mov rdi, rbx
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

.section .data
SYM_DATA_START cmdline_proc_delay_ms
	.quad 0
SYM_DATA_END cmdline_proc_delay_ms
