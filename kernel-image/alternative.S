# alternative.S - the guest half of text_poke_bp (arch/x86/kernel/alternative.c)
#
# While the host rewrites a batch of sites, each first byte is int3 and bp_desc
# points at the batch (TEXT_POKE_LOC[], sorted by address). A CPU that hits one
# of those int3s lands in poke_int3_handler, which emulates the instruction
# being installed: a call pushes its return address and jumps, a jmp jumps, a
# nop is skipped. The host publishes bp_desc before the first int3 write and
# clears it only after the final sync (src/ftrace text_poke, its ordering partner).

.section .text

# poke_int3_handler(regs) -> 1 if the int3 was ours and regs now emulate the insn
SYM_FUNC_START_NOTRACE poke_int3_handler
	push rbp
	mov rbp, rsp
	push rbx
	lea rax, [rip + bp_desc]
	mov r8, qword ptr [rax + BP_PATCHING_vec]
	test r8, r8
	jz .Lnot_ours
	mov r9, qword ptr [rax + BP_PATCHING_nr_entries]
	mov r10, qword ptr [rdi + PT_REGS_ip]
	dec r10
	# binary search [lo = 0, hi = nr) for addr == r10
	xor ecx, ecx
.Lsearch:
	cmp rcx, r9
	jae .Lnot_ours
	lea rdx, [rcx + r9]
	shr rdx, 1
	mov rbx, rdx
	shl rbx, 4
	add rbx, r8
	mov rax, qword ptr [rbx + TEXT_POKE_LOC_addr]
	cmp rax, r10
	je .Lfound
	jb .Lgo_up
	mov r9, rdx
	jmp .Lsearch
.Lgo_up:
	lea rcx, [rdx + 1]
	jmp .Lsearch
.Lfound:
	movzx eax, byte ptr [rbx + TEXT_POKE_LOC_len]
	lea rsi, [r10 + rax]
	movsxd rdx, dword ptr [rbx + TEXT_POKE_LOC_disp]
	movzx eax, byte ptr [rbx + TEXT_POKE_LOC_opcode]
	cmp eax, Opcode_CALL
	je .Lcall
	cmp eax, Opcode_JMP32
	je .Ljmp
	cmp eax, Opcode_JMP8
	je .Ljmp
	cmp eax, Opcode_NOP
	jne .Lnot_ours
	# int3_emulate_jmp(regs, ip + len): skip the nop
	mov qword ptr [rdi + PT_REGS_ip], rsi
	jmp .Lours
.Ljmp:
	add rsi, rdx
	mov qword ptr [rdi + PT_REGS_ip], rsi
	jmp .Lours
.Lcall:
	# int3_emulate_call: push the return address on the interrupted stack
	mov rax, qword ptr [rdi + PT_REGS_sp]
	sub rax, 8
	mov qword ptr [rax], rsi
	mov qword ptr [rdi + PT_REGS_sp], rax
	add rsi, rdx
	mov qword ptr [rdi + PT_REGS_ip], rsi
.Lours:
	inc qword ptr [rip + bp_int3_hits]
	mov eax, 1
	pop rbx
	pop rbp
	ret
.Lnot_ours:
	xor eax, eax
	pop rbx
	pop rbp
	ret
SYM_FUNC_END poke_int3_handler

.section .data
SYM_DATA_START bp_desc
	.zero BP_PATCHING_SIZE
SYM_DATA_END bp_desc
SYM_DATA_START bp_int3_hits
	.quad 0
SYM_DATA_END bp_int3_hits
