# entry_64.S - syscall entry, IDT entry stubs, return to user, context switch, ret_from_fork
#
# Everything here is SYM_CODE (no C ABI, no ftrace nop). Frame rule (docs/abi.md):
# with RSP at a pt_regs, a stub clears RBP when the pt_regs is the task's user
# pt_regs (the interrupted RIP is user code) and calls the C-level handler, so
# the handler's frame record at regs-16 is the end-of-stack frame (saved RBP 0).
# From kernel code RBP is kept: the chain goes on into the interrupted frames,
# and the return address into asm_* tells the reliable unwinder a pt_regs sits
# on the stack (src/unwind/stacktrace.ts).

.section .text

# PUSH_REGS/POP_REGS: the general registers of struct pt_regs (PT_REGS in layout.ts),
# below orig_ax, which the caller has pushed (error code, or -1).
.macro PUSH_REGS
	push rdi
	push rsi
	push rdx
	push rcx
	push rax
	push r8
	push r9
	push r10
	push r11
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
.endm

.macro POP_REGS
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	pop r11
	pop r10
	pop r9
	pop r8
	pop rax
	pop rcx
	pop rdx
	pop rsi
	pop rdi
.endm

# IDTENTRY_BODY handler: RSP points at orig_ax. Calls handler(regs, error_code),
# then irqentry_exit(regs), restores and returns with iretq. RBP = 0 for an
# entry from user code (branch-free: sar of the RIP's sign bit).
.macro IDTENTRY_BODY handler
	cld
	PUSH_REGS
	mov rax, qword ptr [rsp + PT_REGS_ip]
	sar rax, 63
	and rbp, rax
	mov rdi, rsp
	mov rsi, qword ptr [rsp + PT_REGS_orig_ax]
	call \handler
	mov rdi, rsp
	call irqentry_exit
	POP_REGS
	add rsp, 8
	iretq
.endm

SYM_CODE_START asm_exc_divide_error
	push -1
	IDTENTRY_BODY exc_divide_error
SYM_CODE_END asm_exc_divide_error

# int3 from kernel code: copy the hardware frame 5 words down first (the
# "int3 gap"), so poke_int3_handler can emulate a call by pushing a return
# address below the interrupted RSP without overwriting the frame iretq uses.
SYM_CODE_START asm_exc_int3
	bt qword ptr [rsp], 63
	jnc .Lint3_from_user
	push qword ptr [rsp + 32]
	push qword ptr [rsp + 32]
	push qword ptr [rsp + 32]
	push qword ptr [rsp + 32]
	push qword ptr [rsp + 32]
.Lint3_from_user:
	push -1
	IDTENTRY_BODY exc_int3
SYM_CODE_END asm_exc_int3

SYM_CODE_START asm_exc_invalid_op
	push -1
	IDTENTRY_BODY exc_invalid_op
SYM_CODE_END asm_exc_invalid_op

SYM_CODE_START asm_exc_double_fault
	IDTENTRY_BODY exc_double_fault
SYM_CODE_END asm_exc_double_fault

SYM_CODE_START asm_exc_general_protection
	IDTENTRY_BODY exc_general_protection
SYM_CODE_END asm_exc_general_protection

SYM_CODE_START asm_exc_page_fault
	IDTENTRY_BODY exc_page_fault
SYM_CODE_END asm_exc_page_fault

SYM_CODE_START asm_exc_spurious
	push -1
	IDTENTRY_BODY exc_spurious
SYM_CODE_END asm_exc_spurious

SYM_CODE_START asm_sysvec_apic_timer_interrupt
	push -1
	IDTENTRY_BODY sysvec_apic_timer_interrupt
SYM_CODE_END asm_sysvec_apic_timer_interrupt

SYM_CODE_START asm_sysvec_reschedule_ipi
	push -1
	IDTENTRY_BODY sysvec_reschedule_ipi
SYM_CODE_END asm_sysvec_reschedule_ipi

# entry_SYSCALL_64: RCX = user RIP, R11 = user RFLAGS, IF already cleared by
# SFMASK. Switch to the task stack and build the user pt_regs at its top
# (task_pt_regs), exactly where ret_from_fork and user-mode interrupts put it.
SYM_CODE_START entry_SYSCALL_64
	mov qword ptr gs:[PERCPU_user_rsp_scratch], rsp
	mov rsp, qword ptr gs:[PERCPU_top_of_stack]
	push Segment_KERNEL_DS
	push qword ptr gs:[PERCPU_user_rsp_scratch]
	push r11
	push Segment_KERNEL_CS
	push rcx
	push rax
	PUSH_REGS
	xor ebp, ebp
	sti
	mov rdi, rsp
	mov rsi, qword ptr [rsp + PT_REGS_orig_ax]
	call do_syscall_64
	cli
	mov rdi, rsp
	call syscall_exit_to_user_mode
	POP_REGS
	add rsp, 8
	iretq
SYM_CODE_END entry_SYSCALL_64

# __switch_to_asm(prev = rdi, next = rsi) -> prev in rax, running on next's stack.
# The frame it leaves is SWITCH_TO_ASM_FRAME in src/unwind/unwindFrame.ts.
SYM_CODE_START __switch_to_asm
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	mov qword ptr [rdi + TASK_thread_sp], rsp
	mov rsp, qword ptr [rsi + TASK_thread_sp]
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	mov rax, rdi
	ret
SYM_CODE_END __switch_to_asm

# ret_from_fork_asm: the first return of __switch_to_asm into a new task
# (copy_thread builds that frame), RSP = task_pt_regs, RBP = 0, RBX = kthread
# function (0 for a user task), R12 = its argument, RAX = prev.
SYM_CODE_START ret_from_fork_asm
	mov rdi, rax
	mov rsi, rsp
	mov rdx, rbx
	mov rcx, r12
	call ret_from_fork
	cli
	mov rdi, rsp
	call syscall_exit_to_user_mode
	POP_REGS
	add rsp, 8
	iretq
SYM_CODE_END ret_from_fork_asm
