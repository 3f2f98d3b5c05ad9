# test_klp_shadow_vars.S - lib/livepatch/test_klp_shadow_vars.c: the shadow variable API exercised from a plain module's init
#
# Every API call goes through a wrapper that prints it with pointers replaced
# by small ids (ptr_id: PTR0 is NULL, then first-seen order), so the log does
# not depend on addresses. Three test objects each get two shadow variables
# (ids 0x1234 and 0x1235) holding a pointer copied by shadow_ctor; the passes
# then look them up, get_or_alloc them again (no ctor), free the 0x1234 ones
# with shadow_dtor and the 0x1235 ones with klp_shadow_free_all. The C test
# keeps its arrays on the init stack; here they are in .bss (only their ids
# are printed). shadow_ptr is { list_head list; void *ptr; int id; }.

MODULE_LICENSE "GPL"
MODULE_DESCRIPTION "Livepatch test: shadow variables"

NUM_OBJS = 3
SV_ID1 = 0x1234
SV_ID2 = 0x1235

.section .text
# ptr_id(ptr) -> its small id, a new one the first time (-ENOMEM without memory)
SYM_FUNC_START_LOCAL ptr_id
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r12, rdi
	lea rcx, [rip + ptr_list]
	mov rax, qword ptr [rcx]
.Lid_loop:
	cmp rax, rcx
	je .Lid_new
	cmp qword ptr [rax + 16], r12
	je .Lid_found
	mov rax, qword ptr [rax]
	jmp .Lid_loop
.Lid_found:
	mov eax, dword ptr [rax + 24]
	jmp .Lid_out
.Lid_new:
	mov edi, 32
	call __kmalloc
	test rax, rax
	jz .Lid_nomem
	mov qword ptr [rax + 16], r12
	mov ecx, dword ptr [rip + ptr_count]
	mov dword ptr [rax + 24], ecx
	inc ecx
	mov dword ptr [rip + ptr_count], ecx
	lea rcx, [rip + ptr_list]
	mov rdx, qword ptr [rcx]
	mov qword ptr [rax], rdx
	mov qword ptr [rax + 8], rcx
	mov qword ptr [rdx + 8], rax
	mov qword ptr [rcx], rax
	mov eax, dword ptr [rax + 24]
	jmp .Lid_out
.Lid_nomem:
	mov eax, -12
.Lid_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END ptr_id

SYM_FUNC_START_LOCAL free_ptr_list
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	lea r12, [rip + ptr_list]
	mov rbx, qword ptr [r12]
.Lfree_loop:
	cmp rbx, r12
	je .Lfree_done
	mov rdi, rbx
	mov rbx, qword ptr [rbx]
	call kfree
	jmp .Lfree_loop
.Lfree_done:
	mov qword ptr [r12], r12
	mov qword ptr [r12 + 8], r12
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END free_ptr_list

# shadow_get(obj, id) -> klp_shadow_get(obj, id), printed
SYM_FUNC_START_LOCAL shadow_get
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov rbx, rdi
	mov r12, rsi
	call klp_shadow_get
	mov r13, rax
	mov rdi, rbx
	call ptr_id
	mov r14d, eax
	mov rdi, r13
	call ptr_id
	mov r8d, eax
	lea rdi, [rip + fmt_get]
	lea rsi, [rip + name_shadow_get]
	mov edx, r14d
	mov rcx, r12
	call _printk
	mov rax, r13
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END shadow_get

# shadow_alloc_common(obj, id, size, gfp_flags, ctor, ctor_data; api, name on the stack):
# calls api with the six arguments and prints the call the way the C wrappers do
SYM_FUNC_START_LOCAL shadow_alloc_common
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 120
	mov qword ptr [rbp - 48], rdi
	mov qword ptr [rbp - 56], rsi
	mov qword ptr [rbp - 64], rdx
	mov qword ptr [rbp - 72], rcx
	mov qword ptr [rbp - 80], r8
	mov qword ptr [rbp - 88], r9
	call qword ptr [rbp + 16]
	mov qword ptr [rbp - 96], rax
	mov rax, qword ptr [rbp + 24]
	mov qword ptr [rbp - 160], rax
	mov rdi, qword ptr [rbp - 48]
	call ptr_id
	mov qword ptr [rbp - 152], rax
	mov rax, qword ptr [rbp - 56]
	mov qword ptr [rbp - 144], rax
	mov rax, qword ptr [rbp - 64]
	mov qword ptr [rbp - 136], rax
	lea rax, [rbp - 72]
	mov qword ptr [rbp - 128], rax
	mov rdi, qword ptr [rbp - 80]
	call ptr_id
	mov qword ptr [rbp - 120], rax
	mov rax, qword ptr [rbp - 88]
	mov rdi, qword ptr [rax]
	call ptr_id
	mov qword ptr [rbp - 112], rax
	mov rdi, qword ptr [rbp - 96]
	call ptr_id
	mov qword ptr [rbp - 104], rax
	lea rdi, [rip + fmt_alloc]
	lea rsi, [rbp - 160]
	call vprintk
	mov rax, qword ptr [rbp - 96]
	add rsp, 120
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END shadow_alloc_common

