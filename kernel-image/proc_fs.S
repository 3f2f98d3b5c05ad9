# proc_fs.S - fs/proc + fs/read_write.c for a toy: open/read/close of single_open() files
#
# open() looks the path up in proc_entries, runs the file's show() into a
# seq_file buffer (single_open semantics), and read() copies from it.
# struct proc_file (guest-only): seq_file, then u64 pos.

PFILE_seq = 0
PFILE_pos = 24
PFILE_SIZE = 32
PROC_BUF_SIZE = 4064
NR_OPEN = 64
FD_BASE = 3
ENOENT = 2
EBADF = 9
ENOMEM = 12
EMFILE = 24
ENOSPC = 28
NR_PROC_DYN = 16

.section .text

# proc_lookup(path) -> show function or 0: the built-in table, then the entries modules created
SYM_FUNC_START_LOCAL proc_lookup
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r12, rdi
	lea rbx, [rip + proc_dyn_entries]
.Lnext_dyn:
	lea rax, [rip + proc_dyn_entries]
	add rax, 16 * NR_PROC_DYN
	cmp rbx, rax
	jae .Lstatic
	mov rsi, qword ptr [rbx]
	test rsi, rsi
	jz .Lskip_dyn
	mov rdi, r12
	call strcmp
	test eax, eax
	jz .Lhit
.Lskip_dyn:
	add rbx, 16
	jmp .Lnext_dyn
.Lstatic:
	lea rbx, [rip + proc_entries]
.Lnext_entry:
	mov rsi, qword ptr [rbx]
	test rsi, rsi
	jz .Lmissing
	mov rdi, r12
	call strcmp
	test eax, eax
	jz .Lhit
	add rbx, 16
	jmp .Lnext_entry
.Lhit:
	mov rax, qword ptr [rbx + 8]
	jmp .Llookup_out
.Lmissing:
	xor eax, eax
.Llookup_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END proc_lookup

# __x64_sys_open(path, flags) -> fd or -errno
SYM_FUNC_START __x64_sys_open
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	call proc_lookup
	test rax, rax
	jz .Lenoent
	mov r13, rax
	mov edi, PFILE_SIZE
	call kzalloc
	test rax, rax
	jz .Lenomem
	mov rbx, rax
	mov edi, PROC_BUF_SIZE
	call __kmalloc
	test rax, rax
	jz .Lenomem
	mov qword ptr [rbx + PFILE_seq + SEQ_buf], rax
	mov qword ptr [rbx + PFILE_seq + SEQ_size], PROC_BUF_SIZE
	mov rdi, rbx
	xor esi, esi
	call r13
	# install in the first free slot
	lea rdi, [rip + files_lock]
	call raw_spin_lock_irqsave
	mov r14, rax
	lea rcx, [rip + fd_table]
	xor r12d, r12d
.Lslot:
	cmp r12d, NR_OPEN
	jae .Lemfile
	cmp qword ptr [rcx + r12 * 8], 0
	je .Lfree_slot
	inc r12d
	jmp .Lslot
.Lfree_slot:
	mov qword ptr [rcx + r12 * 8], rbx
	lea rdi, [rip + files_lock]
	mov rsi, r14
	call raw_spin_unlock_irqrestore
	lea rax, [r12 + FD_BASE]
	jmp .Lopen_out
.Lemfile:
	lea rdi, [rip + files_lock]
	mov rsi, r14
	call raw_spin_unlock_irqrestore
	mov rax, -EMFILE
	jmp .Lopen_out
.Lenomem:
	mov rax, -ENOMEM
	jmp .Lopen_out
.Lenoent:
	mov rax, -ENOENT
.Lopen_out:
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_open

# proc_create_single(path, show) -> 0, or -ENOSPC when the table is full (modules' /proc files)
SYM_FUNC_START proc_create_single
	push rbp
	mov rbp, rsp
	lea rax, [rip + proc_dyn_entries]
	xor ecx, ecx
.Lfind_free:
	cmp ecx, NR_PROC_DYN
	jae .Lno_space
	cmp qword ptr [rax], 0
	je .Lfree_entry
	add rax, 16
	inc ecx
	jmp .Lfind_free
.Lfree_entry:
	mov qword ptr [rax + 8], rsi
	mov qword ptr [rax], rdi
	xor eax, eax
	pop rbp
	ret
.Lno_space:
	mov rax, -ENOSPC
	pop rbp
	ret
SYM_FUNC_END proc_create_single
EXPORT_SYMBOL proc_create_single

