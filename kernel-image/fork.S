# fork.S - kernel/fork.c and kernel/kthread.c: copy_process, kthread_create, user tasks
#
# A new task's first run: __schedule switches to it, __switch_to_asm pops the
# frame copy_thread built and "returns" into ret_from_fork_asm with RSP at the
# task's pt_regs and RBP = 0, so its first call leaves the end-of-stack frame.

.section .text

# copy_thread(p, fn, arg, user_ip, user_sp): pt_regs and the switch frame
SYM_FUNC_START_LOCAL_NOTRACE copy_thread
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rdi + TASK_stack]
	add rax, THREAD_SIZE - PT_REGS_SIZE
	mov qword ptr [rax + PT_REGS_ip], rcx
	mov qword ptr [rax + PT_REGS_sp], r8
	mov qword ptr [rax + PT_REGS_cs], Segment_KERNEL_CS
	mov qword ptr [rax + PT_REGS_ss], Segment_KERNEL_DS
	mov qword ptr [rax + PT_REGS_flags], 0x202
	mov qword ptr [rax + PT_REGS_orig_ax], -1
	# __switch_to_asm pops r15, r14, r13, r12, rbx, rbp, then returns.
	lea r9, [rip + ret_from_fork_asm]
	mov qword ptr [rax - 8], r9
	mov qword ptr [rax - 16], 0
	mov qword ptr [rax - 24], rsi
	mov qword ptr [rax - 32], rdx
	mov qword ptr [rax - 40], 0
	mov qword ptr [rax - 48], 0
	mov qword ptr [rax - 56], 0
	sub rax, 56
	mov qword ptr [rdi + TASK_thread_sp], rax
	pop rbp
	ret
SYM_FUNC_END copy_thread

# select_task_rq: round robin over the online CPUs.
SYM_FUNC_START_LOCAL_NOTRACE select_task_rq
	push rbp
	mov rbp, rsp
	mov eax, 1
	lock xadd dword ptr [rip + next_cpu], eax
	xor edx, edx
	lea rcx, [rip + boot_params]
	div dword ptr [rcx + BOOT_PARAMS_nr_cpus]
	mov eax, edx
	pop rbp
	ret
SYM_FUNC_END select_task_rq

# copy_process(fn, arg, pf_flags, name, user_ip) -> task (not yet runnable) or 0
SYM_FUNC_START copy_process
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	mov r12, rdi
	mov r13, rsi
	mov r14, rdx
	mov r15, rcx
	mov qword ptr [rbp - 48], r8
	mov edi, TASK_SIZE
	call kzalloc
	test rax, rax
	jz .Lfail
	mov rbx, rax
	call alloc_thread_stack_node
	test rax, rax
	jz .Lfree_task
	mov qword ptr [rbx + TASK_stack], rax
	mov dword ptr [rbx + TASK___state], TaskState_UNINTERRUPTIBLE
	mov dword ptr [rbx + TASK_pf_flags], r14d
	mov eax, 1
	lock xadd dword ptr [rip + last_pid], eax
	inc eax
	mov dword ptr [rbx + TASK_pid], eax
	call select_task_rq
	mov dword ptr [rbx + TASK_cpu], eax
	lea rdi, [rbx + TASK_comm]
	mov rsi, r15
	mov edx, TASK_COMM_LEN
	call strscpy
	lea rax, [rbx + TASK_run_list]
	INIT_LIST_HEAD rax
	lea rax, [rbx + TASK_wait_entry]
	INIT_LIST_HEAD rax
	lea rax, [rbx + TASK_wq_entry]
	INIT_LIST_HEAD rax
	mov qword ptr [rbx + TASK_entry], r12
	mov qword ptr [rbx + TASK_arg], r13
	# user stack for a user task
	xor r8d, r8d
	test r14d, PF_KTHREAD
	jnz .Lkernel_task
	mov eax, 1
	lock xadd dword ptr [rip + next_user_stack], eax
	inc eax
	imul rax, rax, MemoryMap_USER_STACK_SIZE
	mov r8, MemoryMap_USER_STACKS
	add r8, rax
	mov qword ptr [rbx + TASK_user_sp], r8
.Lkernel_task:
	mov rdi, rbx
	mov rsi, r12
	mov rdx, r13
	mov rcx, qword ptr [rbp - 48]
	test r14d, PF_KTHREAD
	jz .Lcopy
	xor ecx, ecx
.Lcopy:
	test r14d, PF_KTHREAD
	jnz .Lcopy_k
	xor esi, esi
