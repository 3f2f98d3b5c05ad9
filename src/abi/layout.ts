// layout.ts - the one definition of the guest ABI: memory map, struct offsets, flags, hypercalls
//
// Host code reads and writes guest structures only through these constants, and
// tools/build-kernel prepends every numeric constant below to the kernel's
// assembly as an equate (`TASK_patch_state = 0xc`), so guest and host cannot
// drift apart. docs/abi.md explains each block.

/** Guest virtual memory map (no paging: guest virtual == emulator address). */
export const MemoryMap = {
  /** `.usertext`/`.userdata` of vmlinux and user stacks: the "user mode" of the toy machine. */
  USER_BASE: 0x0000_0000_0040_0000n,
  USER_SIZE: 0x0100_0000n,
  /** User stacks are carved from here by the guest, USER_STACK_SIZE each. */
  USER_STACKS: 0x0000_0000_0080_0000n,
  USER_STACK_SIZE: 0x4000n,
  /** Kernel image: .text (RX), then .rodata + __mcount_loc (R), then .data + .bss (RW). */
  KERNEL_TEXT: 0xffff_ffff_8100_0000n,
  /** Module area: module sections and ftrace trampolines, allocated by the host. */
  MODULES_VADDR: 0xffff_ffff_a000_0000n,
  MODULES_SIZE: 0x0400_0000n,
  /** Direct map: the guest heap (task structs, stacks, kmalloc), managed by the guest. */
  DIRECT_MAP: 0xffff_8880_0000_0000n,
  DEFAULT_HEAP_SIZE: 0x0400_0000n,
  /** vmalloc area: data the host allocates for the guest (klp_ops, ftrace ops records). */
  VMALLOC_START: 0xffff_c900_0000_0000n,
  VMALLOC_SIZE: 0x0100_0000n,
} as const;

export const PAGE_SIZE = 0x1000;
export const NR_CPUS = 8;
/** Kernel stacks: 16 KiB, THREAD_SIZE-aligned, a pt_regs at the top. */
export const THREAD_SIZE = 0x4000;

/**
 * Virtual time. Guest time advances by NS_PER_EVENT for every guest event a
 * vCPU takes (syscall, hypercall, exception, interrupt; a slice with none
 * counts one), so a second of guest time is 100,000 events and the livepatch
 * transition's one-second retry stays cheap to emulate. Unicorn cannot count
 * instructions cheaply (its count hook costs ~0.2 ms per event), so time is
 * counted in events; exact instruction counts are an opt-in (countInstructions).
 */
export const Clock = {
  NS_PER_EVENT: 10_000,
  HZ: 100,
  /** Guest ns between two timer interrupts on one vCPU (1e9 / HZ). */
  TICK_NS: 10_000_000,
} as const;

/** thread_info.flags bits, numbered as arch/x86/include/asm/thread_info.h. */
export const TIF = {
  NOTIFY_RESUME: 1,
  SIGPENDING: 2,
  NEED_RESCHED: 3,
  PATCH_PENDING: 13,
} as const;

/** task->__state values (include/linux/sched.h). */
export const TaskState = {
  RUNNING: 0,
  INTERRUPTIBLE: 1,
  UNINTERRUPTIBLE: 2,
  DEAD: 0x80,
} as const;

/** task->flags bits (PF_*). */
export const PF = {
  IDLE: 0x0000_0002,
  EXITING: 0x0000_0004,
  KTHREAD: 0x0020_0000,
} as const;

/** Livepatch per-task states (kernel/livepatch/core.h). */
export const KlpState = { UNDEFINED: -1, UNPATCHED: 0, PATCHED: 1 } as const;