# remove_proc_entry(path)
SYM_FUNC_START remove_proc_entry
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r12, rdi
	lea rbx, [rip + proc_dyn_entries]
.Lremove_next:
	lea rax, [rip + proc_dyn_entries]
	add rax, 16 * NR_PROC_DYN
	cmp rbx, rax
	jae .Lremove_done
	mov rsi, qword ptr [rbx]
	test rsi, rsi
	jz .Lremove_skip
	mov rdi, r12
	call strcmp
	test eax, eax
	jnz .Lremove_skip
	mov qword ptr [rbx], 0
	mov qword ptr [rbx + 8], 0
.Lremove_skip:
	add rbx, 16
	jmp .Lremove_next
.Lremove_done:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END remove_proc_entry
EXPORT_SYMBOL remove_proc_entry

# fget(fd) -> proc_file or 0
SYM_FUNC_START_LOCAL fget
	push rbp
	mov rbp, rsp
	xor eax, eax
	sub rdi, FD_BASE
	cmp rdi, NR_OPEN
	jae .Lfget_out
	lea rcx, [rip + fd_table]
	mov rax, qword ptr [rcx + rdi * 8]
.Lfget_out:
	pop rbp
	ret
SYM_FUNC_END fget

# __x64_sys_read(fd, buf, count) -> bytes or -errno
SYM_FUNC_START __x64_sys_read
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov r12, rsi
	mov r13, rdx
	call fget
	test rax, rax
	jz .Lread_ebadf
	mov rbx, rax
	mov rax, qword ptr [rbx + PFILE_seq + SEQ_count]
	mov rcx, qword ptr [rbx + PFILE_pos]
	sub rax, rcx
	cmp r13, rax
	cmova r13, rax
	mov rdi, r12
	mov rsi, qword ptr [rbx + PFILE_seq + SEQ_buf]
	add rsi, rcx
	mov rdx, r13
	call memcpy
	add qword ptr [rbx + PFILE_pos], r13
	mov rax, r13
	jmp .Lread_out
.Lread_ebadf:
	mov rax, -EBADF
.Lread_out:
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_read

# __x64_sys_close(fd)
SYM_FUNC_START __x64_sys_close
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r12, rdi
	call fget
	test rax, rax
	jz .Lclose_ebadf
	mov rbx, rax
	lea rcx, [rip + fd_table]
	mov qword ptr [rcx + r12 * 8 - FD_BASE * 8], 0
	mov rdi, qword ptr [rbx + PFILE_seq + SEQ_buf]
	call kfree
	mov rdi, rbx
	call kfree
	xor eax, eax
	jmp .Lclose_out
.Lclose_ebadf:
	mov rax, -EBADF
.Lclose_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __x64_sys_close

# __x64_sys_write(fd, buf, count): stdout/stderr go to the console
SYM_FUNC_START __x64_sys_write
	push rbp
	mov rbp, rsp
	lea rax, [rdi - 1]
	cmp rax, 1
	ja .Lwrite_ebadf
	mov rdi, rsi
	mov rsi, rdx
	HYPERCALL Hypercall_CONSOLE_WRITE
	pop rbp
	ret
.Lwrite_ebadf:
	mov rax, -EBADF
	pop rbp
	ret
SYM_FUNC_END __x64_sys_write

.section .rodata
SYM_DATA_START_LOCAL path_cmdline
	.asciz "/proc/cmdline"
SYM_DATA_END path_cmdline
SYM_DATA_START_LOCAL path_meminfo
	.asciz "/proc/meminfo"
SYM_DATA_END path_meminfo
SYM_DATA_START_LOCAL path_vmstat
	.asciz "/proc/vmstat"
SYM_DATA_END path_vmstat
SYM_DATA_START_LOCAL path_version
	.asciz "/proc/version"
SYM_DATA_END path_version
SYM_DATA_START proc_entries
	.quad path_cmdline, cmdline_proc_show
	.quad path_meminfo, meminfo_proc_show
	.quad path_vmstat, vmstat_show
	.quad path_version, version_proc_show
	.quad 0, 0
SYM_DATA_END proc_entries

.section .data
SYM_DATA_START_LOCAL files_lock
	.quad 0
SYM_DATA_END files_lock

.section .bss
SYM_DATA_START_LOCAL proc_dyn_entries
	.zero 16 * NR_PROC_DYN
SYM_DATA_END proc_dyn_entries
SYM_DATA_START_LOCAL fd_table
	.zero 8 * NR_OPEN
SYM_DATA_END fd_table
