# signal.S - kernel/signal.c: kill(2), signal delivery on the way to user mode
#
# There are no user signal handlers: every signal has its default action.
# get_signal dequeues the pending signals lowest first; SIGCHLD, SIGCONT,
# SIGURG and SIGWINCH are ignored (and, with no job control, the stop
# signals), every other one kills the task (do_exit with the signal number).
# Livepatch's "fake signal" (TIF_SIGPENDING with no signal queued) just brings
# a task through exit_to_user_mode_loop, where it is switched; get_signal then
# finds nothing and clears the flag. Kernel threads ignore every signal.

SIGKILL = 9
SIGCHLD = 17
SIGCONT = 18
SIGSTOP = 19
SIGTTOU = 22
SIGURG = 23
SIGWINCH = 28
_NSIG = 64

.section .text

# arch_do_signal_or_restart(regs)
SYM_FUNC_START arch_do_signal_or_restart
	push rbp
	mov rbp, rsp
.Lnext:
	CURRENT rax
	mov rcx, qword ptr [rax + TASK_pending_signals]
	bsf rcx, rcx
	jz .Lnothing
	lock btr qword ptr [rax + TASK_pending_signals], rcx
	lea edi, [rcx + 1]
	cmp edi, SIGCHLD
	je .Lnext
	cmp edi, SIGURG
	je .Lnext
	cmp edi, SIGWINCH
	je .Lnext
	cmp edi, SIGCONT
	jb .Lfatal
	cmp edi, SIGTTOU
	jbe .Lnext
.Lfatal:
	call do_exit
.Lnothing:
	CURRENT rax
	lock btr qword ptr [rax + TASK_flags], TIF_SIGPENDING
	pop rbp
	ret
SYM_FUNC_END arch_do_signal_or_restart

# signal_wake_up(task): TIF_SIGPENDING and a wake-up from interruptible sleep
SYM_FUNC_START signal_wake_up
	push rbp
	mov rbp, rsp
	lock bts qword ptr [rdi + TASK_flags], TIF_SIGPENDING
	mov esi, TaskState_INTERRUPTIBLE
	call wake_up_state
	pop rbp
	ret
SYM_FUNC_END signal_wake_up

# find_task_by_vpid(pid) -> task on the task list, or NULL
SYM_FUNC_START find_task_by_vpid
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov ebx, edi
	lea rdi, [rip + tasklist_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	lea rcx, [rip + init_task]
	lea rdx, [rcx + TASK_tasks]
	mov rcx, qword ptr [rdx]
.Lfind:
	xor eax, eax
	cmp rcx, rdx
	je .Lfound
	lea rax, [rcx - TASK_tasks]
	cmp dword ptr [rax + TASK_pid], ebx
	je .Lfound
	mov rcx, qword ptr [rcx]
	jmp .Lfind
.Lfound:
	mov rbx, rax
	lea rdi, [rip + tasklist_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	mov rax, rbx
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END find_task_by_vpid

# __x64_sys_kill(pid, sig) -> 0, -ESRCH or -EINVAL: queue sig (none for 0) and wake the task
SYM_FUNC_START __x64_sys_kill
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r12d, esi
	mov rax, -22
	cmp r12d, _NSIG
	ja .Lkill_out
	mov rax, -3
	test edi, edi
	jle .Lkill_out
	call find_task_by_vpid
	test rax, rax
	jz .Lkill_esrch
	mov rbx, rax
	xor eax, eax
	test r12d, r12d
	jz .Lkill_out
	test dword ptr [rbx + TASK_pf_flags], PF_KTHREAD
	jnz .Lkill_out
	lea ecx, [r12 - 1]
	lock bts qword ptr [rbx + TASK_pending_signals], rcx
	mov rdi, rbx
	call signal_wake_up
	xor eax, eax
	jmp .Lkill_out
.Lkill_esrch:
	mov rax, -3
.Lkill_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_kill
