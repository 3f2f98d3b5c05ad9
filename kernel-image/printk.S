# printk.S - kernel/printk/printk.c: records with a timestamp and level into __log_buf
#
# The record format is LOG in src/abi/layout.ts (u64 ts_nsec, u16 text_len,
# u8 level, pad to 16, text padded to 8); dmesg on the host reads it
# (src/kernel/printk.ts). logbuf_lock is the partner of the host's check
# before it appends its own records (LogBuffer.printk defers while held).

KERN_SOH = 1
DEFAULT_MESSAGE_LOGLEVEL = 4
CONSOLE_LOGLEVEL_DEFAULT = 7
LOG_LINE_MAX = 1024

.section .text

# vprintk(fmt, args) -> bytes stored
SYM_FUNC_START vprintk
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	sub rsp, LOG_LINE_MAX
	mov r12d, DEFAULT_MESSAGE_LOGLEVEL
	cmp byte ptr [rdi], KERN_SOH
	jne .Lno_level
	movzx eax, byte ptr [rdi + 1]
	sub eax, '0'
	cmp eax, 7
	ja .Lno_level
	mov r12d, eax
	add rdi, 2
.Lno_level:
	mov rdx, rdi
	mov rcx, rsi
	mov rdi, rsp
	mov esi, LOG_LINE_MAX
	call vsnprintf
	cmp rax, LOG_LINE_MAX - 1
	jb .Lfits
	mov eax, LOG_LINE_MAX - 1
.Lfits:
	mov rbx, rax
	# A record holds one message without its final newline.
	test rbx, rbx
	jz .Lstore
	cmp byte ptr [rsp + rbx - 1], 10
	jne .Lstore
	dec rbx
.Lstore:
	lea rdi, [rip + logbuf_lock]
	call raw_spin_lock_irqsave
	mov r14, rax
	mov r13, qword ptr [rip + log_next_idx]
	lea rcx, [rbx + LOG_REC_HEADER + 7]
	and rcx, -8
	lea rax, [r13 + rcx]
	cmp rax, LOG_BUF_LEN
	ja .Lfull
	mov qword ptr [rip + log_next_idx], rax
	lea rdi, [rip + __log_buf]
	add rdi, r13
	call local_clock
	mov qword ptr [rdi + LOG_REC_ts_nsec], rax
	mov word ptr [rdi + LOG_REC_text_len], bx
	mov byte ptr [rdi + LOG_REC_level], r12b
	mov byte ptr [rdi + LOG_REC_level + 1], 0
	mov dword ptr [rdi + LOG_REC_level + 2], 0
	add rdi, LOG_REC_HEADER
	mov rsi, rsp
	mov rdx, rbx
	call memcpy
.Lfull:
	lea rdi, [rip + logbuf_lock]
	mov rsi, r14
	call raw_spin_unlock_irqrestore
	mov rax, rbx
	add rsp, LOG_LINE_MAX
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END vprintk
EXPORT_SYMBOL vprintk

# _printk(fmt, a0..a4): the register arguments become the argument array.
SYM_FUNC_START _printk
	push rbp
	mov rbp, rsp
	push r9
	push r8
	push rcx
	push rdx
	push rsi
	mov rsi, rsp
	call vprintk
	add rsp, 40
	pop rbp
	ret
SYM_FUNC_END _printk
EXPORT_SYMBOL _printk

.section .data
# console_loglevel (console_printk[0]): the level below which messages would
# reach the console. The console here is the host's dmesg, which shows every
# record, so nothing reads it but code that saves and changes it (the
# test_klp_state modules, like the kernel's).
SYM_DATA_START console_loglevel
	.long CONSOLE_LOGLEVEL_DEFAULT
SYM_DATA_END console_loglevel
EXPORT_SYMBOL console_loglevel

SYM_DATA_START logbuf_lock
	.quad 0
SYM_DATA_END logbuf_lock

SYM_DATA_START log_next_idx
	.quad 0
SYM_DATA_END log_next_idx

.section .bss
SYM_DATA_START __log_buf
	.zero LOG_BUF_LEN
SYM_DATA_END __log_buf
