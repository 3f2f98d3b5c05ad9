# traps.S - arch/x86/kernel/traps.c and mm/fault.c: exception handlers, die(), oops
#
# An exception in the kernel oopses: the kernel's lines, an OOPS hypercall
# (so tests and the debugger see it), then the task dies (make_task_dead);
# in the idle task or an interrupt it is fatal. From user code the task gets
# the kernel's "traps:" line and is killed with the signal.

SIGTRAP = 5
SIGILL = 4
SIGFPE = 8
SIGSEGV = 11

.section .text

# die(str, regs, err, signal, vector)
SYM_FUNC_START_NOTRACE die
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	mov r15, r8
	mov r12, rdi
	mov rbx, rsi
	mov r13, rdx
	mov r14, rcx
	bt qword ptr [rbx + PT_REGS_ip], 63
	jc .Lkernel_mode
	# user mode: traps: comm[pid] trap str ip:.. sp:.. error:..
	CURRENT rax
	lea rdi, [rip + fmt_user_trap]
	lea rsi, [rax + TASK_comm]
	mov edx, dword ptr [rax + TASK_pid]
	mov rcx, r12
	mov r8, qword ptr [rbx + PT_REGS_ip]
	mov r9, qword ptr [rbx + PT_REGS_sp]
	call _printk
	mov rdi, r14
	call do_exit
.Lkernel_mode:
	inc dword ptr [rip + die_counter]
	lea rdi, [rip + fmt_oops]
	mov rsi, r12
	movzx edx, r13w	# __die prints err & 0xffff
	mov ecx, dword ptr [rip + die_counter]
	call _printk
	call print_tainted
	mov r8, rax
	CURRENT rax
	lea rdi, [rip + fmt_cpu_pid]
	mov rsi, qword ptr gs:[PERCPU_cpu_number]
	mov edx, dword ptr [rax + TASK_pid]
	lea rcx, [rax + TASK_comm]
	call _printk
	# show_regs() (RIP as %pS, Code:, registers) and the Call Trace: the host's
	# half of the OOPS hypercall (src/kernel/dumpStack.ts), with kallsyms
	mov rsi, rbx
	mov rdi, r15
	HYPERCALL Hypercall_OOPS
	# oops_end(): TAINT_DIE for every later oops line
	mov edi, Taint_DIE
	call add_taint
	CURRENT rax
	test dword ptr [rax + TASK_pf_flags], PF_IDLE
	jnz .Lfatal
	lea rdi, [rip + fmt_end_trace]
	call _printk
	mov rdi, r14
	call do_exit
.Lfatal:
	lea rdi, [rip + msg_fatal]
	HYPERCALL Hypercall_PANIC
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END die

SYM_FUNC_START_NOTRACE exc_divide_error
	push rbp
	mov rbp, rsp
	# No error code on this vector: orig_ax is -1, and do_error_trap reports 0.
	xor edx, edx
	mov rsi, rdi
	lea rdi, [rip + str_divide]
	mov r8d, Vector_DE
	mov ecx, SIGFPE
	call die
	pop rbp
	ret
SYM_FUNC_END exc_divide_error

SYM_FUNC_START_NOTRACE exc_invalid_op
	push rbp
	mov rbp, rsp
	# No error code on this vector: orig_ax is -1, and do_error_trap reports 0.
	xor edx, edx
	mov rsi, rdi
	lea rdi, [rip + str_invalid_op]
	mov r8d, Vector_UD
	mov ecx, SIGILL
	call die
	pop rbp
	ret
SYM_FUNC_END exc_invalid_op

SYM_FUNC_START_NOTRACE exc_general_protection
	push rbp
	mov rbp, rsp
	mov rdx, rsi
	mov rsi, rdi
	lea rdi, [rip + str_gp]
	mov r8d, Vector_GP
	mov ecx, SIGSEGV
	call die
	pop rbp
	ret
SYM_FUNC_END exc_general_protection

# exc_int3(regs): text_poke_bp's int3 first (poke_int3_handler), else a real breakpoint.
SYM_FUNC_START_NOTRACE exc_int3
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rsi
	call poke_int3_handler
	test eax, eax
	jnz .Lhandled
	mov rsi, rbx
	xor edx, edx	# #BP has no error code: die() reports 0, as do_int3 does
	lea rdi, [rip + str_int3]
	mov r8d, Vector_BP
	mov ecx, SIGTRAP
	call die