SYM_FUNC_START_LOCAL shadow_alloc
	push rbp
	mov rbp, rsp
	lea rax, [rip + name_shadow_alloc]
	push rax
	lea rax, [rip + klp_shadow_alloc]
	push rax
	call shadow_alloc_common
	leave
	ret
SYM_FUNC_END shadow_alloc

SYM_FUNC_START_LOCAL shadow_get_or_alloc
	push rbp
	mov rbp, rsp
	lea rax, [rip + name_shadow_get_or_alloc]
	push rax
	lea rax, [rip + klp_shadow_get_or_alloc]
	push rax
	call shadow_alloc_common
	leave
	ret
SYM_FUNC_END shadow_get_or_alloc

# shadow_free(obj, id, dtor)
SYM_FUNC_START_LOCAL shadow_free
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov rbx, rdi
	mov r12, rsi
	mov r13, rdx
	call klp_shadow_free
	mov rdi, rbx
	call ptr_id
	mov r14d, eax
	mov rdi, r13
	call ptr_id
	mov r8d, eax
	lea rdi, [rip + fmt_free]
	lea rsi, [rip + name_shadow_free]
	mov edx, r14d
	mov rcx, r12
	call _printk
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END shadow_free

# shadow_free_all(id, dtor)
SYM_FUNC_START_LOCAL shadow_free_all
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	mov r12, rsi
	call klp_shadow_free_all
	mov rdi, r12
	call ptr_id
	mov ecx, eax
	lea rdi, [rip + fmt_free_all]
	lea rsi, [rip + name_shadow_free_all]
	mov rdx, rbx
	call _printk
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END shadow_free_all

# shadow_ctor(obj, shadow_data, ctor_data): *sv = *var
SYM_FUNC_START_LOCAL shadow_ctor
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov eax, -22
	test rdx, rdx
	jz .Lctor_out
	mov rbx, rsi
	mov rax, qword ptr [rdx]
	mov qword ptr [rbx], rax
	mov rdi, rbx
	call ptr_id
	mov r12d, eax
	mov rdi, qword ptr [rbx]
	call ptr_id
	mov ecx, eax
	lea rdi, [rip + fmt_ctor]
	lea rsi, [rip + name_shadow_ctor]
	mov edx, r12d
	call _printk
	xor eax, eax
.Lctor_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END shadow_ctor

# shadow_dtor(obj, shadow_data)
SYM_FUNC_START_LOCAL shadow_dtor
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rsi
	call ptr_id
	mov r12d, eax
	mov rdi, rbx
	call ptr_id
	mov ecx, eax
	lea rdi, [rip + fmt_dtor]
	lea rsi, [rip + name_shadow_dtor]
	mov edx, r12d
	call _printk
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END shadow_dtor

# got_expected(sv, expected_sv, expected_target): the "got expected PTRa -> PTRb" line when they match
SYM_FUNC_START_LOCAL got_expected
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	cmp rdi, rsi
	jne .Lexp_out
	cmp qword ptr [rsi], rdx
	jne .Lexp_out
	mov rbx, rsi
	mov rdi, rsi
	call ptr_id
	mov r12d, eax
	mov rdi, qword ptr [rbx]
	call ptr_id
	mov edx, eax
	mov esi, r12d
	lea rdi, [rip + fmt_expected]
	call _printk
.Lexp_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END got_expected

# got_null(sv): the "got expected NULL result" line when sv is NULL
SYM_FUNC_START_LOCAL got_null
	push rbp
	mov rbp, rsp
	test rdi, rdi
	jnz .Lnull_out
	lea rdi, [rip + fmt_null]
	call _printk
.Lnull_out:
	pop rbp
	ret
SYM_FUNC_END got_null

# obj_of(i) -> &objs[i] (struct test_object is 32 bytes)
SYM_FUNC_START_LOCAL obj_of
	push rbp
	mov rbp, rsp
	mov rax, rdi
	shl rax, 5
	lea rcx, [rip + objs]
	add rax, rcx
	pop rbp
	ret
SYM_FUNC_END obj_of

