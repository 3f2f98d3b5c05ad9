# livepatch_shadow.S - kernel/livepatch/shadow.c: shadow variables, data attached to existing objects by <obj, id>
#
# A shadow variable is a KLP_SHADOW (src/abi/layout.ts) from the guest slab:
# list node, obj, id, then the data the callers see. They hang on
# klp_shadow_list (the kernel hashes them by obj; one list keeps the same
# semantics) and klp_shadow_lock serialises every change. Lookups walk the
# list without the lock, as the kernel's RCU readers do: a variable is fully
# built (and its constructor has run) before it is linked in.

.section .text
# klp_shadow_get(obj, id) -> its data, or NULL
SYM_FUNC_START klp_shadow_get
	push rbp
	mov rbp, rsp
	lea rcx, [rip + klp_shadow_list]
	mov rax, qword ptr [rcx]
.Lget_loop:
	cmp rax, rcx
	je .Lget_none
	cmp qword ptr [rax + KLP_SHADOW_obj], rdi
	jne .Lget_next
	cmp qword ptr [rax + KLP_SHADOW_id], rsi
	jne .Lget_next
	add rax, KLP_SHADOW_data
	pop rbp
	ret
.Lget_next:
	mov rax, qword ptr [rax]
	jmp .Lget_loop
.Lget_none:
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END klp_shadow_get
EXPORT_SYMBOL klp_shadow_get

# __klp_shadow_get_or_alloc(obj, id, size, gfp_flags, ctor, ctor_data, warn_on_exist [stack])
#   -> the new (or, without warn_on_exist, the existing) variable's data, or NULL.
# ctor(obj, shadow_data, ctor_data) runs with klp_shadow_lock held, before
# the variable is linked in; a nonzero result frees it.
SYM_FUNC_START_LOCAL __klp_shadow_get_or_alloc
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 24
	mov r12, rdi
	mov r13, rsi
	mov r14, r8
	mov r15, r9
	mov qword ptr [rbp - 48], rdx
	call klp_shadow_get
	test rax, rax
	jnz .Lexists
	mov rdi, qword ptr [rbp - 48]
	add rdi, KLP_SHADOW_SIZE
	call kzalloc
	test rax, rax
	jz .Lout
	mov rbx, rax
	lea rdi, [rip + klp_shadow_lock]
	call raw_spin_lock_irqsave
	mov qword ptr [rbp - 56], rax
	# Look again under the lock: another task may have added it meanwhile.
	mov rdi, r12
	mov rsi, r13
	call klp_shadow_get
	test rax, rax
	jz .Lnew
	mov qword ptr [rbp - 64], rax
	lea rdi, [rip + klp_shadow_lock]
	mov rsi, qword ptr [rbp - 56]
	call raw_spin_unlock_irqrestore
	mov rdi, rbx
	call kfree
	mov rax, qword ptr [rbp - 64]
	jmp .Lexists
.Lnew:
	mov qword ptr [rbx + KLP_SHADOW_obj], r12
	mov qword ptr [rbx + KLP_SHADOW_id], r13
	test r14, r14
	jz .Llink
	mov rdi, r12
	lea rsi, [rbx + KLP_SHADOW_data]
	mov rdx, r15
	call r14
	test eax, eax
	jz .Llink
	mov r14d, eax
	lea rdi, [rip + klp_shadow_lock]
	mov rsi, qword ptr [rbp - 56]
	call raw_spin_unlock_irqrestore
	mov rdi, rbx
	call kfree
	lea rdi, [rip + fmt_ctor_failed]
	mov rsi, r12
	mov rdx, r13
	movsxd rcx, r14d
	call _printk
	xor eax, eax
	jmp .Lout
.Llink:
	# list_add_rcu(&new->node, &klp_shadow_list): the node is complete first.
	lea rcx, [rip + klp_shadow_list]
	mov rdx, qword ptr [rcx]
	mov qword ptr [rbx], rdx
	mov qword ptr [rbx + 8], rcx
	mov qword ptr [rdx + 8], rbx
	mov qword ptr [rcx], rbx
	lea rdi, [rip + klp_shadow_lock]
	mov rsi, qword ptr [rbp - 56]
	call raw_spin_unlock_irqrestore
	lea rax, [rbx + KLP_SHADOW_data]
	jmp .Lout
.Lexists:
	cmp qword ptr [rbp + 16], 0
	je .Lout
	lea rdi, [rip + fmt_duplicate]
	mov rsi, r12
	mov rdx, r13
	call _printk
	xor eax, eax