/** struct task_struct (guest). thread_info is first, as with THREAD_INFO_IN_TASK. */
export const TASK = {
  flags: 0x000, // u64 thread_info.flags
  __state: 0x008, // u32
  patch_state: 0x00c, // i32
  pid: 0x010, // i32
  cpu: 0x014, // u32 CPU it runs or last ran on
  on_cpu: 0x018, // u32 1 while it is some CPU's current
  pf_flags: 0x01c, // u32 PF_*
  thread_sp: 0x020, // u64 saved RSP while switched out (see __switch_to_asm)
  stack: 0x028, // u64 lowest address of the THREAD_SIZE stack
  run_list: 0x030, // list_head on a CPU run queue (next, prev)
  tasks: 0x040, // list_head on the global task list (head: init_task.tasks)
  comm: 0x050, // char[16]
  wake_time: 0x060, // u64 jiffies at which a sleeping task is due
  wait_entry: 0x068, // list_head on a wait queue or the sleep list
  entry: 0x078, // u64 kthread function or user entry point
  arg: 0x080, // u64 its argument
  exit_code: 0x088, // u64
  pending_signals: 0x090, // u64 signal bitmask (bit n-1 for signal n)
  user_sp: 0x098, // u64 initial user stack pointer (user tasks)
  switch_count: 0x0a0, // u64 context switches, for tests
  on_rq: 0x0a8, // u32 1 while queued on its CPU's run queue
  wq_entry: 0x0b0, // list_head on a wait_queue_head (prepare_to_wait)
  fs_pwd: 0x0c0, // u64 reserved
  vfork_done: 0x0c8, // u64 struct completion * of a vfork parent waiting for this child's exec or exit
  SIZE: 0x100,
} as const;
export const TASK_COMM_LEN = 16;

/** struct pt_regs, x86-64 layout (arch/x86/include/asm/ptrace.h). */
export const PT_REGS = {
  r15: 0, r14: 8, r13: 16, r12: 24, rbp: 32, rbx: 40, r11: 48, r10: 56, r9: 64, r8: 72,
  rax: 80, rcx: 88, rdx: 96, rsi: 104, rdi: 112, orig_ax: 120,
  ip: 128, cs: 136, flags: 144, sp: 152, ss: 160,
  SIZE: 168,
} as const;

/** Per-CPU area, one PERCPU_SIZE block per CPU at __per_cpu_start; GS_BASE points at it. */
export const PERCPU = {
  current_task: 0x00, // task_struct *
  cpu_number: 0x08, // u64
  top_of_stack: 0x10, // u64 top of current's kernel stack (syscall entry switches to it)
  user_rsp_scratch: 0x18, // u64 user RSP saved by entry_SYSCALL_64
  idle_task: 0x20, // task_struct *
  runqueue: 0x28, // list_head of runnable tasks (next, prev)
  nr_running: 0x38, // u64
  rq_lock: 0x40, // u64 spinlock
  preempt_count: 0x48, // u64
  irq_count: 0x50, // u64 nesting depth of interrupts/exceptions in the kernel
  clock_ns: 0x58, // u64 guest time in ns, written by the host at each slice start
  ticks: 0x60, // u64 timer interrupts taken on this CPU
  online: 0x68, // u64 1 once the CPU runs its idle loop
  this_cpu_off: 0x70, // u64 the area's own address (this_cpu_ptr without a GS read per field)
  SIZE: 0x1000,
} as const;

/** boot_params (guest symbol `boot_params`), filled by the host before the first instruction. */
export const BOOT_PARAMS = {
  nr_cpus: 0x00, // u32
  seed: 0x04, // u32
  heap_base: 0x08, // u64
  heap_size: 0x10, // u64
  nr_sleepers: 0x18, // u32 extra sleeping kthreads (benchmarks)
  nr_user_tasks: 0x1c, // u32 getpid/cat loopers to start
  cmdline: 0x20, // char[256]
  SIZE: 0x120,
} as const;
export const CMDLINE_LEN = 256;

