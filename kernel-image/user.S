# user.S - the user-mode programs init starts (.usertext/.userdata at USER_BASE)
#
# They enter with RDI = their argument and talk to the kernel only through
# syscall. They never use the red zone below RSP.

.section .usertext

# getpid_loop(n): getpid in a tight loop, a short sleep every 1024 calls.
SYM_FUNC_START_NOTRACE user_getpid_loop
	push rbp
	mov rbp, rsp
	sub rsp, 16
	mov qword ptr [rsp], 0
	mov qword ptr [rsp + 8], 1000000
.Lgetpid_again:
	mov eax, Syscall_getpid
	syscall
	inc qword ptr [rip + user_getpid_calls]
	test qword ptr [rip + user_getpid_calls], 1023
	jnz .Lgetpid_again
	mov eax, Syscall_nanosleep
	mov rdi, rsp
	syscall
	jmp .Lgetpid_again
	leave
	ret
SYM_FUNC_END user_getpid_loop

# test_klp-call_getpid (tools/testing/selftests/livepatch/test_klp-call_getpid.c):
# syscall(SYS_getpid) in a loop, as fast as it can, until a signal ends it
# (there are no user signal handlers here: SIGHUP/SIGINT/SIGTERM just kill it).
SYM_FUNC_START_NOTRACE user_call_getpid
	push rbp
	mov rbp, rsp
.Lcall_getpid:
	mov eax, Syscall_getpid
	syscall
	jmp .Lcall_getpid
	pop rbp
	ret
SYM_FUNC_END user_call_getpid

# cat_loop(n): read /proc/cmdline every 50 ms, like `while :; do cat /proc/cmdline; sleep 0.05; done`.
SYM_FUNC_START_NOTRACE user_cat_loop
	push rbp
	mov rbp, rsp
	push rbx
	sub rsp, 24
	mov qword ptr [rsp], 0
	mov qword ptr [rsp + 8], 50000000
.Lcat_again:
	mov eax, Syscall_open
	lea rdi, [rip + user_path_cmdline]
	xor esi, esi
	syscall
	test rax, rax
	js .Lcat_sleep
	mov rbx, rax
	mov eax, Syscall_read
	mov rdi, rbx
	lea rsi, [rip + user_cat_buf]
	mov edx, 256
	syscall
	mov qword ptr [rip + user_cat_len], rax
	mov eax, Syscall_close
	mov rdi, rbx
	syscall
	inc qword ptr [rip + user_cat_reads]
.Lcat_sleep:
	mov eax, Syscall_nanosleep
	mov rdi, rsp
	syscall
	jmp .Lcat_again
	add rsp, 24
	pop rbx
	pop rbp
	ret
SYM_FUNC_END user_cat_loop

# klpsh_main: the shell task - wait for the host's command, run it, report.
SYM_FUNC_START_NOTRACE klpsh_main
	push rbp
	mov rbp, rsp
	push rbx
	push r12
.Lsh_wait:
	mov eax, Syscall_klpsh_wait
	syscall
	lea r12, [rip + shell_mailbox]
	cmp dword ptr [r12 + SHELL_MAILBOX_cmd], ShellCmd_CAT
	je .Lsh_cat
	cmp dword ptr [r12 + SHELL_MAILBOX_cmd], ShellCmd_SPAWN
	je .Lsh_spawn
	cmp dword ptr [r12 + SHELL_MAILBOX_cmd], ShellCmd_KILL
	je .Lsh_kill
	mov rdi, -38
	jmp .Lsh_done
.Lsh_kill:
	mov eax, Syscall_kill
	mov rdi, qword ptr [r12 + SHELL_MAILBOX_arg0]
	mov esi, dword ptr [r12 + SHELL_MAILBOX_arg1]
	syscall
	mov rdi, rax
	jmp .Lsh_done
# `PROGRAM &`: vfork, the child execs PROGRAM (it shares this memory until
# then, so it reports a failed execve in klpsh_exec_errno and exits 127).
.Lsh_spawn:
	mov qword ptr [rip + klpsh_exec_errno], 0
	mov eax, Syscall_vfork
	syscall
	test rax, rax
	jnz .Lsh_parent
	mov eax, Syscall_execve
	lea rdi, [r12 + SHELL_MAILBOX_path]
	xor esi, esi
	xor edx, edx
	syscall
	mov qword ptr [rip + klpsh_exec_errno], rax
	mov eax, Syscall_exit
	mov edi, 127
	syscall
.Lsh_parent:
	mov rdi, rax
	test rax, rax
	js .Lsh_done
	cmp qword ptr [rip + klpsh_exec_errno], 0
	je .Lsh_done
	mov rdi, qword ptr [rip + klpsh_exec_errno]
	jmp .Lsh_done
.Lsh_cat:
	mov eax, Syscall_open
	lea rdi, [r12 + SHELL_MAILBOX_path]
	xor esi, esi
	syscall
	mov rdi, rax
	test rax, rax
	js .Lsh_done
	mov rbx, rax
	mov eax, Syscall_read
	mov rdi, rbx
	lea rsi, [r12 + SHELL_MAILBOX_out]
	mov edx, SHELL_OUT_SIZE
	syscall
	mov qword ptr [r12 + SHELL_MAILBOX_out_len], rax
	push rax
	mov eax, Syscall_close
	mov rdi, rbx
	syscall
	pop rdi
.Lsh_done:
	mov eax, Syscall_klpsh_done
	syscall
	jmp .Lsh_wait
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END klpsh_main

.section .userdata
SYM_DATA_START user_path_cmdline
	.asciz "/proc/cmdline"
SYM_DATA_END user_path_cmdline
.balign 8, 0
SYM_DATA_START user_getpid_calls
	.quad 0
SYM_DATA_END user_getpid_calls
SYM_DATA_START klpsh_exec_errno
	.quad 0
SYM_DATA_END klpsh_exec_errno
SYM_DATA_START user_cat_reads
	.quad 0
SYM_DATA_END user_cat_reads
SYM_DATA_START user_cat_len
	.quad 0
SYM_DATA_END user_cat_len
SYM_DATA_START user_cat_buf
	.zero 256
SYM_DATA_END user_cat_buf
.balign 64, 0
SYM_DATA_START shell_mailbox
	.zero SHELL_MAILBOX_SIZE
SYM_DATA_END shell_mailbox
