# kobject.S - lib/kobject.c and fs/sysfs/file.c: kobjects as sysfs directories, attributes as files
#
# The structures are the kernel's (KOBJECT, KOBJ_ATTRIBUTE in layout.ts) and
# live in guest memory; sysfs itself is host-served (src/kernel/kobject.ts):
# kobject_add, kobject_del and sysfs_create_file are hypercalls that create or
# remove the directory and files. Reading a file calls the attribute's show
# (kobj, attr, buf) as guest code, writing it calls store(kobj, attr, buf, count).
# kernel_kobj is /sys/kernel (a static kobject named "kernel", no parent).

.section .text

# kstrdup(s) -> a kmalloc'ed copy of s, or NULL
SYM_FUNC_START kstrdup
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	call strlen
	lea r12, [rax + 1]
	mov rdi, r12
	call __kmalloc
	test rax, rax
	jz .Lkstrdup_out
	mov rdi, rax
	mov rsi, rbx
	mov rdx, r12
	call memcpy
.Lkstrdup_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kstrdup
EXPORT_SYMBOL kstrdup

# kobject_create_and_add(name, parent) -> kobject with one reference, or NULL
SYM_FUNC_START kobject_create_and_add
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov r12, rdi
	mov r13, rsi
	mov edi, KOBJECT_SIZE
	call kzalloc
	test rax, rax
	jz .Lkca_out
	mov rbx, rax
	mov rdi, r12
	call kstrdup
	test rax, rax
	jz .Lkca_free
	mov qword ptr [rbx + KOBJECT_name], rax
	mov qword ptr [rbx + KOBJECT_parent], r13
	mov dword ptr [rbx + KOBJECT_kref], 1
	mov rdi, rbx
	HYPERCALL Hypercall_KOBJECT_ADD
	test rax, rax
	jnz .Lkca_error
	mov dword ptr [rbx + KOBJECT_state_in_sysfs], 1
	mov rax, rbx
	jmp .Lkca_out
.Lkca_error:
	mov r14, rax
	lea rdi, [rip + fmt_kobject_add_error]
	lea rsi, [rip + name_kobject_create_and_add]
	mov edx, r14d
	call _printk
	mov rdi, qword ptr [rbx + KOBJECT_name]
	call kfree
.Lkca_free:
	mov rdi, rbx
	call kfree
	xor eax, eax
.Lkca_out:
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kobject_create_and_add
EXPORT_SYMBOL kobject_create_and_add

# kobject_get(kobj) -> kobj with one more reference
SYM_FUNC_START kobject_get
	push rbp
	mov rbp, rsp
	test rdi, rdi
	jz .Lkget_out
	lock inc dword ptr [rdi + KOBJECT_kref]
.Lkget_out:
	mov rax, rdi
	pop rbp
	ret
SYM_FUNC_END kobject_get
EXPORT_SYMBOL kobject_get

# kobject_put(kobj): drop a reference; the last one removes it from sysfs
# (kobject_del) and frees it (kobject_cleanup, the dynamic ktype's release).
SYM_FUNC_START kobject_put
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	test rdi, rdi
	jz .Lkput_out
	mov rbx, rdi
	lock dec dword ptr [rbx + KOBJECT_kref]
	jnz .Lkput_out
	cmp dword ptr [rbx + KOBJECT_state_in_sysfs], 0
	je .Lkput_free
	mov rdi, rbx
	HYPERCALL Hypercall_KOBJECT_DEL
	mov dword ptr [rbx + KOBJECT_state_in_sysfs], 0
.Lkput_free:
	mov rdi, qword ptr [rbx + KOBJECT_name]
	call kfree
	mov rdi, rbx
	call kfree
.Lkput_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kobject_put
EXPORT_SYMBOL kobject_put

# sysfs_create_file(kobj, attr) -> 0 or -errno
SYM_FUNC_START sysfs_create_file
	push rbp
	mov rbp, rsp
	mov eax, -22
	test rdi, rdi
	jz .Lscf_out
	test rsi, rsi
	jz .Lscf_out
	HYPERCALL Hypercall_SYSFS_CREATE_FILE
.Lscf_out:
	pop rbp
	ret
SYM_FUNC_END sysfs_create_file
EXPORT_SYMBOL sysfs_create_file

# sysfs_remove_file(kobj, attr)
SYM_FUNC_START sysfs_remove_file
	push rbp
	mov rbp, rsp
	HYPERCALL Hypercall_SYSFS_REMOVE_FILE
	pop rbp
	ret
SYM_FUNC_END sysfs_remove_file
EXPORT_SYMBOL sysfs_remove_file

.section .rodata
SYM_DATA_START_LOCAL fmt_kobject_add_error
	.asciz "\0014%s: kobject_add error: %d"
SYM_DATA_END fmt_kobject_add_error
SYM_DATA_START_LOCAL name_kobject_create_and_add
	.asciz "kobject_create_and_add"
SYM_DATA_END name_kobject_create_and_add
SYM_DATA_START_LOCAL name_kernel
	.asciz "kernel"
SYM_DATA_END name_kernel

.section .data
.balign 8
SYM_DATA_START_LOCAL kernel_kobject
	.quad name_kernel
	.quad 0
	.long 1
	.long 1
	.zero KOBJECT_SIZE - 24
SYM_DATA_END kernel_kobject
SYM_DATA_START kernel_kobj
	.quad kernel_kobject
SYM_DATA_END kernel_kobj
EXPORT_SYMBOL kernel_kobj