.Lout:
	add rsp, 24
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __klp_shadow_get_or_alloc

# klp_shadow_alloc(obj, id, size, gfp_flags, ctor, ctor_data): a new variable; NULL if <obj, id> exists
SYM_FUNC_START klp_shadow_alloc
	push rbp
	mov rbp, rsp
	push 1
	push 1
	call __klp_shadow_get_or_alloc
	leave
	ret
SYM_FUNC_END klp_shadow_alloc
EXPORT_SYMBOL klp_shadow_alloc

# klp_shadow_get_or_alloc(obj, id, size, gfp_flags, ctor, ctor_data): the existing one, else a new one
SYM_FUNC_START klp_shadow_get_or_alloc
	push rbp
	mov rbp, rsp
	push 0
	push 0
	call __klp_shadow_get_or_alloc
	leave
	ret
SYM_FUNC_END klp_shadow_get_or_alloc
EXPORT_SYMBOL klp_shadow_get_or_alloc

# klp_shadow_free_struct(shadow, dtor): unlink, dtor(obj, data), kfree; klp_shadow_lock held
SYM_FUNC_START_LOCAL klp_shadow_free_struct
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rsi
	mov rax, qword ptr [rbx]
	mov rcx, qword ptr [rbx + 8]
	mov qword ptr [rax + 8], rcx
	mov qword ptr [rcx], rax
	test r12, r12
	jz .Lfree_mem
	mov rdi, qword ptr [rbx + KLP_SHADOW_obj]
	lea rsi, [rbx + KLP_SHADOW_data]
	call r12
.Lfree_mem:
	mov rdi, rbx
	call kfree
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END klp_shadow_free_struct

# klp_shadow_free_matching(obj, id, dtor, match_obj): free <obj, id> (match_obj) or every id
SYM_FUNC_START_LOCAL klp_shadow_free_matching
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
	lea rdi, [rip + klp_shadow_lock]
	call raw_spin_lock_irqsave
	mov qword ptr [rbp - 48], rax
	mov rbx, qword ptr [rip + klp_shadow_list]
.Lmatch_loop:
	lea rax, [rip + klp_shadow_list]
	cmp rbx, rax
	je .Lmatch_done
	mov rdi, rbx
	mov rbx, qword ptr [rbx]
	cmp qword ptr [rdi + KLP_SHADOW_id], r13
	jne .Lmatch_loop
	test r15, r15
	jz .Lmatch_free
	cmp qword ptr [rdi + KLP_SHADOW_obj], r12
	jne .Lmatch_loop
.Lmatch_free:
	mov rsi, r14
	call klp_shadow_free_struct
	test r15, r15
	jz .Lmatch_loop
.Lmatch_done:
	lea rdi, [rip + klp_shadow_lock]
	mov rsi, qword ptr [rbp - 48]
	call raw_spin_unlock_irqrestore
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END klp_shadow_free_matching

# klp_shadow_free(obj, id, dtor): detach and free <obj, id>, calling dtor(obj, data) first
SYM_FUNC_START klp_shadow_free
	push rbp
	mov rbp, rsp
	mov ecx, 1
	call klp_shadow_free_matching
	pop rbp
	ret
SYM_FUNC_END klp_shadow_free
EXPORT_SYMBOL klp_shadow_free

# klp_shadow_free_all(id, dtor): every variable with that id, whatever its object
SYM_FUNC_START klp_shadow_free_all
	push rbp
	mov rbp, rsp
	mov rdx, rsi
	mov rsi, rdi
	xor edi, edi
	xor ecx, ecx
	call klp_shadow_free_matching
	pop rbp
	ret
SYM_FUNC_END klp_shadow_free_all
EXPORT_SYMBOL klp_shadow_free_all

.section .rodata
SYM_DATA_START_LOCAL fmt_ctor_failed
	.asciz "\0013livepatch: Failed to construct shadow variable <%px, %lx> (%d)"
SYM_DATA_END fmt_ctor_failed
SYM_DATA_START_LOCAL fmt_duplicate
	.asciz "\0014WARNING: kernel/livepatch/shadow.c: Duplicate shadow variable <%px, %lx>"
SYM_DATA_END fmt_duplicate

.section .data
SYM_DATA_START klp_shadow_list
	.quad klp_shadow_list
	.quad klp_shadow_list
SYM_DATA_END klp_shadow_list
SYM_DATA_START_LOCAL klp_shadow_lock
	.quad 0
SYM_DATA_END klp_shadow_lock
