# ftrace_64.S - arch/x86/kernel/ftrace_64.S: the trampolines an enabled entry nop calls
#
# A traced function's first instruction becomes `call ftrace_caller`,
# `call ftrace_regs_caller` or `call <ops trampoline>` (a copy of
# ftrace_regs_caller, see src/ftrace/trampoline.ts). On entry [rsp] is
# function + 5 and [rsp + 8] the parent's return address. As save_mcount_regs
# does with frame pointers, two fake frames (parent, traced function) are
# pushed first so a stack walk from a handler goes through the trampoline.
# Each trampoline reads its ops and handler from the two quadwords right after
# its code (the *_op/*_func slots); a copied trampoline keeps that layout, so
# its RIP-relative loads find its own slots. The host writes the slots
# (update_ftrace_function) before any site calls the trampoline.

.section .text

# SAVE_FRAMES: orig rbp, then the parent's frame and the traced function's frame.
.macro SAVE_FRAMES
	push rbp
	push qword ptr [rsp + 16]
	push rbp
	mov rbp, rsp
	push qword ptr [rsp + 24]
	push rbp
	mov rbp, rsp
.endm

# Stack after SAVE_FRAMES and `sub rsp, PT_REGS_SIZE` (E = RSP at entry):
# regs = rsp; E = regs + PT_REGS_SIZE + 40.
FTRACE_E = PT_REGS_SIZE + 40

SYM_CODE_START ftrace_regs_caller
	SAVE_FRAMES
	sub rsp, PT_REGS_SIZE
	mov qword ptr [rsp + PT_REGS_rax], rax
	mov qword ptr [rsp + PT_REGS_rcx], rcx
	mov qword ptr [rsp + PT_REGS_rdx], rdx
	mov qword ptr [rsp + PT_REGS_rsi], rsi
	mov qword ptr [rsp + PT_REGS_rdi], rdi
	mov qword ptr [rsp + PT_REGS_r8], r8
	mov qword ptr [rsp + PT_REGS_r9], r9
	mov qword ptr [rsp + PT_REGS_r10], r10
	mov qword ptr [rsp + PT_REGS_r11], r11
	mov qword ptr [rsp + PT_REGS_rbx], rbx
	mov qword ptr [rsp + PT_REGS_r12], r12
	mov qword ptr [rsp + PT_REGS_r13], r13
	mov qword ptr [rsp + PT_REGS_r14], r14
	mov qword ptr [rsp + PT_REGS_r15], r15
	mov rax, qword ptr [rsp + FTRACE_E - 8]
	mov qword ptr [rsp + PT_REGS_rbp], rax
	pushfq
	pop qword ptr [rsp + PT_REGS_flags]
	mov qword ptr [rsp + PT_REGS_cs], Segment_KERNEL_CS
	mov qword ptr [rsp + PT_REGS_ss], Segment_KERNEL_DS
	mov qword ptr [rsp + PT_REGS_orig_ax], 0
	lea rax, [rsp + FTRACE_E + 8]
	mov qword ptr [rsp + PT_REGS_sp], rax
	mov rdi, qword ptr [rsp + FTRACE_E]
	mov qword ptr [rsp + PT_REGS_ip], rdi
	sub rdi, MCOUNT_INSN_SIZE
	mov rsi, qword ptr [rsp + FTRACE_E + 8]
	mov rdx, qword ptr [rip + ftrace_regs_caller_op]
	mov rcx, rsp
	call qword ptr [rip + ftrace_regs_caller_func]
	# A handler may have moved regs->ip (livepatch): return there instead.
	mov rax, qword ptr [rsp + PT_REGS_ip]
	mov qword ptr [rsp + FTRACE_E], rax
	push qword ptr [rsp + PT_REGS_flags]
	popfq
	mov rax, qword ptr [rsp + PT_REGS_rax]
	mov rcx, qword ptr [rsp + PT_REGS_rcx]
	mov rdx, qword ptr [rsp + PT_REGS_rdx]
	mov rsi, qword ptr [rsp + PT_REGS_rsi]
	mov rdi, qword ptr [rsp + PT_REGS_rdi]
	mov r8, qword ptr [rsp + PT_REGS_r8]
	mov r9, qword ptr [rsp + PT_REGS_r9]
	mov r10, qword ptr [rsp + PT_REGS_r10]
	mov r11, qword ptr [rsp + PT_REGS_r11]
	mov rbx, qword ptr [rsp + PT_REGS_rbx]
	mov r12, qword ptr [rsp + PT_REGS_r12]
	mov r13, qword ptr [rsp + PT_REGS_r13]
	mov r14, qword ptr [rsp + PT_REGS_r14]
	mov r15, qword ptr [rsp + PT_REGS_r15]
	mov rbp, qword ptr [rsp + PT_REGS_rbp]
	add rsp, FTRACE_E
	ret
