/**
 * First-in first-out queue with O(1) shift: requests waiting for their responses. A capture can
 * hold hundreds of thousands of pipelined requests before the first answer (or a parser fed one
 * side first); Array.prototype.shift would make pairing them quadratic.
 *
 * Bounded: what the other side never answers must not grow memory with the input (a capture of
 * one direction only, a server that stopped replying). Each entry costs `cost(x)` (64 units by
 * default, an estimate of its bytes); past `maxCost` the oldest entries are let go and counted
 * in `dropped` — replies after that may pair with the wrong request, as for a capture that
 * started mid-conversation.
 */
export const QUEUE_MAX_COST = 64 * 1024 * 1024;

export class Queue<T> {
  private items: (T | undefined)[] = [];
  /** Each entry's cost, when entries cost differently (else every entry costs 64: a count suffices). */
  private costs: number[] | null;
  private head = 0;
  private total = 0;
  /** Entries let go unanswered because the queue was full. */
  dropped = 0;

  constructor(
    private readonly cost: ((x: T) => number) | null = null,
    private readonly maxCost = QUEUE_MAX_COST,
  ) {
    this.costs = cost ? [] : null;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    const c = this.cost ? this.cost(x) : 64;
    this.items.push(x);
    this.costs?.push(c);
    this.total += c;
    while (this.total > this.maxCost && this.length > 1) {
      this.shift();
      this.dropped++;
    }
  }

  /** The oldest, without taking it. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.total -= this.costs ? this.costs[this.head] : 64;
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      if (this.costs) this.costs = this.costs.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  /** Drops all but the newest `n`. */
  keepNewest(n: number): void {
    while (this.length > n) this.shift();
  }
}

/** Cost of an entry holding strings: their UTF-16 bytes and an object's overhead. */
export function textCost(...texts: (string | null | undefined)[]): number {
  let n = 64;
  for (const t of texts) n += 2 * (t?.length ?? 0);
  return n;
}
