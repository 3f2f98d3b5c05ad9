# exec.S - fs/exec.c for a toy: execve(2) of the programs built into .usertext
#
# There is no filesystem: a program is found by the last component of its
# path in user_programs ({ name, entry } pairs). What begin_new_exec does that
# can be seen here is done in the kernel's order: the task takes the program's
# name (__set_task_comm of the basename, cut to TASK_COMM_LEN - 1), a vfork
# parent is released, and start_thread resets the user registers (ip = entry,
# sp = the task's own user stack, IF set, every other register 0), so the
# syscall "returns" 0 into the new program.

.section .text

# __x64_sys_execve(filename, argv, envp) -> 0 in the new program, or -ENOENT
SYM_FUNC_START __x64_sys_execve
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	# kbasename(filename)
	mov r12, rdi
	mov rcx, rdi
.Lbasename:
	mov al, byte ptr [rcx]
	inc rcx
	test al, al
	jz .Lbasename_done
	cmp al, 47
	jne .Lbasename
	mov r12, rcx
	jmp .Lbasename
.Lbasename_done:
	lea r13, [rip + user_programs]
.Llookup:
	mov rsi, qword ptr [r13]
	test rsi, rsi
	jz .Lenoent
	mov rdi, r12
	call strcmp
	test eax, eax
	jz .Lfound
	add r13, 16
	jmp .Llookup
.Lenoent:
	mov rax, -2
	jmp .Lout
.Lfound:
	CURRENT r14
	lea rdi, [r14 + TASK_comm]
	mov rsi, r12
	mov edx, TASK_COMM_LEN
	call strscpy
	mov rdi, r14
	call complete_vfork_done
	# start_thread(regs, entry, user stack top)
	mov rbx, qword ptr [r14 + TASK_stack]
	add rbx, THREAD_SIZE - PT_REGS_SIZE
	mov rdi, rbx
	xor esi, esi
	mov edx, PT_REGS_orig_ax
	call memset
	mov rax, qword ptr [r13 + 8]
	mov qword ptr [rbx + PT_REGS_ip], rax
	mov qword ptr [rbx + PT_REGS_cs], Segment_KERNEL_CS
	mov qword ptr [rbx + PT_REGS_flags], 0x202
	mov rax, qword ptr [r14 + TASK_user_sp]
	mov qword ptr [rbx + PT_REGS_sp], rax
	mov qword ptr [rbx + PT_REGS_ss], Segment_KERNEL_DS
	xor eax, eax
.Lout:
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_execve

.section .rodata
SYM_DATA_START_LOCAL name_call_getpid
	.asciz "test_klp-call_getpid"
SYM_DATA_END name_call_getpid

.balign 8
SYM_DATA_START user_programs
	.quad name_call_getpid, user_call_getpid
	.quad 0, 0
SYM_DATA_END user_programs
