# init_main.S - init/main.c and kernel/smp.c: start_kernel, SMP bring-up, rest_init, kernel_init

.section .text

# init_idle(task, cpu, stack): make task the idle task ("swapper/cpu") and current of cpu.
SYM_FUNC_START_NOTRACE init_idle
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov rbx, rdi
	mov r12, rsi
	mov r13, rdx
	mov dword ptr [rbx + TASK___state], TaskState_RUNNING
	mov dword ptr [rbx + TASK_patch_state], KlpState_UNDEFINED
	mov dword ptr [rbx + TASK_pid], 0
	mov dword ptr [rbx + TASK_cpu], r12d
	mov dword ptr [rbx + TASK_on_cpu], 1
	mov dword ptr [rbx + TASK_pf_flags], PF_IDLE | PF_KTHREAD
	mov qword ptr [rbx + TASK_stack], r13
	lea rax, [rbx + TASK_run_list]
	INIT_LIST_HEAD rax
	lea rax, [rbx + TASK_wait_entry]
	INIT_LIST_HEAD rax
	lea rax, [rbx + TASK_wq_entry]
	INIT_LIST_HEAD rax
	lea rax, [rbx + TASK_tasks]
	INIT_LIST_HEAD rax
	lea rdi, [rbx + TASK_comm]
	mov esi, TASK_COMM_LEN
	lea rdx, [rip + fmt_swapper]
	mov rcx, r12
	call snprintf
	mov rdi, r12
	call cpu_rq
	mov qword ptr [rax + PERCPU_idle_task], rbx
	mov qword ptr [rax + PERCPU_current_task], rbx
	lea rcx, [r13 + THREAD_SIZE]
	mov qword ptr [rax + PERCPU_top_of_stack], rcx
	lea rcx, [rax + PERCPU_runqueue]
	INIT_LIST_HEAD rcx
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END init_idle

# start_kernel(boot_params): CPU 0, running as init_task on init_stack.
SYM_FUNC_START_NOTRACE start_kernel
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	lea rdi, [rip + init_task]
	xor esi, esi
	lea rdx, [rip + init_stack]
	call init_idle
	mov rdi, rbx
	call mm_init
	lea rdi, [rip + linux_banner]
	call _printk
	lea rdi, [rip + saved_command_line]
	lea rsi, [rbx + BOOT_PARAMS_cmdline]
	mov edx, CMDLINE_LEN
	call strscpy
	lea rdi, [rip + fmt_cmdline]
	lea rsi, [rip + saved_command_line]
	call _printk
	call smp_init
	call rest_init
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END start_kernel

# smp_init: idle tasks for CPUs 1..n-1 on their boot stacks, then release them.
SYM_FUNC_START_NOTRACE smp_init
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	lea rdi, [rip + msg_smp_bringup]
	call _printk
	lea rax, [rip + boot_params]
	mov r13d, dword ptr [rax + BOOT_PARAMS_nr_cpus]
	mov ebx, 1
.Lfork_idle:
	cmp ebx, r13d
	jae .Lrelease
	mov edi, TASK_SIZE
	call kzalloc
	mov rdi, rax
	mov esi, ebx
	mov rdx, rbx
	shl rdx, 14
	lea rcx, [rip + secondary_stacks]
	add rdx, rcx
	call init_idle
	inc ebx
	jmp .Lfork_idle
.Lrelease:
	# Partner of the wait loop in secondary_startup_64.
	mov qword ptr [rip + smp_boot_go], 1
	mov ebx, 1
.Lwait_online:
	cmp ebx, r13d
	jae .Lall_online
	mov edi, ebx
	call cpu_rq
	cmp qword ptr [rax + PERCPU_online], 0
	jne .Lnext_cpu
	HYPERCALL Hypercall_CPU_RELAX
	jmp .Lwait_online
.Lnext_cpu:
	inc ebx
	jmp .Lwait_online
.Lall_online:
	lea rdi, [rip + msg_smp_done]
	mov esi, r13d
	call _printk
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END smp_init

# start_secondary(cpu): its idle task is already current (smp_init); go idle.
SYM_FUNC_START_NOTRACE start_secondary
	push rbp
	mov rbp, rsp
	THIS_CPU rax
	mov qword ptr [rax + PERCPU_online], 1
	call cpu_startup_entry
	pop rbp
	ret
SYM_FUNC_END start_secondary

# rest_init: start init (pid 1), then CPU 0 becomes idle.
SYM_FUNC_START_NOTRACE rest_init
	push rbp
	mov rbp, rsp
	THIS_CPU rax
	mov qword ptr [rax + PERCPU_online], 1
	lea rdi, [rip + kernel_init]
	xor esi, esi
	lea rdx, [rip + comm_init]
	call kthread_run
	call cpu_startup_entry
	pop rbp
	ret
