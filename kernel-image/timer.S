# timer.S - kernel/time/timer.c: jiffies from guest time, the tick, schedule_timeout, msleep
#
# Guest time is PERCPU.clock_ns, published by the host at every slice start
# (src/kernel/boot.ts publishClock). Sleepers sit on sleep_list (task
# wait_entry, wake_time in jiffies) under sleep_lock; every CPU's tick wakes
# the ones that are due.

.section .text

# get_jiffies_64 -> clock_ns / TICK_NS
SYM_FUNC_START get_jiffies_64
	push rbp
	mov rbp, rsp
	mov rax, qword ptr gs:[PERCPU_clock_ns]
	xor edx, edx
	mov rcx, Clock_TICK_NS
	div rcx
	pop rbp
	ret
SYM_FUNC_END get_jiffies_64
EXPORT_SYMBOL get_jiffies_64

# local_clock -> ns
SYM_FUNC_START_NOTRACE local_clock
	push rbp
	mov rbp, rsp
	mov rax, qword ptr gs:[PERCPU_clock_ns]
	pop rbp
	ret
SYM_FUNC_END local_clock

# run_timers: wake every sleeper whose time has come.
SYM_FUNC_START_LOCAL_NOTRACE run_timers
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	call get_jiffies_64
	mov r14, rax
	lea rdi, [rip + sleep_lock]
	call raw_spin_lock_irqsave
	mov r13, rax
	lea r12, [rip + sleep_list]
	mov rbx, qword ptr [r12]
.Lscan:
	cmp rbx, r12
	je .Ldone
	lea rdi, [rbx - TASK_wait_entry]
	mov rax, qword ptr [rbx]
	cmp qword ptr [rdi + TASK_wake_time], r14
	ja .Lnot_due
	push rax
	push rdi
	LIST_DEL_INIT rbx, rcx, rdx
	pop rdi
	call wake_up_process
	pop rax
.Lnot_due:
	mov rbx, rax
	jmp .Lscan
.Ldone:
	lea rdi, [rip + sleep_lock]
	mov rsi, r13
	call raw_spin_unlock_irqrestore
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END run_timers

# sysvec_apic_timer_interrupt(regs): the local timer, every TICK_NS of guest time.
SYM_FUNC_START_NOTRACE sysvec_apic_timer_interrupt
	push rbp
	mov rbp, rsp
	THIS_CPU rax
	inc qword ptr [rax + PERCPU_ticks]
	call run_timers
	call scheduler_tick
	pop rbp
	ret
SYM_FUNC_END sysvec_apic_timer_interrupt

# schedule_timeout_interruptible(ticks) -> 0 when the time passed, else ticks left.
SYM_FUNC_START schedule_timeout_interruptible
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov r12, rdi
	call get_jiffies_64
	add r12, rax
	CURRENT rbx
	lea rdi, [rip + sleep_lock]
	call raw_spin_lock_irqsave
	mov r13, rax
	mov qword ptr [rbx + TASK_wake_time], r12
	lea rdi, [rbx + TASK_wait_entry]
	lea rsi, [rip + sleep_list]
	LIST_ADD_TAIL rdi, rsi, rax
	mov dword ptr [rbx + TASK___state], TaskState_INTERRUPTIBLE
	lea rdi, [rip + sleep_lock]
	mov rsi, r13
	call raw_spin_unlock_irqrestore
	call schedule
	# Woken early (a signal, a wake_up_process): leave the sleep list ourselves.
	lea rdi, [rip + sleep_lock]
	call raw_spin_lock_irqsave
	mov r13, rax
	lea rdi, [rbx + TASK_wait_entry]
	LIST_DEL_INIT rdi, rax, rcx
	lea rdi, [rip + sleep_lock]
	mov rsi, r13
	call raw_spin_unlock_irqrestore
	call get_jiffies_64
	mov rdx, r12
	sub rdx, rax
	xor eax, eax
	test rdx, rdx
	cmovg rax, rdx
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END schedule_timeout_interruptible
EXPORT_SYMBOL schedule_timeout_interruptible

# msleep_interruptible(ms)
SYM_FUNC_START msleep_interruptible
	push rbp
	mov rbp, rsp
	mov rax, rdi
	add rax, 9
	xor edx, edx
	mov rcx, 10
	div rcx
	test rax, rax
	jnz .Lticks
	mov eax, 1
.Lticks:
	mov rdi, rax
	call schedule_timeout_interruptible
	pop rbp
	ret
SYM_FUNC_END msleep_interruptible
EXPORT_SYMBOL msleep_interruptible

.section .data
SYM_DATA_START sleep_list
	.quad sleep_list, sleep_list
SYM_DATA_END sleep_list

SYM_DATA_START sleep_lock
	.quad 0
SYM_DATA_END sleep_lock