/** IDT vectors (arch/x86/include/asm/irq_vectors.h, trapnr.h). */
export const Vector = {
  DE: 0, DB: 1, NMI: 2, BP: 3, OF: 4, BR: 5, UD: 6, NM: 7, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13, PF: 14,
  LOCAL_TIMER: 0xec,
  CALL_FUNCTION: 0xfb,
  RESCHEDULE: 0xfd,
} as const;
/** Vectors for which the CPU pushes an error code. */
export const VECTORS_WITH_ERROR_CODE: ReadonlySet<number> = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/** Segment selectors of the guest GDT (arch/x86/include/asm/segment.h). */
export const Segment = { KERNEL_CS: 0x10, KERNEL_DS: 0x18, USER_DS: 0x2b, USER_CS: 0x33 } as const;

/**
 * Hypercalls: the guest executes `int 0x82` (bytes cd 82) with the number in
 * RAX and arguments in RDI, RSI, RDX, R10, R8, R9; the result comes back in RAX.
 * The host handles it synchronously in the interrupt hook, which (unlike an
 * OUT hook) sees the precise RIP, so a hypercall can end the vCPU's slice
 * (CPU_RELAX) and resume exactly after it. The vector is never delivered
 * through the IDT. Ranges: 0x00-0x0f machine, 0x10-0x1f ftrace,
 * 0x20-0x2f module/livepatch, 0x30-0x3f debugger and tests.
 */
export const HYPERCALL_VECTOR = 0x82;
export const Hypercall = {
  PANIC: 0x01, // (msg) guest panic: stop the machine with the message
  SEND_IPI: 0x02, // (cpu, vector) raise an interrupt on another vCPU
  CPU_RELAX: 0x03, // () end this vCPU's slice now (spin-wait loops)
  BOOT_DONE: 0x04, // () init has started every task; boot is complete
  CONSOLE_WRITE: 0x05, // (buf, len) bytes written to the console (tty)
  TASK_DEAD: 0x06, // (task) a task exited (its stack is no longer live)
  OOPS: 0x07, // (vector, pt_regs*) unhandled exception: the guest oopses
  HOST_CALL_WAIT: 0x08, // () → 1: a host call (module init/exit run by insmod/rmmod) let the machine run a tick; 0: the caller is a task and sleeps itself
  KOBJECT_ADD: 0x09, // (kobject*) → 0 or -errno: its sysfs directory (kobject_add)
  KOBJECT_DEL: 0x0a, // (kobject*) its sysfs directory and attributes go (kobject_del)
  SYSFS_CREATE_FILE: 0x0b, // (kobject*, attribute*) → 0 or -errno: a file whose show/store are guest code
  SYSFS_REMOVE_FILE: 0x0c, // (kobject*, attribute*)
  KLP_ENABLE_PATCH: 0x20, // (klp_patch*) → 0 or -errno: klp_enable_patch() from a module's init
} as const;

/** Taint bits of tainted_mask (include/linux/panic.h); FLAGS_COUNT columns in print_tainted. */
export const Taint = { DIE: 7, OOT_MODULE: 12, LIVEPATCH: 15, FLAGS_COUNT: 19 } as const;

/** Linux x86-64 syscall numbers served by the toy kernel, plus the shell's own. */
export const Syscall = {
  read: 0, write: 1, open: 2, close: 3, sched_yield: 24, nanosleep: 35, getpid: 39, vfork: 58, execve: 59, exit: 60, kill: 62,
  init_module: 175, delete_module: 176,
  /** klpemu: the shell task waits here for the host's next command (see SHELL_MAILBOX). */
  klpsh_wait: 500,
  klpsh_done: 501,
} as const;

/**
 * shell_mailbox (guest symbol): how the host asks the guest shell task ("klpsh")
 * to run a command as a real task, e.g. read a procfs file through syscalls.
 */