.Lhandled:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END exc_int3

SYM_FUNC_START_NOTRACE exc_double_fault
	push rbp
	mov rbp, rsp
	lea rdi, [rip + msg_double_fault]
	HYPERCALL Hypercall_PANIC
	pop rbp
	ret
SYM_FUNC_END exc_double_fault

SYM_FUNC_START_NOTRACE exc_spurious
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END exc_spurious

# exc_page_fault(regs, error_code): no demand paging here - every fault is a bug.
SYM_FUNC_START_NOTRACE exc_page_fault
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rsi
	bt qword ptr [rbx + PT_REGS_ip], 63
	jnc .Luser_fault
	lea rdi, [rip + fmt_pf_addr]
	mov rsi, cr2
	call _printk
	lea rdi, [rip + fmt_pf_kind]
	lea rsi, [rip + str_read]
	lea rax, [rip + str_write]
	test r12, 2
	cmovnz rsi, rax
	lea rax, [rip + str_ifetch]
	test r12, 0x10
	cmovnz rsi, rax
	call _printk
	lea rdi, [rip + fmt_pf_code]
	mov rsi, r12
	lea rdx, [rip + str_not_present]
	lea rax, [rip + str_prot]
	test r12, 1
	cmovnz rdx, rax
	call _printk
.Luser_fault:
	lea rdi, [rip + str_page_fault]
	mov r8d, Vector_PF
	mov rsi, rbx
	mov rdx, r12
	mov ecx, SIGSEGV
	call die
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END exc_page_fault

.section .rodata
SYM_DATA_START_LOCAL fmt_oops
	.asciz "\0014%s: %04lx [#%u] PREEMPT SMP"
SYM_DATA_END fmt_oops
SYM_DATA_START_LOCAL fmt_cpu_pid
	.asciz "\0014CPU: %lu PID: %d Comm: %s %s 6.6.0-klpemu #1"
SYM_DATA_END fmt_cpu_pid
SYM_DATA_START_LOCAL fmt_end_trace
	.asciz "\0014---[ end trace 0000000000000000 ]---"
SYM_DATA_END fmt_end_trace
SYM_DATA_START_LOCAL fmt_user_trap
	.asciz "\0016traps: %s[%d] trap %s ip:%lx sp:%lx"
SYM_DATA_END fmt_user_trap
SYM_DATA_START_LOCAL fmt_pf_addr
	.asciz "\0011BUG: unable to handle page fault for address: %px"
SYM_DATA_END fmt_pf_addr
SYM_DATA_START_LOCAL fmt_pf_kind
	.asciz "\0011#PF: supervisor %s access in kernel mode"
SYM_DATA_END fmt_pf_kind
SYM_DATA_START_LOCAL fmt_pf_code
	.asciz "\0011#PF: error_code(0x%04lx) - %s"
SYM_DATA_END fmt_pf_code
SYM_DATA_START_LOCAL str_read
	.asciz "read"
SYM_DATA_END str_read
SYM_DATA_START_LOCAL str_write
	.asciz "write"
SYM_DATA_END str_write
SYM_DATA_START_LOCAL str_ifetch
	.asciz "instruction fetch"
SYM_DATA_END str_ifetch
SYM_DATA_START_LOCAL str_not_present
	.asciz "not-present page"
SYM_DATA_END str_not_present
SYM_DATA_START_LOCAL str_prot
	.asciz "permissions violation"
SYM_DATA_END str_prot
SYM_DATA_START_LOCAL str_divide
	.asciz "divide error"
SYM_DATA_END str_divide
SYM_DATA_START_LOCAL str_invalid_op
	.asciz "invalid opcode"
SYM_DATA_END str_invalid_op
SYM_DATA_START_LOCAL str_gp
	.asciz "general protection fault"
SYM_DATA_END str_gp
SYM_DATA_START_LOCAL str_int3
	.asciz "int3"
SYM_DATA_END str_int3
SYM_DATA_START_LOCAL str_page_fault
	.asciz "Oops"
SYM_DATA_END str_page_fault
SYM_DATA_START_LOCAL msg_double_fault
	.asciz "double fault"
SYM_DATA_END msg_double_fault
SYM_DATA_START_LOCAL msg_fatal
	.asciz "Fatal exception"
SYM_DATA_END msg_fatal

.section .data
SYM_DATA_START_LOCAL die_counter
	.long 0
SYM_DATA_END die_counter
