# sys.S - kernel/sys.c and friends: getpid, sched_yield, nanosleep, exit, /proc/version, klpsh

.section .text

SYM_FUNC_START __x64_sys_getpid
	push rbp
	mov rbp, rsp
	CURRENT rax
	movsxd rax, dword ptr [rax + TASK_pid]
	pop rbp
	ret
SYM_FUNC_END __x64_sys_getpid

SYM_FUNC_START __x64_sys_sched_yield
	push rbp
	mov rbp, rsp
	call schedule
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END __x64_sys_sched_yield

# __x64_sys_nanosleep(struct timespec *req): whole ticks, at least one
SYM_FUNC_START __x64_sys_nanosleep
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rdi]
	imul rax, rax, 1000
	mov rcx, rax
	mov rax, qword ptr [rdi + 8]
	xor edx, edx
	mov r8d, 1000000
	div r8
	lea rdi, [rcx + rax]
	call msleep_interruptible
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END __x64_sys_nanosleep

SYM_FUNC_START __x64_sys_exit
	push rbp
	mov rbp, rsp
	call do_exit
	pop rbp
	ret
SYM_FUNC_END __x64_sys_exit

# version_proc_show(m, v): /proc/version
SYM_FUNC_START version_proc_show
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	lea rsi, [rip + linux_banner]
	call seq_puts
	mov rdi, rbx
	mov esi, 10
	call seq_putc
	xor eax, eax
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END version_proc_show

# __x64_sys_klpsh_wait(): sleep until the host posts a command in shell_mailbox
SYM_FUNC_START __x64_sys_klpsh_wait
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, shell_mailbox
.Lpoll:
	mov rax, qword ptr [rbx + SHELL_MAILBOX_seq]
	cmp rax, qword ptr [rbx + SHELL_MAILBOX_done_seq]
	jne .Lposted
	mov edi, 1
	call schedule_timeout_interruptible
	jmp .Lpoll
.Lposted:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_klpsh_wait

# __x64_sys_klpsh_done(status): publish the result (status before done_seq, the host's read order)
SYM_FUNC_START __x64_sys_klpsh_done
	push rbp
	mov rbp, rsp
	mov rcx, shell_mailbox
	mov qword ptr [rcx + SHELL_MAILBOX_status], rdi
	mov rax, qword ptr [rcx + SHELL_MAILBOX_seq]
	mov qword ptr [rcx + SHELL_MAILBOX_done_seq], rax
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END __x64_sys_klpsh_done