export const SHELL_MAILBOX = {
  seq: 0x00, // u64 the host bumps it to post a command
  done_seq: 0x08, // u64 the task sets it to seq when done
  cmd: 0x10, // u32 ShellCmd
  arg1: 0x14, // u32 (e.g. the signal of KILL)
  status: 0x18, // i64 result (bytes or -errno)
  arg0: 0x20, // u64 (e.g. module init address)
  path: 0x28, // char[256]
  out_len: 0x128, // u64
  out: 0x130, // char[SHELL_OUT_SIZE]
  SIZE: 0x130 + 0x2000,
} as const;
export const SHELL_OUT_SIZE = 0x2000;
/** CAT path → bytes; SPAWN path → vfork + execve(path) in the background, the child's pid; KILL arg0 = pid, arg1 = signal. */
export const ShellCmd = { NONE: 0, CAT: 1, CALL: 2, SPAWN: 3, KILL: 4 } as const;

/** printk log buffer (guest symbols `__log_buf`, `log_next_idx`, `logbuf_lock`). */
export const LOG = {
  BUF_LEN: 0x20000,
  /** record header: u64 ts_nsec, u16 text_len, u8 level, u8 pad, u32 reserved, then text, padded to 8 */
  REC_ts_nsec: 0, REC_text_len: 8, REC_level: 10, REC_HEADER: 16,
} as const;

/** The 5-byte ftrace entry nop (x86_nops[5]): `nopl 0x0(%rax,%rax,1)`. */
export const FTRACE_NOP = Uint8Array.of(0x0f, 0x1f, 0x44, 0x00, 0x00);
export const MCOUNT_INSN_SIZE = 5;

/**
 * struct ftrace_ops as the guest sees it (the host allocates it in the vmalloc
 * area). The guest's ftrace_ops_list_func walks `ftrace_ops_list` (a global
 * pointer) through `next` and calls `func(ip, parent_ip, ops, regs)` for every
 * ops whose filter matches: `filter` points at `filter_count` sorted u64 ips;
 * filter_count 0 means every function. `notrace`/`notrace_count` likewise,
 * excluded ips.
 */
export const FTRACE_OPS = {
  func: 0x00, // u64 handler address (guest code)
  next: 0x08, // u64 next registered ops, or 0 (ftrace_list_end)
  flags: 0x10, // u64 FTRACE_OPS_FL_*
  private: 0x18, // u64 owner data
  filter: 0x20, // u64 address of sorted u64 ips
  filter_count: 0x28, // u64
  notrace: 0x30, // u64 address of sorted u64 ips
  notrace_count: 0x38, // u64
  trampoline: 0x40, // u64 its dynamic trampoline, or 0
  SIZE: 0x50,
} as const;

/** FTRACE_OPS_FL_* (include/linux/ftrace.h). */
export const FTRACE_OPS_FL = {
  ENABLED: 1 << 0,
  DYNAMIC: 1 << 1,
  SAVE_REGS: 1 << 2,
  SAVE_REGS_IF_SUPPORTED: 1 << 3,
  RECURSION: 1 << 4,
  STUB: 1 << 5,
  INITIALIZED: 1 << 6,
  DELETED: 1 << 7,
  ADDING: 1 << 8,
  REMOVING: 1 << 9,
  MODIFYING: 1 << 10,
  ALLOC_TRAMP: 1 << 11,
  IPMODIFY: 1 << 12,
  PID: 1 << 13,
  RCU: 1 << 14,
  TRACE_ARRAY: 1 << 15,
  PERMANENT: 1 << 16,
  DIRECT: 1 << 17,
} as const;

/**
 * Livepatch structures in a livepatch module's data (the module builder emits
 * them; the host reads them; the guest handler reads klp_func). External
 * fields first, then the internal ones the core fills in, as livepatch.h.
 * Arrays end with an all-zero entry (objs: name and funcs both 0; funcs:
 * old_name, new_func and old_sympos all 0). An object's name 0 means vmlinux.
 */
export const KLP_PATCH = {
  mod: 0x00, // u64 struct module * (filled by the loader: the module's base address)
  objs: 0x08, // u64 klp_object[]
  states: 0x10, // u64 klp_state[] or 0
  replace: 0x18, // u8
  enabled: 0x19, // u8 internal
  forced: 0x1a, // u8 internal
  list: 0x20, // list_head internal: on the guest's klp_patches (next, prev), walked by klp_get_prev_state
  SIZE: 0x30,
} as const;