SYM_CODE_END ftrace_regs_caller
SYM_DATA_START ftrace_regs_caller_op
	.quad 0
SYM_DATA_END ftrace_regs_caller_op
SYM_DATA_START ftrace_regs_caller_func
	.quad ftrace_stub
SYM_DATA_END ftrace_regs_caller_func

# ftrace_caller: the same without full registers (regs = NULL, ip cannot change).
SYM_CODE_START ftrace_caller
	SAVE_FRAMES
	sub rsp, PT_REGS_SIZE
	mov qword ptr [rsp + PT_REGS_rax], rax
	mov qword ptr [rsp + PT_REGS_rcx], rcx
	mov qword ptr [rsp + PT_REGS_rdx], rdx
	mov qword ptr [rsp + PT_REGS_rsi], rsi
	mov qword ptr [rsp + PT_REGS_rdi], rdi
	mov qword ptr [rsp + PT_REGS_r8], r8
	mov qword ptr [rsp + PT_REGS_r9], r9
	mov qword ptr [rsp + PT_REGS_r10], r10
	mov qword ptr [rsp + PT_REGS_r11], r11
	mov rdi, qword ptr [rsp + FTRACE_E]
	sub rdi, MCOUNT_INSN_SIZE
	mov rsi, qword ptr [rsp + FTRACE_E + 8]
	mov rdx, qword ptr [rip + ftrace_caller_op]
	xor ecx, ecx
	call qword ptr [rip + ftrace_caller_func]
	mov rax, qword ptr [rsp + PT_REGS_rax]
	mov rcx, qword ptr [rsp + PT_REGS_rcx]
	mov rdx, qword ptr [rsp + PT_REGS_rdx]
	mov rsi, qword ptr [rsp + PT_REGS_rsi]
	mov rdi, qword ptr [rsp + PT_REGS_rdi]
	mov r8, qword ptr [rsp + PT_REGS_r8]
	mov r9, qword ptr [rsp + PT_REGS_r9]
	mov r10, qword ptr [rsp + PT_REGS_r10]
	mov r11, qword ptr [rsp + PT_REGS_r11]
	add rsp, PT_REGS_SIZE
	pop rbp
	pop rbp
	pop rbp
	pop rbp
	pop rbp
	ret
SYM_CODE_END ftrace_caller
SYM_DATA_START ftrace_caller_op
	.quad 0
SYM_DATA_END ftrace_caller_op
SYM_DATA_START ftrace_caller_func
	.quad ftrace_stub
SYM_DATA_END ftrace_caller_func

SYM_FUNC_START_NOTRACE ftrace_stub
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END ftrace_stub

# ftrace_ops_list_func(ip, parent_ip, op, regs): every registered ops whose
# filter has ip (an empty filter means all) and whose notrace lacks it.
SYM_FUNC_START_NOTRACE ftrace_ops_list_func
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov r12, rdi
	mov r13, rsi
	mov r14, rcx
	mov rbx, qword ptr [rip + ftrace_ops_list]
