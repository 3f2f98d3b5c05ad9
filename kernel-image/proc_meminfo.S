# proc_meminfo.S - fs/proc/meminfo.c: /proc/meminfo with the file-local show_val_kb

.section .text

# show_val_kb(m, s, num pages): "s" then num*4 right-aligned in 8 columns, " kB\n"
SYM_FUNC_START_LOCAL show_val_kb
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	shl rdx, 2
	mov ecx, 8
	call seq_put_decimal_ull_width
	mov rdi, rbx
	lea rsi, [rip + str_kb]
	call seq_puts
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END show_val_kb

# meminfo_proc_show(m, v)
SYM_FUNC_START meminfo_proc_show
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov rbx, rdi
	lea rax, [rip + boot_params]
	mov r12, qword ptr [rax + BOOT_PARAMS_heap_size]
	shr r12, 12
	mov r13, qword ptr [rip + heap_end]
	sub r13, qword ptr [rip + heap_next]
	shr r13, 12
	mov rdi, rbx
	lea rsi, [rip + str_memtotal]
	mov rdx, r12
	call show_val_kb
	mov rdi, rbx
	lea rsi, [rip + str_memfree]
	mov rdx, r13
	call show_val_kb
	mov rdi, rbx
	lea rsi, [rip + str_memavailable]
	mov rdx, r13
	call show_val_kb
	mov rdi, rbx
	lea rsi, [rip + str_buffers]
	xor edx, edx
	call show_val_kb
	mov rdi, rbx
	lea rsi, [rip + str_cached]
	xor edx, edx
	call show_val_kb
	xor eax, eax
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END meminfo_proc_show

.section .rodata
SYM_DATA_START_LOCAL str_kb
	.asciz " kB\n"
SYM_DATA_END str_kb
SYM_DATA_START_LOCAL str_memtotal
	.asciz "MemTotal:       "
SYM_DATA_END str_memtotal
SYM_DATA_START_LOCAL str_memfree
	.asciz "MemFree:        "
SYM_DATA_END str_memfree
SYM_DATA_START_LOCAL str_memavailable
	.asciz "MemAvailable:   "
SYM_DATA_END str_memavailable
SYM_DATA_START_LOCAL str_buffers
	.asciz "Buffers:        "
SYM_DATA_END str_buffers
SYM_DATA_START_LOCAL str_cached
	.asciz "Cached:         "
SYM_DATA_END str_cached
