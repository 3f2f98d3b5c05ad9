# proc_vmstat.S - a second /proc file with its own file-local show_val_kb (so sympos matters)

.section .text

# show_val_kb(m, s, num): "s num\n" in vmstat's style (pages, not kB)
SYM_FUNC_START_LOCAL show_val_kb
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rdx
	call seq_puts
	mov rdi, rbx
	lea rsi, [rip + fmt_val]
	mov rdx, r12
	call seq_printf
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END show_val_kb

# vmstat_show(m, v)
SYM_FUNC_START vmstat_show
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov rdx, qword ptr [rip + heap_end]
	sub rdx, qword ptr [rip + heap_next]
	shr rdx, 12
	lea rsi, [rip + str_nr_free]
	call show_val_kb
	mov rdi, rbx
	lea rsi, [rip + str_nr_works]
	mov rdx, qword ptr [rip + works_done]
	call show_val_kb
	xor eax, eax
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END vmstat_show

.section .rodata
SYM_DATA_START_LOCAL fmt_val
	.asciz " %lu\n"
SYM_DATA_END fmt_val
SYM_DATA_START_LOCAL str_nr_free
	.asciz "nr_free_pages"
SYM_DATA_END str_nr_free
SYM_DATA_START_LOCAL str_nr_works
	.asciz "nr_works_done"
SYM_DATA_END str_nr_works
