# sched_core.S - kernel/sched/core.c: per-CPU run queues, __schedule, wake-up, tick, preemption
#
# Tasks are pinned to task->cpu. A CPU's run queue holds its runnable tasks
# other than the one running; the idle task is never queued. rq_lock is taken
# with interrupts off; __schedule holds it across __switch_to_asm and the next
# task drops it in finish_task_switch (ret_from_fork for a new task) - the
# partner of the lock taken in __schedule. try_to_wake_up takes the same lock,
# so it sees either a task still on its CPU or one fully switched out.
# Scheduler core is notrace, as in the kernel.

.section .text

# raw_spin_lock(lock): test-and-set; a waiter ends its slice (CPU_RELAX) so the holder runs.
SYM_FUNC_START_NOTRACE raw_spin_lock
	push rbp
	mov rbp, rsp
.Lretry:
	mov eax, 1
	xchg qword ptr [rdi], rax
	test rax, rax
	jz .Llocked
.Lspin:
	pause
	HYPERCALL Hypercall_CPU_RELAX
	cmp qword ptr [rdi], 0
	jne .Lspin
	jmp .Lretry
.Llocked:
	pop rbp
	ret
SYM_FUNC_END raw_spin_lock

SYM_FUNC_START_NOTRACE raw_spin_unlock
	push rbp
	mov rbp, rsp
	mov qword ptr [rdi], 0
	pop rbp
	ret
SYM_FUNC_END raw_spin_unlock

# raw_spin_lock_irqsave(lock) -> flags: interrupts off, then the lock.
SYM_FUNC_START_NOTRACE raw_spin_lock_irqsave
	push rbp
	mov rbp, rsp
	push rbx
	pushfq
	pop rbx
	cli
	call raw_spin_lock
	mov rax, rbx
	pop rbx
	pop rbp
	ret
SYM_FUNC_END raw_spin_lock_irqsave

# raw_spin_unlock_irqrestore(lock, flags)
SYM_FUNC_START_NOTRACE raw_spin_unlock_irqrestore
	push rbp
	mov rbp, rsp
	mov qword ptr [rdi], 0
	push rsi
	popfq
	pop rbp
	ret
SYM_FUNC_END raw_spin_unlock_irqrestore

# cpu_rq(cpu) -> the per-CPU area of cpu (run queue fields inside it)
SYM_FUNC_START_NOTRACE cpu_rq
	push rbp
	mov rbp, rsp
	mov rax, rdi
	shl rax, 12
	lea rdi, [rip + __per_cpu_start]
	add rax, rdi
	pop rbp
	ret
SYM_FUNC_END cpu_rq

# enqueue_task(rq = rdi, p = rsi), rq lock held
SYM_FUNC_START_LOCAL_NOTRACE enqueue_task
	push rbp
	mov rbp, rsp
	lea rdx, [rsi + TASK_run_list]
	lea rcx, [rdi + PERCPU_runqueue]
	LIST_ADD_TAIL rdx, rcx, rax
	mov dword ptr [rsi + TASK_on_rq], 1
	inc qword ptr [rdi + PERCPU_nr_running]
	pop rbp
	ret
SYM_FUNC_END enqueue_task

# pick_next_task(rq = rdi) -> next (dequeued), or the idle task; rq lock held
SYM_FUNC_START_LOCAL_NOTRACE pick_next_task
	push rbp
	mov rbp, rsp
	lea rsi, [rdi + PERCPU_runqueue]
	mov rdx, qword ptr [rsi]
	cmp rdx, rsi
	je .Lidle
	LIST_DEL_INIT rdx, rax, rcx
	dec qword ptr [rdi + PERCPU_nr_running]
	lea rax, [rdx - TASK_run_list]
	mov dword ptr [rax + TASK_on_rq], 0
	pop rbp
	ret
.Lidle:
	mov rax, qword ptr [rdi + PERCPU_idle_task]
	pop rbp
	ret
SYM_FUNC_END pick_next_task

# __schedule(preempt = edi): switch to the next runnable task of this CPU.
# A preempted task stays runnable whatever its state (SM_PREEMPT).
SYM_FUNC_START_NOTRACE __schedule
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	pushfq
	cli
	mov r14d, edi
	THIS_CPU rbx
	CURRENT r12
	lea rdi, [rbx + PERCPU_rq_lock]
	call raw_spin_lock
	lock btr qword ptr [r12 + TASK_flags], TIF_NEED_RESCHED
	test dword ptr [r12 + TASK_pf_flags], PF_IDLE
	jnz .Lpick
	cmp dword ptr [r12 + TASK_on_rq], 0
	jne .Lpick
	test r14d, r14d
	jnz .Lrequeue
	cmp dword ptr [r12 + TASK___state], TaskState_RUNNING
	jne .Lpick
.Lrequeue:
	mov rdi, rbx
	mov rsi, r12
	call enqueue_task
.Lpick:
	mov rdi, rbx
	call pick_next_task
	mov r13, rax
	cmp r13, r12
	je .Lsame
	mov dword ptr [r13 + TASK_on_cpu], 1
	mov qword ptr [rbx + PERCPU_current_task], r13
	mov rax, qword ptr [r13 + TASK_stack]
	add rax, THREAD_SIZE
	mov qword ptr [rbx + PERCPU_top_of_stack], rax
	inc qword ptr [r13 + TASK_switch_count]
	mov rdi, r12
	mov rsi, r13
	call __switch_to_asm
	# Now on the next task's stack, in its own __schedule frame.
	mov rdi, rax
	call finish_task_switch
	jmp .Lout