SYM_FUNC_END rest_init

# kernel_init: start the kthreads and the user tasks, report boot done, then idle along.
SYM_FUNC_START kernel_init
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	sti
	call workqueue_init
	lea rdi, [rip + watchdog]
	xor esi, esi
	lea rdx, [rip + comm_watchdog]
	call kthread_run
	lea rax, [rip + boot_params]
	mov r12d, dword ptr [rax + BOOT_PARAMS_nr_sleepers]
	xor ebx, ebx
.Lsleepers:
	cmp ebx, r12d
	jae .Lusers
	lea rdi, [rip + sleeper_thread]
	mov rsi, rbx
	lea rdx, [rip + comm_sleeper]
	call kthread_run
	inc ebx
	jmp .Lsleepers
.Lusers:
	lea rax, [rip + boot_params]
	mov r12d, dword ptr [rax + BOOT_PARAMS_nr_user_tasks]
	xor ebx, ebx
.Luser_loop:
	cmp ebx, r12d
	jae .Lshell
	test ebx, 1
	jnz .Lcat
	mov rdi, user_getpid_loop
	lea rdx, [rip + comm_getpid]
	jmp .Lstart_user
.Lcat:
	mov rdi, user_cat_loop
	lea rdx, [rip + comm_cat]
.Lstart_user:
	mov rsi, rbx
	call user_task_run
	inc ebx
	jmp .Luser_loop
.Lshell:
	mov rdi, klpsh_main
	xor esi, esi
	lea rdx, [rip + comm_klpsh]
	call user_task_run
	lea rdi, [rip + msg_run_init]
	call _printk
	HYPERCALL Hypercall_BOOT_DONE
.Linit_sleep:
	mov edi, 1000
	call msleep_interruptible
	jmp .Linit_sleep
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kernel_init

# watchdog: a kthread that wakes every 100 ms (a khungtaskd stand-in).
SYM_FUNC_START watchdog
	push rbp
	mov rbp, rsp
.Lwd:
	mov edi, 100
	call msleep_interruptible
	inc qword ptr [rip + watchdog_count]
	jmp .Lwd
	pop rbp
	ret
SYM_FUNC_END watchdog

# sleeper_thread(n): sleeps in long intervals (benchmarks add many of these).
SYM_FUNC_START sleeper_thread
	push rbp
	mov rbp, rsp
.Lsl:
	mov edi, 1000
	call msleep_interruptible
	jmp .Lsl
	pop rbp
	ret
SYM_FUNC_END sleeper_thread

.section .rodata
SYM_DATA_START linux_banner
	.asciz "Linux version 6.6.0-klpemu (klpemu@localhost) (keystone-wasm LLVM MC) #1 SMP PREEMPT"
SYM_DATA_END linux_banner
SYM_DATA_START_LOCAL fmt_cmdline
	.asciz "Command line: %s"
SYM_DATA_END fmt_cmdline
SYM_DATA_START_LOCAL fmt_swapper
	.asciz "swapper/%u"
SYM_DATA_END fmt_swapper
SYM_DATA_START_LOCAL msg_smp_bringup
	.asciz "\0016smp: Bringing up secondary CPUs ..."
SYM_DATA_END msg_smp_bringup
SYM_DATA_START_LOCAL msg_smp_done
	.asciz "\0016smp: Brought up 1 node, %u CPUs"
SYM_DATA_END msg_smp_done
SYM_DATA_START_LOCAL msg_run_init
	.asciz "\0016Run /sbin/init as init process"
SYM_DATA_END msg_run_init
SYM_DATA_START_LOCAL comm_init
	.asciz "init"
SYM_DATA_END comm_init
SYM_DATA_START_LOCAL comm_watchdog
	.asciz "khungtaskd"
SYM_DATA_END comm_watchdog
SYM_DATA_START_LOCAL comm_sleeper
	.asciz "ksleeper"
SYM_DATA_END comm_sleeper
SYM_DATA_START_LOCAL comm_getpid
	.asciz "getpid_loop"
SYM_DATA_END comm_getpid
SYM_DATA_START_LOCAL comm_cat
	.asciz "cat_cmdline"
SYM_DATA_END comm_cat
SYM_DATA_START_LOCAL comm_klpsh
	.asciz "klpsh"
SYM_DATA_END comm_klpsh

.section .data
.balign 64
SYM_DATA_START init_task
	.zero TASK_SIZE
SYM_DATA_END init_task
SYM_DATA_START saved_command_line
	.zero CMDLINE_LEN
SYM_DATA_END saved_command_line
SYM_DATA_START watchdog_count
	.quad 0
SYM_DATA_END watchdog_count
SYM_DATA_START boot_params
	.zero BOOT_PARAMS_SIZE
SYM_DATA_END boot_params