.Lops_next:
	test rbx, rbx
	jz .Lops_done
	test qword ptr [rbx + FTRACE_OPS_flags], FTRACE_OPS_FL_ENABLED
	jz .Lops_skip
	cmp qword ptr [rbx + FTRACE_OPS_filter_count], 0
	je .Lops_notrace
	mov rdi, qword ptr [rbx + FTRACE_OPS_filter]
	mov rsi, qword ptr [rbx + FTRACE_OPS_filter_count]
	mov rdx, r12
	call ftrace_hash_contains
	test eax, eax
	jz .Lops_skip
.Lops_notrace:
	mov rdi, qword ptr [rbx + FTRACE_OPS_notrace]
	mov rsi, qword ptr [rbx + FTRACE_OPS_notrace_count]
	mov rdx, r12
	call ftrace_hash_contains
	test eax, eax
	jnz .Lops_skip
	mov rdi, r12
	mov rsi, r13
	mov rdx, rbx
	mov rcx, r14
	call qword ptr [rbx + FTRACE_OPS_func]
.Lops_skip:
	mov rbx, qword ptr [rbx + FTRACE_OPS_next]
	jmp .Lops_next
.Lops_done:
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END ftrace_ops_list_func

# ftrace_hash_contains(ips, count, ip) -> 1 if ip is in the sorted array
SYM_FUNC_START_NOTRACE ftrace_hash_contains
	push rbp
	mov rbp, rsp
	xor ecx, ecx
.Lhash_search:
	cmp rcx, rsi
	jae .Lhash_miss
	lea rax, [rcx + rsi]
	shr rax, 1
	mov r8, qword ptr [rdi + rax * 8]
	cmp r8, rdx
	je .Lhash_hit
	jb .Lhash_up
	mov rsi, rax
	jmp .Lhash_search
.Lhash_up:
	lea rcx, [rax + 1]
	jmp .Lhash_search
.Lhash_hit:
	mov eax, 1
	pop rbp
	ret
.Lhash_miss:
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END ftrace_hash_contains

# function_trace_call(ip, parent_ip, op, regs): the function tracer - one
# entry (ip, parent_ip, cpu, pid, ts) per call into trace_ring (TRACE_ENTRY).
SYM_FUNC_START_NOTRACE function_trace_call
	push rbp
	mov rbp, rsp
	# tracing_on = 0: the ring buffer records nothing (tracer_tracing_is_on).
	cmp dword ptr [rip + tracing_on], 0
	je .Lfunction_trace_off
	mov eax, 1
	lock xadd qword ptr [rip + trace_ring_head], rax
	and rax, TRACE_RING_ENTRIES - 1
	imul rax, rax, TRACE_ENTRY_SIZE
	lea rcx, [rip + trace_ring]
	add rcx, rax
	mov qword ptr [rcx + TRACE_ENTRY_ip], rdi
	mov qword ptr [rcx + TRACE_ENTRY_parent_ip], rsi
	mov rax, qword ptr gs:[PERCPU_cpu_number]
	mov dword ptr [rcx + TRACE_ENTRY_cpu], eax
	mov rax, qword ptr gs:[PERCPU_current_task]
	mov edx, dword ptr [rax + TASK_pid]
	mov dword ptr [rcx + TRACE_ENTRY_pid], edx
	mov rdx, rax
	mov rax, qword ptr gs:[PERCPU_clock_ns]
	mov qword ptr [rcx + TRACE_ENTRY_ts], rax
	mov rax, qword ptr [rdx + TASK_comm]
	mov qword ptr [rcx + TRACE_ENTRY_comm], rax
	mov rax, qword ptr [rdx + TASK_comm + 8]
	mov qword ptr [rcx + TRACE_ENTRY_comm + 8], rax
.Lfunction_trace_off:
	pop rbp
	ret
SYM_FUNC_END function_trace_call

.section .data
SYM_DATA_START ftrace_ops_list
	.quad 0
SYM_DATA_END ftrace_ops_list
SYM_DATA_START trace_ring_head
	.quad 0
SYM_DATA_END trace_ring_head
SYM_DATA_START tracing_on
	.long 1
SYM_DATA_END tracing_on

.section .bss
SYM_DATA_START trace_ring
	.zero TRACE_RING_ENTRIES * TRACE_ENTRY_SIZE
SYM_DATA_END trace_ring
