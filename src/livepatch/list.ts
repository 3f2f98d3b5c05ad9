// list.ts - list_head operations on guest memory (include/linux/list.h, RCU flavour)

import type { GuestMemory } from '../../emu/machine/index.ts';

/** INIT_LIST_HEAD: an empty list points at itself. */
export function initListHead(mem: GuestMemory, head: bigint): void {
  mem.writeU64(head, head);
  mem.writeU64(head + 8n, head);
}

/**
 * list_add_rcu(node, head): insert right after head. The node is fully set
 * before it is published through head->next, the write a concurrent guest
 * reader (klp_ftrace_handler) observes — the host writes between guest
 * instructions, so program order here is the publication order.
 */
export function listAddRcu(mem: GuestMemory, node: bigint, head: bigint): void {
  const next = mem.readU64(head);
  mem.writeU64(node, next);
  mem.writeU64(node + 8n, head);
  mem.writeU64(next + 8n, node);
  mem.writeU64(head, node);
}

/** list_del_rcu(node): unlink; node->next stays valid for readers already on it. */
export function listDelRcu(mem: GuestMemory, node: bigint): void {
  const next = mem.readU64(node);
  const prev = mem.readU64(node + 8n);
  mem.writeU64(next + 8n, prev);
  mem.writeU64(prev, next);
  mem.writeU64(node + 8n, 0xdead000000000122n); // LIST_POISON2
}

/** Nodes of a list, first to last (bounded against corruption). */
export function listNodes(mem: GuestMemory, head: bigint, limit = 100000): bigint[] {
  const out: bigint[] = [];
  let n = mem.readU64(head);
  while (n !== head && n !== 0n && out.length < limit) {
    out.push(n);
    n = mem.readU64(n);
  }
  return out;
}