/**
 * struct klp_state (include/linux/livepatch.h): a system state a patch
 * modifies; `states` of KLP_PATCH points at an array that ends with id 0.
 * Guest code (the callbacks) finds it with klp_get_state/klp_get_prev_state
 * and keeps its own pointer in `data`.
 */
export const KLP_STATE = {
  id: 0x00, // u64
  version: 0x08, // u32
  data: 0x10, // u64 void*, owned by the patch's callbacks
  SIZE: 0x18,
} as const;

export const KLP_OBJECT = {
  name: 0x00, // u64 char* (0 = vmlinux)
  funcs: 0x08, // u64 klp_func[]
  pre_patch: 0x10, // u64 callbacks (guest functions) or 0
  post_patch: 0x18,
  pre_unpatch: 0x20,
  post_unpatch: 0x28,
  patched: 0x30, // u8 internal
  mod: 0x38, // u64 internal: the object's struct module (MODULE) while it is loaded, else 0
  SIZE: 0x40,
} as const;

/**
 * The guest's view of a loaded module (struct module's name and state), in
 * the vmalloc area; klp_object.mod points at it so guest callbacks can print
 * `obj->mod->name` and the module state as the kernel's test modules do.
 */
export const MODULE = {
  state: 0x00, // u32 ModuleState
  name: 0x08, // char[56] (MODULE_NAME_LEN)
  SIZE: 0x40,
} as const;
export const MODULE_NAME_LEN = 56;

/**
 * struct kernel_param and struct kparam_array (include/linux/moduleparam.h)
 * of a module_param_array(): the builder emits `__param_<name>` and
 * `__param_arr_<name>` in the module's .data, as the C macros do.
 */
export const KERNEL_PARAM = {
  name: 0x00, // u64 char*
  mod: 0x08, // u64 struct module * (unused)
  ops: 0x10, // u64 kernel_param_ops * (0: the host's param_array_ops)
  perm: 0x18, // u16 sysfs mode (0: no file under /sys/module/M/parameters)
  level: 0x1a, // s8
  flags: 0x1b, // u8
  arr: 0x20, // u64 struct kparam_array *
  SIZE: 0x28,
} as const;

export const KPARAM_ARRAY = {
  max: 0x00, // u32 ARRAY_SIZE(array)
  elemsize: 0x04, // u32
  num: 0x08, // u64 unsigned int *: how many values were given
  ops: 0x10, // u64 element ops (0: by type)
  elem: 0x18, // u64 the array
  SIZE: 0x20,
} as const;

/** struct kobject (include/linux/kobject.h), the fields the toy uses; sysfs path = parent's path + '/' + name, /sys for none. */
export const KOBJECT = {
  name: 0x00, // u64 char* (kstrdup'ed by kobject_create_and_add)
  parent: 0x08, // u64 struct kobject * or 0
  kref: 0x10, // u32 reference count
  state_in_sysfs: 0x14, // u32
  SIZE: 0x40,
} as const;

/** struct kobj_attribute: struct attribute { name, mode } then show(kobj, attr, buf), store(kobj, attr, buf, count). */
export const KOBJ_ATTRIBUTE = {
  name: 0x00, // u64 char*
  mode: 0x08, // u16 umode_t
  show: 0x10, // u64 guest function or 0
  store: 0x18, // u64 guest function or 0
  SIZE: 0x20,
} as const;

/** enum module_state (include/linux/module.h). */
export const ModuleState = { LIVE: 0, COMING: 1, GOING: 2, UNFORMED: 3 } as const;

/**
 * struct klp_shadow (kernel/livepatch/shadow.c): one shadow variable, a
 * kmalloc'ed header followed by `size` bytes of data; klp_shadow_get returns
 * the address of `data`. They hang on the guest list `klp_shadow_list`
 * (kernel-image/livepatch_shadow.S) under `klp_shadow_lock`.
 */