SYM_FUNC_START_LOCAL test_klp_shadow_vars_init
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	lea r12, [rip + pnfields1]
	lea r13, [rip + sv1]
	lea r14, [rip + pnfields2]
	lea r15, [rip + sv2]
	xor edi, edi
	call ptr_id
	# With an empty shadow variable table, expect not to find any match.
	xor edi, edi
	call obj_of
	mov rdi, rax
	mov esi, SV_ID1
	call shadow_get
	mov rdi, rax
	call got_null
	# pass 1: init & alloc a char+int pair of shadow variables for each object
	xor ebx, ebx
.Lpass1:
	lea rax, [rip + nfields1]
	add rax, rbx
	mov qword ptr [r12 + rbx * 8], rax
	mov rdi, rax
	call ptr_id
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID1
	mov edx, 8
	mov ecx, GFP_KERNEL
	lea r8, [rip + shadow_ctor]
	lea r9, [r12 + rbx * 8]
	test ebx, 1
	jz .Lpass1_get_or_alloc
	call shadow_alloc
	jmp .Lpass1_sv1
.Lpass1_get_or_alloc:
	call shadow_get_or_alloc
.Lpass1_sv1:
	mov qword ptr [r13 + rbx * 8], rax
	test rax, rax
	jz .Lenomem
	lea rax, [rip + nfields2]
	lea rax, [rax + rbx * 4]
	mov qword ptr [r14 + rbx * 8], rax
	mov rdi, rax
	call ptr_id
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID2
	mov edx, 8
	mov ecx, GFP_KERNEL
	lea r8, [rip + shadow_ctor]
	lea r9, [r14 + rbx * 8]
	call shadow_alloc
	mov qword ptr [r15 + rbx * 8], rax
	test rax, rax
	jz .Lenomem
	inc ebx
	cmp ebx, NUM_OBJS
	jb .Lpass1
	# pass 2: find the allocated shadow variables and what they point to
	xor ebx, ebx
.Lpass2:
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID1
	call shadow_get
	test rax, rax
	jz .Leinval
	mov rdi, rax
	mov rsi, qword ptr [r13 + rbx * 8]
	mov rdx, qword ptr [r12 + rbx * 8]
	call got_expected
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID2
	call shadow_get
	test rax, rax
	jz .Leinval
	mov rdi, rax
	mov rsi, qword ptr [r15 + rbx * 8]
	mov rdx, qword ptr [r14 + rbx * 8]
	call got_expected
	inc ebx
	cmp ebx, NUM_OBJS
	jb .Lpass2
	# pass 3: get_or_alloc returns the shadow variables already allocated
	xor ebx, ebx
.Lpass3:
	lea rax, [rip + nfields1]
	add rax, rbx
	lea rcx, [rip + pndup]
	mov qword ptr [rcx + rbx * 8], rax
	mov rdi, rax
	call ptr_id
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID1
	mov edx, 8
	mov ecx, GFP_KERNEL
	lea r8, [rip + shadow_ctor]
	lea r9, [rip + pndup]
	lea r9, [r9 + rbx * 8]
	call shadow_get_or_alloc
	test rax, rax
	jz .Leinval
	mov rdi, rax
	mov rsi, qword ptr [r13 + rbx * 8]
	mov rdx, qword ptr [r12 + rbx * 8]
	call got_expected
	inc ebx
	cmp ebx, NUM_OBJS
	jb .Lpass3
	# pass 4: free the <objs[i], SV_ID1> variables, check they are gone
	xor ebx, ebx
.Lpass4:
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID1
	lea rdx, [rip + shadow_dtor]
	call shadow_free
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID1
	call shadow_get
	mov rdi, rax
	call got_null
	inc ebx
	cmp ebx, NUM_OBJS
	jb .Lpass4
	# pass 5: the <objs[i], SV_ID2> variables are still there
	xor ebx, ebx
.Lpass5:
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID2
	call shadow_get
	test rax, rax
	jz .Leinval
	mov rdi, rax
	mov rsi, qword ptr [r15 + rbx * 8]
	mov rdx, qword ptr [r14 + rbx * 8]
	call got_expected
	inc ebx
	cmp ebx, NUM_OBJS
	jb .Lpass5
	# pass 6: free all the SV_ID2 variables too
	mov edi, SV_ID2
	xor esi, esi
	call shadow_free_all
	xor ebx, ebx
.Lpass6:
	mov rdi, rbx
	call obj_of
	mov rdi, rax
	mov esi, SV_ID2
	call shadow_get
	mov rdi, rax
	call got_null
	inc ebx
	cmp ebx, NUM_OBJS
	jb .Lpass6
	call free_ptr_list
	xor eax, eax
	jmp .Linit_out