.Lsame:
	lea rdi, [rbx + PERCPU_rq_lock]
	call raw_spin_unlock
.Lout:
	popfq
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __schedule

# finish_task_switch(prev): prev is off this CPU; drop the rq lock __schedule took.
SYM_FUNC_START_NOTRACE finish_task_switch
	push rbp
	mov rbp, rsp
	push rbx
	mov rbx, rdi
	mov dword ptr [rbx + TASK_on_cpu], 0
	THIS_CPU rdi
	lea rdi, [rdi + PERCPU_rq_lock]
	call raw_spin_unlock
	cmp dword ptr [rbx + TASK___state], TaskState_DEAD
	jne .Lalive
	mov rdi, rbx
	HYPERCALL Hypercall_TASK_DEAD
.Lalive:
	pop rbx
	pop rbp
	ret
SYM_FUNC_END finish_task_switch

SYM_FUNC_START_NOTRACE schedule
	push rbp
	mov rbp, rsp
	xor edi, edi
	call __schedule
	pop rbp
	ret
SYM_FUNC_END schedule
EXPORT_SYMBOL schedule

# schedule_idle: the idle loop's way into the scheduler.
SYM_FUNC_START_NOTRACE schedule_idle
	push rbp
	mov rbp, rsp
	xor edi, edi
	call __schedule
	pop rbp
	ret
SYM_FUNC_END schedule_idle

# preempt_schedule_irq: from irqentry_exit with interrupts off.
SYM_FUNC_START_NOTRACE preempt_schedule_irq
	push rbp
	mov rbp, rsp
	sti
	mov edi, 1
	call __schedule
	cli
	pop rbp
	ret
SYM_FUNC_END preempt_schedule_irq

# resched_curr(rq = rdi, cpu = rsi): mark the running task, kick a remote CPU.
SYM_FUNC_START_LOCAL_NOTRACE resched_curr
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rdi + PERCPU_current_task]
	lock bts qword ptr [rax + TASK_flags], TIF_NEED_RESCHED
	cmp rsi, qword ptr gs:[PERCPU_cpu_number]
	je .Llocal
	mov rdi, rsi
	mov esi, Vector_RESCHEDULE
	HYPERCALL Hypercall_SEND_IPI
.Llocal:
	pop rbp
	ret
SYM_FUNC_END resched_curr

# try_to_wake_up(p, state mask) -> 1 if woken. Queues p on its CPU unless it
# is still on it (then __schedule sees TASK_RUNNING and keeps it).
SYM_FUNC_START_NOTRACE try_to_wake_up
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov r12, rdi
	mov r14d, esi
	mov edi, dword ptr [r12 + TASK_cpu]
	call cpu_rq
	mov rbx, rax
	lea rdi, [rbx + PERCPU_rq_lock]
	call raw_spin_lock_irqsave
	mov r13, rax
	xor eax, eax
	test dword ptr [r12 + TASK___state], r14d
	jz .Lunlock
	mov dword ptr [r12 + TASK___state], TaskState_RUNNING
	cmp dword ptr [r12 + TASK_on_cpu], 0
	jne .Lwoken
	cmp dword ptr [r12 + TASK_on_rq], 0
	jne .Lwoken
	mov rdi, rbx
	mov rsi, r12
	call enqueue_task
	mov rdi, rbx
	mov esi, dword ptr [r12 + TASK_cpu]
	call resched_curr
.Lwoken:
	mov eax, 1
.Lunlock:
	mov r12, rax
	lea rdi, [rbx + PERCPU_rq_lock]
	mov rsi, r13
	call raw_spin_unlock_irqrestore
	mov rax, r12
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END try_to_wake_up

SYM_FUNC_START_NOTRACE wake_up_process
	push rbp
	mov rbp, rsp
	mov esi, TaskState_INTERRUPTIBLE | TaskState_UNINTERRUPTIBLE
	call try_to_wake_up
	pop rbp
	ret
SYM_FUNC_END wake_up_process
EXPORT_SYMBOL wake_up_process

# wake_up_state(p, state)
SYM_FUNC_START_NOTRACE wake_up_state
	push rbp
	mov rbp, rsp
	call try_to_wake_up
	pop rbp
	ret
SYM_FUNC_END wake_up_state

# scheduler_tick: round robin - the running task yields at the next preemption
# point if anything else is runnable here.
SYM_FUNC_START_NOTRACE scheduler_tick
	push rbp
	mov rbp, rsp
	THIS_CPU rdi
	cmp qword ptr [rdi + PERCPU_nr_running], 0
	je .Lquiet
	CURRENT rax
	lock bts qword ptr [rax + TASK_flags], TIF_NEED_RESCHED
.Lquiet:
	pop rbp
	ret
SYM_FUNC_END scheduler_tick

# sysvec_reschedule_ipi(regs): scheduler_ipi - the sender already set TIF_NEED_RESCHED.
SYM_FUNC_START_NOTRACE sysvec_reschedule_ipi
	push rbp
	mov rbp, rsp
	CURRENT rax
	lock bts qword ptr [rax + TASK_flags], TIF_NEED_RESCHED
	pop rbp
	ret
SYM_FUNC_END sysvec_reschedule_ipi

# cond_resched: a voluntary preemption point for long kernel loops.
SYM_FUNC_START cond_resched
	push rbp
	mov rbp, rsp
	CURRENT rax
	bt qword ptr [rax + TASK_flags], TIF_NEED_RESCHED
	jnc .Lno
	call schedule
.Lno:
	pop rbp
	ret
SYM_FUNC_END cond_resched
EXPORT_SYMBOL cond_resched
