/**
 * First-in first-out queue with O(1) shift: requests waiting for their responses. A capture can
 * hold hundreds of thousands of pipelined requests before the first answer (or a parser fed one
 * side first); Array.prototype.shift would make pairing them quadratic.
 */
export class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  /** The oldest, without taking it. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  /** Drops all but the newest `n`. */
  keepNewest(n: number): void {
    while (this.length > n) this.shift();
  }
}