.Lcopy_k:
	call copy_thread
	mov rdi, rbx
	call klp_copy_process
	# Publish on the task list last (tasklist_lock: partner of for_each_process readers).
	lea rdi, [rip + tasklist_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	lea rdi, [rbx + TASK_tasks]
	lea rsi, [rip + init_task]
	add rsi, TASK_tasks
	LIST_ADD_TAIL rdi, rsi, rax
	lea rdi, [rip + tasklist_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	mov rax, rbx
	jmp .Lout
.Lfree_task:
	mov rdi, rbx
	call kfree
.Lfail:
	xor eax, eax
.Lout:
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END copy_process

# ret_from_fork(prev, regs, fn, arg): finish the switch; a kthread runs fn(arg)
# and exits, a user task returns to ret_from_fork_asm and so to user mode.
SYM_FUNC_START_NOTRACE ret_from_fork
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdx
	mov r12, rcx
	call finish_task_switch
	test rbx, rbx
	jz .Luser
	sti
	mov rdi, r12
	call rbx
	mov rdi, rax
	call do_exit
.Luser:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END ret_from_fork

# kthread_create(fn, arg, name) -> task, not yet woken
SYM_FUNC_START kthread_create
	push rbp
	mov rbp, rsp
	mov rcx, rdx
	mov edx, PF_KTHREAD
	xor r8d, r8d
	call copy_process
	pop rbp
	ret
SYM_FUNC_END kthread_create
EXPORT_SYMBOL kthread_create

# kthread_run(fn, arg, name) -> task, running
SYM_FUNC_START kthread_run
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	call kthread_create
	mov rbx, rax
	test rax, rax
	jz .Lkr_out
	mov rdi, rax
	call wake_up_process
.Lkr_out:
	mov rax, rbx
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kthread_run
EXPORT_SYMBOL kthread_run

# user_task_run(entry, arg, name) -> task running user code at entry(arg in rdi)
SYM_FUNC_START user_task_run
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r8, rdi
	mov rcx, rdx
	xor edx, edx
	call copy_process
	mov rbx, rax
	test rax, rax
	jz .Lut_out
	mov rdx, qword ptr [rbx + TASK_stack]
	mov rcx, qword ptr [rbx + TASK_arg]
	mov qword ptr [rdx + THREAD_SIZE - PT_REGS_SIZE + PT_REGS_rdi], rcx
	mov rdi, rbx
	call wake_up_process
.Lut_out:
	mov rax, rbx
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END user_task_run

# __x64_sys_vfork() -> child pid (parent), 0 (child) or -ENOMEM: kernel_clone
# with CLONE_VFORK | CLONE_VM. There is no MMU, so the child shares the
# parent's memory and, until it execs, its user stack; the parent sleeps
# until the child calls execve or exits (wait_for_vfork_done).
SYM_FUNC_START __x64_sys_vfork
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	sub rsp, 8
	mov dword ptr [rbp - 32], 0
	CURRENT r12
	mov r13, qword ptr [r12 + TASK_stack]
	add r13, THREAD_SIZE - PT_REGS_SIZE
	xor edi, edi
	xor esi, esi
	xor edx, edx
	lea rcx, [r12 + TASK_comm]
	mov r8, qword ptr [r13 + PT_REGS_ip]
	call copy_process
	test rax, rax
	jz .Lvfork_nomem
	mov rbx, rax
	# The child returns from the same syscall with the parent's registers and 0.
	mov rdi, qword ptr [rbx + TASK_stack]
	add rdi, THREAD_SIZE - PT_REGS_SIZE
	mov rsi, r13
	mov edx, PT_REGS_SIZE
	call memcpy
	mov qword ptr [rax + PT_REGS_rax], 0
	lea rax, [rbp - 32]
	mov qword ptr [rbx + TASK_vfork_done], rax
	mov r12d, dword ptr [rbx + TASK_pid]
	mov rdi, rbx
	call wake_up_process
	lea rdi, [rbp - 32]
	call wait_for_completion
	movsxd rax, r12d
	jmp .Lvfork_out
.Lvfork_nomem:
	mov rax, -12
.Lvfork_out:
	add rsp, 8
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_vfork

# complete_vfork_done(task): a vfork parent waiting for `task` goes on (exec or exit).
SYM_FUNC_START complete_vfork_done
	push rbp
	mov rbp, rsp
	xor eax, eax
	xchg qword ptr [rdi + TASK_vfork_done], rax
	test rax, rax
	jz .Lvfork_done_none
	mov rdi, rax
	call complete
.Lvfork_done_none:
	pop rbp
	ret
SYM_FUNC_END complete_vfork_done

# do_exit(code): leave the task list, become TASK_DEAD, switch away for good.
SYM_FUNC_START do_exit
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	CURRENT rbx
	mov qword ptr [rbx + TASK_exit_code], rdi
	or dword ptr [rbx + TASK_pf_flags], PF_EXITING
	mov rdi, rbx
	call complete_vfork_done
	lea rdi, [rip + tasklist_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	lea rdi, [rbx + TASK_tasks]
	LIST_DEL_INIT rdi, rax, rcx
	lea rdi, [rip + tasklist_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	cli
	mov dword ptr [rbx + TASK___state], TaskState_DEAD
	call schedule
	lea rdi, [rip + msg_exit_returned]
	HYPERCALL Hypercall_PANIC
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END do_exit
EXPORT_SYMBOL do_exit

.section .rodata
SYM_DATA_START_LOCAL msg_exit_returned
	.asciz "do_exit: a dead task was scheduled"
SYM_DATA_END msg_exit_returned

.section .data
SYM_DATA_START tasklist_lock
	.quad 0
SYM_DATA_END tasklist_lock
SYM_DATA_START_LOCAL last_pid
	.long 0
SYM_DATA_END last_pid
SYM_DATA_START_LOCAL next_cpu
	.long 0
SYM_DATA_END next_cpu
SYM_DATA_START_LOCAL next_user_stack
	.long 0
SYM_DATA_END next_user_stack
