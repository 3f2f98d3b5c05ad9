# head_64.S - first instructions of every CPU: GDT, IDT, per-CPU base (GS), syscall MSRs
#
# Boot protocol (docs/abi.md): CPU 0 enters startup_64 with RSP = top of
# init_stack and RDI = &boot_params; CPU n enters secondary_startup_64 with
# RDI = n and RSP = its boot stack, and waits for smp_boot_go (set by
# smp_init on CPU 0, the ordering partner of the wait loop below).

MSR_GS_BASE = 0xc0000101
MSR_LSTAR = 0xc0000082
MSR_SYSCALL_MASK = 0xc0000084
X86_EFLAGS_IF_TF_DF = 0x700

.section .text

# load_gdt_cs: lgdt, then a far return to reload CS (iretq needs real selectors).
SYM_CODE_START_LOCAL load_segments
	lea rax, [rip + gdt_descr]
	lgdt [rax]
	pop rax
	push Segment_KERNEL_CS
	push rax
	retfq
SYM_CODE_END load_segments

SYM_CODE_START startup_64
	call load_segments
	mov ax, Segment_KERNEL_DS
	mov ss, ax
	mov ds, ax
	mov es, ax
	# Run as init_task (swapper/0): its pt_regs slot at the stack top, RBP 0,
	# so every call from here leaves the end-of-stack frame at regs - 16.
	lea rsp, [rip + init_stack]
	add rsp, THREAD_SIZE - PT_REGS_SIZE
	xor ebp, ebp
	mov rbx, rdi
	call idt_setup_traps
	xor edi, edi
	call cpu_init
	mov rdi, rbx
	call start_kernel
	mov edi, 0
	mov eax, Hypercall_PANIC
	int 0x82
SYM_CODE_END startup_64

SYM_CODE_START secondary_startup_64
	call load_segments
	mov ax, Segment_KERNEL_DS
	mov ss, ax
	mov ds, ax
	mov es, ax
	mov rbx, rdi
.Lwait_go:
	mov rax, qword ptr [rip + smp_boot_go]
	test rax, rax
	jnz .Lgo
	mov eax, Hypercall_CPU_RELAX
	int 0x82
	jmp .Lwait_go
.Lgo:
	# The boot stack is this CPU's idle task stack (fork_idle on CPU 0 set it up).
	mov rax, rbx
	shl rax, 14
	lea rsp, [rip + secondary_stacks]
	add rsp, rax
	add rsp, THREAD_SIZE - PT_REGS_SIZE
	xor ebp, ebp
	mov rdi, rbx
	call cpu_init
	mov rdi, rbx
	call start_secondary
	mov eax, Hypercall_PANIC
	xor edi, edi
	int 0x82
SYM_CODE_END secondary_startup_64

# cpu_init(cpu): GS_BASE = this CPU's per-CPU area, syscall MSRs, IDT.
SYM_FUNC_START_NOTRACE cpu_init
	push rbp
	mov rbp, rsp
	mov rax, rdi
	shl rax, 12
	lea rdx, [rip + __per_cpu_start]
	add rax, rdx
	mov qword ptr [rax + PERCPU_cpu_number], rdi
	mov qword ptr [rax + PERCPU_this_cpu_off], rax
	mov rdx, rax
	shr rdx, 32
	mov ecx, MSR_GS_BASE
	wrmsr
	lea rax, [rip + entry_SYSCALL_64]
	mov rdx, rax
	shr rdx, 32
	mov ecx, MSR_LSTAR
	wrmsr
	mov eax, X86_EFLAGS_IF_TF_DF
	xor edx, edx
	mov ecx, MSR_SYSCALL_MASK
	wrmsr
	lea rax, [rip + idt_descr]
	lidt [rax]
	pop rbp
	ret
SYM_FUNC_END cpu_init


# set_intr_gate(vector = rdi, handler = rsi): a present 64-bit interrupt gate (type 0xE).
SYM_FUNC_START_NOTRACE set_intr_gate
	push rbp
	mov rbp, rsp
	lea rax, [rip + idt_table]
	shl rdi, 4
	add rdi, rax
	mov word ptr [rdi], si
	mov word ptr [rdi + 2], Segment_KERNEL_CS
	mov word ptr [rdi + 4], 0x8e00
	mov rax, rsi
	shr rax, 16
	mov word ptr [rdi + 6], ax
	shr rax, 16
	mov dword ptr [rdi + 8], eax
	mov dword ptr [rdi + 12], 0
	pop rbp
	ret
SYM_FUNC_END set_intr_gate

# idt_setup_traps: every vector the toy kernel handles; others stay not-present.
SYM_FUNC_START_NOTRACE idt_setup_traps
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	lea rbx, [rip + idt_gates]
.Lnext_gate:
	mov rdi, qword ptr [rbx]
	cmp rdi, -1
	je .Lgates_done
	mov rsi, qword ptr [rbx + 8]
	call set_intr_gate
	add rbx, 16
	jmp .Lnext_gate
.Lgates_done:
	lea rax, [rip + idt_descr]
	lidt [rax]
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END idt_setup_traps

.section .rodata
SYM_DATA_START_LOCAL idt_gates
	.quad Vector_DE, asm_exc_divide_error
	.quad Vector_BP, asm_exc_int3
	.quad Vector_UD, asm_exc_invalid_op
	.quad Vector_DF, asm_exc_double_fault
	.quad Vector_GP, asm_exc_general_protection
	.quad Vector_PF, asm_exc_page_fault
	.quad 0x0f, asm_exc_spurious
	.quad Vector_LOCAL_TIMER, asm_sysvec_apic_timer_interrupt
	.quad Vector_RESCHEDULE, asm_sysvec_reschedule_ipi
	.quad -1, 0
SYM_DATA_END idt_gates

SYM_DATA_START_LOCAL gdt_descr
	.word 63
	.quad gdt_page
SYM_DATA_END gdt_descr

SYM_DATA_START_LOCAL idt_descr
	.word 4095
	.quad idt_table
SYM_DATA_END idt_descr

# The GDT lives in writable data (the CPU sets descriptors' accessed bit on a
# segment load; they are pre-set here, 0x9b/0x93, so no load writes at all).
.section .data
SYM_DATA_START gdt_page
	.quad 0, 0, 0x00af9b000000ffff, 0x00cf93000000ffff
	.quad 0, 0x00cff3000000ffff, 0x00affb000000ffff, 0
SYM_DATA_END gdt_page

.section .bss
SYM_DATA_START idt_table
	.zero 4096
SYM_DATA_END idt_table

.balign THREAD_SIZE, 0
SYM_DATA_START init_stack
	.zero THREAD_SIZE
SYM_DATA_END init_stack

.balign THREAD_SIZE, 0
SYM_DATA_START secondary_stacks
	.zero THREAD_SIZE * NR_CPUS
SYM_DATA_END secondary_stacks

SYM_DATA_START __per_cpu_start
	.zero PERCPU_SIZE * NR_CPUS
SYM_DATA_END __per_cpu_start

SYM_DATA_START smp_boot_go
	.zero 8
SYM_DATA_END smp_boot_go