export const KLP_SHADOW = {
  node: 0x00, // list_head on klp_shadow_list (next, prev)
  obj: 0x10, // u64 the object it is attached to
  id: 0x18, // u64
  data: 0x20, // u8[] the variable
  SIZE: 0x20,
} as const;

/**
 * gfp_t bits (include/linux/gfp_types.h) and the usual combinations. The
 * guest slab ignores them; `%pGg` prints them by name (vsprintf_flags.S).
 */
export const GFP = {
  HIGH: 0x20,
  IO: 0x40,
  FS: 0x80,
  ZERO: 0x100,
  DIRECT_RECLAIM: 0x400,
  KSWAPD_RECLAIM: 0x800,
  RECLAIM: 0xc00,
  NOWARN: 0x2000,
  HARDWALL: 0x100000,
  KERNEL: 0xcc0,
  ATOMIC: 0x820,
  NOWAIT: 0x800,
  NOIO: 0xc00,
  NOFS: 0xc40,
  USER: 0x100cc0,
} as const;

export const KLP_FUNC = {
  old_name: 0x00, // u64 char*
  new_func: 0x08, // u64 address of the replacement
  old_sympos: 0x10, // u64
  old_func: 0x18, // u64 internal: resolved address
  old_size: 0x20, // u64 internal
  new_size: 0x28, // u64 internal
  nop: 0x30, // u8 internal
  patched: 0x31, // u8 internal
  transition: 0x32, // u8 internal: read by klp_ftrace_handler
  stack_node: 0x38, // list_head internal: on klp_ops.func_stack (next, prev)
  SIZE: 0x48,
} as const;

/** struct klp_ops (host-allocated in vmalloc): one per patched function. */
export const KLP_OPS = {
  node: 0x00, // list_head on the host's ops list (unused by the guest)
  func_stack: 0x10, // list_head of klp_func.stack_node, newest first
  fops: 0x20, // struct ftrace_ops (FTRACE_OPS layout), embedded
  SIZE: 0x20 + 0x50,
} as const;

/**
 * text_poke_bp's descriptor of one site being patched (arch/x86/kernel/alternative.c
 * struct text_poke_loc), written by the host into the vmalloc area and read by the
 * guest's poke_int3_handler while int3 sits on the site's first byte. `opcode` is
 * the first byte of the instruction being installed: CALL (0xe8), JMP32 (0xe9),
 * JMP8 (0xeb), or NOP (0x90) for any nop; the target is addr + len + disp.
 */
export const TEXT_POKE_LOC = {
  addr: 0x00, // u64 site address
  disp: 0x08, // i32 rel32/rel8 of a call/jmp
  len: 0x0c, // u8 instruction length
  opcode: 0x0d, // u8
  SIZE: 0x10,
} as const;

/** bp_desc (guest symbol): the batch being patched, sorted by addr; vec 0 when idle. */
export const BP_PATCHING = {
  vec: 0x00, // u64 TEXT_POKE_LOC[]
  nr_entries: 0x08, // u64
  SIZE: 0x10,
} as const;

/** Opcodes of TEXT_POKE_LOC.opcode (arch/x86/include/asm/text-patching.h). */
export const Opcode = { INT3: 0xcc, CALL: 0xe8, JMP32: 0xe9, JMP8: 0xeb, NOP: 0x90 } as const;

/** One function tracer record in the guest ring buffer `trace_ring` (head: `trace_ring_head`). */
export const TRACE_ENTRY = {
  ip: 0x00, // u64 traced function
  parent_ip: 0x08, // u64 its caller's return address
  ts: 0x10, // u64 guest ns
  cpu: 0x18, // u32
  pid: 0x1c, // i32
  comm: 0x20, // char[16]
  SIZE: 0x30,
} as const;
export const TRACE_RING_ENTRIES = 4096;
