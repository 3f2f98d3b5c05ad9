# entry_common.S - kernel/entry/common.c: exit-to-user work and interrupt exit
#
# exit_to_user_mode_loop is where a task crosses the user/kernel boundary with
# nothing on its kernel stack: the livepatch consistency model switches it
# here (TIF_PATCH_PENDING -> klp_update_patch_state), after schedule() and
# before signal delivery, in the kernel's order.

EXIT_TO_USER_MODE_WORK = _TIF_NEED_RESCHED | _TIF_SIGPENDING | _TIF_PATCH_PENDING | _TIF_NOTIFY_RESUME

.section .text

# exit_to_user_mode_loop(regs): called and returns with interrupts off.
SYM_FUNC_START_NOTRACE exit_to_user_mode_loop
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
.Lwork:
	CURRENT rax
	mov r12, qword ptr [rax + TASK_flags]
	test r12, EXIT_TO_USER_MODE_WORK
	jz .Lno_work
	sti
	bt r12, TIF_NEED_RESCHED
	jnc .Lno_resched
	call schedule
.Lno_resched:
	bt r12, TIF_PATCH_PENDING
	jnc .Lno_patch
	CURRENT rdi
	call klp_update_patch_state
.Lno_patch:
	bt r12, TIF_SIGPENDING
	jnc .Lno_signal
	mov rdi, rbx
	call arch_do_signal_or_restart
.Lno_signal:
	CURRENT rax
	lock btr qword ptr [rax + TASK_flags], TIF_NOTIFY_RESUME
	cli
	jmp .Lwork
.Lno_work:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END exit_to_user_mode_loop

# syscall_exit_to_user_mode(regs): interrupts off on entry and exit.
SYM_FUNC_START_NOTRACE syscall_exit_to_user_mode
	push rbp
	mov rbp, rsp
	call exit_to_user_mode_loop
	pop rbp
	ret
SYM_FUNC_END syscall_exit_to_user_mode

# irqentry_exit(regs): back to user code - the exit work; back to kernel code
# with interrupts on and no preempt_count - preempt if asked to (CONFIG_PREEMPT).
SYM_FUNC_START_NOTRACE irqentry_exit
	push rbp
	mov rbp, rsp
	bt qword ptr [rdi + PT_REGS_ip], 63
	jc .Lto_kernel
	call exit_to_user_mode_loop
	jmp .Lexit
.Lto_kernel:
	bt qword ptr [rdi + PT_REGS_flags], 9
	jnc .Lexit
	cmp qword ptr gs:[PERCPU_preempt_count], 0
	jne .Lexit
	CURRENT rax
	# The idle task runs with preemption disabled: it reschedules from its loop.
	test dword ptr [rax + TASK_pf_flags], PF_IDLE
	jnz .Lexit
	bt qword ptr [rax + TASK_flags], TIF_NEED_RESCHED
	jnc .Lexit
	call preempt_schedule_irq
.Lexit:
	pop rbp
	ret
SYM_FUNC_END irqentry_exit

# do_syscall_64(regs, nr): the syscall table; the result goes to regs->ax.
SYM_FUNC_START_NOTRACE do_syscall_64
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rsi
	lea rax, [rip + sys_call_table]
.Lfind:
	mov rcx, qword ptr [rax]
	cmp rcx, -1
	je .Lenosys
	cmp rcx, r12
	je .Lfound
	add rax, 16
	jmp .Lfind
.Lfound:
	mov rax, qword ptr [rax + 8]
	mov rdi, qword ptr [rbx + PT_REGS_rdi]
	mov rsi, qword ptr [rbx + PT_REGS_rsi]
	mov rdx, qword ptr [rbx + PT_REGS_rdx]
	mov rcx, qword ptr [rbx + PT_REGS_r10]
	call rax
	jmp .Lret
.Lenosys:
	mov rax, -38
.Lret:
	mov qword ptr [rbx + PT_REGS_rax], rax
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END do_syscall_64

.section .rodata
SYM_DATA_START sys_call_table
	.quad Syscall_read, __x64_sys_read
	.quad Syscall_write, __x64_sys_write
	.quad Syscall_open, __x64_sys_open
	.quad Syscall_close, __x64_sys_close
	.quad Syscall_sched_yield, __x64_sys_sched_yield
	.quad Syscall_nanosleep, __x64_sys_nanosleep
	.quad Syscall_getpid, __x64_sys_getpid
	.quad Syscall_vfork, __x64_sys_vfork
	.quad Syscall_execve, __x64_sys_execve
	.quad Syscall_exit, __x64_sys_exit
	.quad Syscall_kill, __x64_sys_kill
	.quad Syscall_klpsh_wait, __x64_sys_klpsh_wait
	.quad Syscall_klpsh_done, __x64_sys_klpsh_done
	.quad -1, 0
SYM_DATA_END sys_call_table