.Lenomem:
	mov ebx, -12
	jmp .Lcleanup
.Leinval:
	mov ebx, -22
.Lcleanup:
	mov edi, SV_ID1
	xor esi, esi
	call shadow_free_all
	mov edi, SV_ID2
	xor esi, esi
	call shadow_free_all
	call free_ptr_list
	movsxd rax, ebx
.Linit_out:
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END test_klp_shadow_vars_init

SYM_FUNC_START_LOCAL test_klp_shadow_vars_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END test_klp_shadow_vars_exit

MODULE_INIT test_klp_shadow_vars_init
MODULE_EXIT test_klp_shadow_vars_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_get
	.asciz "\0016test_klp_shadow_vars: klp_%s(obj=PTR%d, id=0x%lx) = PTR%d"
SYM_DATA_END fmt_get
SYM_DATA_START_LOCAL fmt_alloc
	.asciz "\0016test_klp_shadow_vars: klp_%s(obj=PTR%d, id=0x%lx, size=%zx, gfp_flags=%pGg), ctor=PTR%d, ctor_data=PTR%d = PTR%d"
SYM_DATA_END fmt_alloc
SYM_DATA_START_LOCAL fmt_free
	.asciz "\0016test_klp_shadow_vars: klp_%s(obj=PTR%d, id=0x%lx, dtor=PTR%d)"
SYM_DATA_END fmt_free
SYM_DATA_START_LOCAL fmt_free_all
	.asciz "\0016test_klp_shadow_vars: klp_%s(id=0x%lx, dtor=PTR%d)"
SYM_DATA_END fmt_free_all
SYM_DATA_START_LOCAL fmt_ctor
	.asciz "\0016test_klp_shadow_vars: %s: PTR%d -> PTR%d"
SYM_DATA_END fmt_ctor
SYM_DATA_START_LOCAL fmt_dtor
	.asciz "\0016test_klp_shadow_vars: %s(obj=PTR%d, shadow_data=PTR%d)"
SYM_DATA_END fmt_dtor
SYM_DATA_START_LOCAL fmt_expected
	.asciz "\0016test_klp_shadow_vars:   got expected PTR%d -> PTR%d result"
SYM_DATA_END fmt_expected
SYM_DATA_START_LOCAL fmt_null
	.asciz "\0016test_klp_shadow_vars:   got expected NULL result"
SYM_DATA_END fmt_null
SYM_DATA_START_LOCAL name_shadow_get
	.asciz "shadow_get"
SYM_DATA_END name_shadow_get
SYM_DATA_START_LOCAL name_shadow_alloc
	.asciz "shadow_alloc"
SYM_DATA_END name_shadow_alloc
SYM_DATA_START_LOCAL name_shadow_get_or_alloc
	.asciz "shadow_get_or_alloc"
SYM_DATA_END name_shadow_get_or_alloc
SYM_DATA_START_LOCAL name_shadow_free
	.asciz "shadow_free"
SYM_DATA_END name_shadow_free
SYM_DATA_START_LOCAL name_shadow_free_all
	.asciz "shadow_free_all"
SYM_DATA_END name_shadow_free_all
SYM_DATA_START_LOCAL name_shadow_ctor
	.asciz "shadow_ctor"
SYM_DATA_END name_shadow_ctor
SYM_DATA_START_LOCAL name_shadow_dtor
	.asciz "shadow_dtor"
SYM_DATA_END name_shadow_dtor

.section .data
SYM_DATA_START_LOCAL ptr_list
	.quad ptr_list
	.quad ptr_list
SYM_DATA_END ptr_list
SYM_DATA_START_LOCAL ptr_count
	.long 0
SYM_DATA_END ptr_count

.section .bss
SYM_DATA_START_LOCAL objs
	.zero 32 * NUM_OBJS
SYM_DATA_END objs
SYM_DATA_START_LOCAL nfields1
	.zero 8
SYM_DATA_END nfields1
SYM_DATA_START_LOCAL nfields2
	.zero 4 * NUM_OBJS + 4
SYM_DATA_END nfields2
SYM_DATA_START_LOCAL pnfields1
	.zero 8 * NUM_OBJS
SYM_DATA_END pnfields1
SYM_DATA_START_LOCAL sv1
	.zero 8 * NUM_OBJS
SYM_DATA_END sv1
SYM_DATA_START_LOCAL pndup
	.zero 8 * NUM_OBJS
SYM_DATA_END pndup
SYM_DATA_START_LOCAL pnfields2
	.zero 8 * NUM_OBJS
SYM_DATA_END pnfields2
SYM_DATA_START_LOCAL sv2
	.zero 8 * NUM_OBJS
SYM_DATA_END sv2
