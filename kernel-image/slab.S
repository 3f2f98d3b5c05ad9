# slab.S - mm/slab.c for a toy: power-of-two caches over a bump allocator on the direct map
#
# Every object has a 16-byte header (its cache index) so kfree knows its size.
# Task stacks come from alloc_thread_stack_node (THREAD_SIZE aligned). The heap
# is boot_params.heap_base .. +heap_size, set up by mm_init.

KMALLOC_MIN_SHIFT = 5
KMALLOC_CACHES = 8
KMALLOC_HDR = 16

.section .text

SYM_FUNC_START_NOTRACE mm_init
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rdi + BOOT_PARAMS_heap_base]
	mov qword ptr [rip + heap_next], rax
	add rax, qword ptr [rdi + BOOT_PARAMS_heap_size]
	mov qword ptr [rip + heap_end], rax
	pop rbp
	ret
SYM_FUNC_END mm_init

# heap_alloc(size, align) -> address or 0; slab_lock held
SYM_FUNC_START_LOCAL_NOTRACE heap_alloc
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rip + heap_next]
	lea rcx, [rsi - 1]
	add rax, rcx
	not rcx
	and rax, rcx
	lea rdx, [rax + rdi]
	cmp rdx, qword ptr [rip + heap_end]
	ja .Loom
	mov qword ptr [rip + heap_next], rdx
	pop rbp
	ret
.Loom:
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END heap_alloc

# kmalloc(size) -> object or NULL (sizes up to 4096 - 16)
SYM_FUNC_START __kmalloc
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	add rdi, KMALLOC_HDR
	xor ebx, ebx
	mov ecx, 32                 # 1 << KMALLOC_MIN_SHIFT (keystone mis-parses <<)
.Lclass:
	cmp rdi, rcx
	jbe .Lhave_class
	shl rcx, 1
	inc ebx
	cmp ebx, KMALLOC_CACHES
	jb .Lclass
	xor eax, eax
	jmp .Lout
.Lhave_class:
	mov r12, rcx
	lea rdi, [rip + slab_lock]
	call raw_spin_lock_irqsave
	mov r13, rax
	lea rcx, [rip + kmalloc_caches]
	mov rax, qword ptr [rcx + rbx * 8]
	test rax, rax
	jz .Lfresh
	mov rdx, qword ptr [rax]
	mov qword ptr [rcx + rbx * 8], rdx
	jmp .Lgot
.Lfresh:
	mov rdi, r12
	mov esi, KMALLOC_HDR
	call heap_alloc
	test rax, rax
	jz .Lunlock
.Lgot:
	mov qword ptr [rax], rbx
	add rax, KMALLOC_HDR
.Lunlock:
	mov r12, rax
	lea rdi, [rip + slab_lock]
	mov rsi, r13
	call raw_spin_unlock_irqrestore
	mov rax, r12
.Lout:
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END __kmalloc
EXPORT_SYMBOL __kmalloc

# kzalloc(size) -> zeroed object
SYM_FUNC_START kzalloc
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov r12, rdi
	call __kmalloc
	mov rbx, rax
	test rax, rax
	jz .Lkz_out
	mov rdi, rax
	xor esi, esi
	mov rdx, r12
	call memset
.Lkz_out:
	mov rax, rbx
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kzalloc
EXPORT_SYMBOL kzalloc

# kfree(obj): back on its cache's free list
SYM_FUNC_START kfree
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	test rdi, rdi
	jz .Lkf_out
	lea rbx, [rdi - KMALLOC_HDR]
	lea rdi, [rip + slab_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	mov rcx, qword ptr [rbx]
	lea rdx, [rip + kmalloc_caches]
	mov rax, qword ptr [rdx + rcx * 8]
	mov qword ptr [rbx], rax
	mov qword ptr [rdx + rcx * 8], rbx
	lea rdi, [rip + slab_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
.Lkf_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END kfree
EXPORT_SYMBOL kfree

# alloc_thread_stack_node() -> a zeroed THREAD_SIZE-aligned stack
SYM_FUNC_START_NOTRACE alloc_thread_stack_node
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	lea rdi, [rip + slab_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	mov edi, THREAD_SIZE
	mov esi, THREAD_SIZE
	call heap_alloc
	mov rbx, rax
	lea rdi, [rip + slab_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	test rbx, rbx
	jz .Lst_out
	mov rdi, rbx
	xor esi, esi
	mov edx, THREAD_SIZE
	call memset
.Lst_out:
	mov rax, rbx
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END alloc_thread_stack_node

.section .data
SYM_DATA_START_LOCAL slab_lock
	.quad 0
SYM_DATA_END slab_lock

.section .bss
SYM_DATA_START heap_next
	.zero 8
SYM_DATA_END heap_next
SYM_DATA_START heap_end
	.zero 8
SYM_DATA_END heap_end
SYM_DATA_START_LOCAL kmalloc_caches
	.zero 8 * KMALLOC_CACHES
SYM_DATA_END kmalloc_caches
