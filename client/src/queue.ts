// An async iterable fed by pushes: a run's events as they arrive, ending after the terminal one
// (or when the client is closed). Any number of `next()` calls may wait at once (several loops
// over one run, or a caller that does not await each `next()`): each gets its own item, first
// come first served, and all of them get `done` at the end.
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  /** Callers of `next()` waiting for an item, oldest first. Non-empty only while `items` is empty. */
  private readonly waiters: Array<(r: IteratorResult<T>) => void> = [];
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: item, done: false });
    else this.items.push(item);
  }

  /** No more items: what is queued is still delivered, then every `next()` answers `done`. */
  end(): void {
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next() };
  }
}
