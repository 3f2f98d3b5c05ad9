// expr.ts - gdb-like expressions for breakpoint conditions, x, print: $regs, symbols, *deref, C operators

/** A value: a 64-bit number or a string (for `$comm == "cat"`). */
export type Value = bigint | string;

/** What an expression can see. */
export interface EvalContext {
  /** `$name` registers and convenience variables ($rax, $pc, $cpu, $pid, $comm, …). */
  variable(name: string): Value | undefined;
  /** A kernel symbol's address. */
  symbol(name: string): bigint | undefined;
  /** `*expr`: the u64 at an address. */
  readU64(addr: bigint): bigint;
}

/** An error in an expression the user typed. */
export class ExprError extends Error {}

type Token = { kind: 'num'; v: bigint } | { kind: 'str'; v: string } | { kind: 'var' | 'sym' | 'op'; v: string };

const OPS = ['||', '&&', '==', '!=', '<=', '>=', '<<', '>>', '|', '^', '&', '<', '>', '+', '-', '*', '/', '%', '!', '~', '(', ')'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(0x[0-9a-fA-F]+|\d+)|"((?:[^"\\]|\\.)*)"|\$([A-Za-z_][\w]*)|([A-Za-z_.][\w.]*)|(\|\||&&|==|!=|<=|>=|<<|>>|[|^&<>+\-*/%!~()]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new ExprError(`cannot parse '${src.slice(pos).trim()}' in expression`);
    pos = re.lastIndex;
    if (m[1] !== undefined) out.push({ kind: 'num', v: BigInt(m[1]) });
    else if (m[2] !== undefined) out.push({ kind: 'str', v: m[2].replace(/\\(.)/g, '$1') });
    else if (m[3] !== undefined) out.push({ kind: 'var', v: m[3] });
    else if (m[4] !== undefined) out.push({ kind: 'sym', v: m[4] });
    else if (OPS.includes(m[5]!)) out.push({ kind: 'op', v: m[5]! });
  }
  return out;
}

/** Binary operators by precedence level (C's order, loosest first). */
const LEVELS: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

const M64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const truth = (v: Value): boolean => (typeof v === 'string' ? v.length > 0 : v !== 0n);

function num(v: Value, op: string): bigint {
  if (typeof v === 'string') throw new ExprError(`operator ${op} needs a number, not "${v}"`);
  return v;
}

function binary(op: string, a: Value, b: Value): Value {
  if (op === '==' || op === '!=') {
    const eq = typeof a === typeof b ? a === b : false;
    return (op === '==') === eq ? 1n : 0n;
  }
  if (op === '&&') return truth(a) && truth(b) ? 1n : 0n;
  if (op === '||') return truth(a) || truth(b) ? 1n : 0n;
  const x = num(a, op);
  const y = num(b, op);
  switch (op) {
    case '|': return x | y;
    case '^': return x ^ y;
    case '&': return x & y;
    case '<': return x < y ? 1n : 0n;
    case '>': return x > y ? 1n : 0n;
    case '<=': return x <= y ? 1n : 0n;
    case '>=': return x >= y ? 1n : 0n;
    case '<<': return M64(x << y);
    case '>>': return x >> y;
    case '+': return M64(x + y);
    case '-': return M64(x - y);
    case '*': return M64(x * y);
    default:
      if (y === 0n) throw new ExprError('division by zero');
      return op === '/' ? x / y : x % y;
  }
}

/** A recursive-descent evaluator over the token list. */
class Parser {
  private i = 0;
  constructor(private readonly toks: Token[], private readonly ctx: EvalContext) {}

  parse(): Value {
    if (this.toks.length === 0) throw new ExprError('empty expression');
    const v = this.level(0);
    if (this.i < this.toks.length) throw new ExprError(`unexpected '${String(this.toks[this.i]!.v)}' in expression`);
    return v;
  }

  private peekOp(): string | undefined {
    const t = this.toks[this.i];
    return t?.kind === 'op' ? t.v : undefined;
  }

  private level(n: number): Value {
    if (n === LEVELS.length) return this.unary();
    let v = this.level(n + 1);
    for (let op = this.peekOp(); op !== undefined && LEVELS[n]!.includes(op); op = this.peekOp()) {
      this.i++;
      v = binary(op, v, this.level(n + 1));
    }
    return v;
  }

  private unary(): Value {
    const op = this.peekOp();
    if (op === '-' || op === '~' || op === '!' || op === '*') {
      this.i++;
      const v = this.unary();
      if (op === '!') return truth(v) ? 0n : 1n;
      const x = num(v, op);
      if (op === '-') return M64(-x);
      if (op === '~') return M64(~x);
      return this.ctx.readU64(x);
    }
    return this.primary();
  }

  private primary(): Value {
    const t = this.toks[this.i++];
    if (!t) throw new ExprError('expression ends too early');
    if (t.kind === 'num' || t.kind === 'str') return t.v;
    if (t.kind === 'var') {
      const v = this.ctx.variable(t.v);
      if (v === undefined) throw new ExprError(`no register or variable $${t.v}`);
      return v;
    }
    if (t.kind === 'sym') {
      const a = this.ctx.symbol(t.v);
      if (a === undefined) throw new ExprError(`No symbol "${t.v}" in current context.`);
      return a;
    }
    if (t.v === '(') {
      const v = this.level(0);
      if (this.toks[this.i]?.v !== ')') throw new ExprError("missing ')'");
      this.i++;
      return v;
    }
    throw new ExprError(`unexpected '${t.v}' in expression`);
  }
}

/** Evaluate `src` in `ctx`. @throws ExprError on a syntax or lookup error */
export function evaluate(src: string, ctx: EvalContext): Value {
  return new Parser(tokenize(src), ctx).parse();
}

/** Evaluate to a number (an address, a count). @throws ExprError for a string */
export function evaluateNumber(src: string, ctx: EvalContext): bigint {
  const v = evaluate(src, ctx);
  if (typeof v === 'string') throw new ExprError(`expression '${src}' is a string, not a number`);
  return v;
}

/** Stand-in values: parse an expression fully without reading anything. */
const SYNTAX_ONLY: EvalContext = { variable: () => 1n, symbol: () => 1n, readU64: () => 1n };

/** Check the syntax without evaluating (for `break … if COND` at creation time). @throws ExprError */
export function checkSyntax(src: string): void {
  new Parser(tokenize(src), SYNTAX_ONLY).parse();
}

/** Is the condition true? Strings and non-zero numbers are true. */
export function isTrue(v: Value): boolean {
  return truth(v);
}
