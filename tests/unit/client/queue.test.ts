// The client SDK's EventQueue: any number of waiting next() calls, first come first served, and
// all of them released by end().
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../../client/src/queue.js';
import { settledNow } from '../../helpers/wait.js';

/** Iterators are what callers hold (a Run hands out the queue's): next() is called through one. */
const nextOf = <T>(q: EventQueue<T>) => {
  const it = q[Symbol.asyncIterator]();
  return () => it.next();
};

describe('EventQueue', () => {
  it('gives each of two waiting next() calls its own item, in the order they were called', async () => {
    const q = new EventQueue<number>();
    const next = nextOf(q);
    const first = next();
    const second = next();
    q.push(1);
    q.push(2);
    expect(await settledNow(first)).toEqual({ value: 1, done: false });
    expect(await settledNow(second)).toEqual({ value: 2, done: false });
  });

  it('ends every waiting next() call at end()', async () => {
    const q = new EventQueue<number>();
    const next = nextOf(q);
    const waiting = [next(), nextOf(q)(), next()];
    q.end();
    for (const w of waiting) expect(await settledNow(w)).toEqual({ value: undefined, done: true });
    expect(await next()).toEqual({ value: undefined, done: true });
  });

  it('delivers what was pushed before end(), then done; ignores pushes after it', async () => {
    const q = new EventQueue<string>();
    q.push('a');
    q.push('b');
    q.end();
    q.push('c');
    const seen: string[] = [];
    for await (const x of q) seen.push(x);
    expect(seen).toEqual(['a', 'b']);
  });

  it('two loops over one queue share its items: each delivered once, in order within each loop, and both end', async () => {
    const q = new EventQueue<number>();
    const loop = async () => {
      const got: number[] = [];
      for await (const x of q) got.push(x);
      return got;
    };
    const loops = Promise.all([loop(), loop()]);
    for (let i = 0; i < 10; i++) q.push(i);
    q.end();
    const [a, b] = await loops;
    expect([...a, ...b].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(b).toEqual([...b].sort((x, y) => x - y));
  });

  it('any interleaving of push, next and end: the n-th next() gets the n-th item, or done once the items ran out after end()', async () => {
    const op = fc.oneof(fc.constant({ kind: 'next' as const }), fc.integer().map((value) => ({ kind: 'push' as const, value })), fc.constant({ kind: 'end' as const }));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const q = new EventQueue<number>();
        const next = nextOf(q);
        const calls: Array<Promise<IteratorResult<number>>> = [];
        const pushed: number[] = [];
        let ended = false;
        for (const o of ops) {
          if (o.kind === 'next') calls.push(next());
          else if (o.kind === 'push') {
            if (!ended) pushed.push(o.value);
            q.push(o.value);
          } else {
            ended = true;
            q.end();
          }
        }
        for (const [i, call] of calls.entries()) {
          const want = i < pushed.length ? { value: pushed[i], done: false } : ended ? { value: undefined, done: true } : 'pending';
          expect(await settledNow(call)).toEqual(want);
        }
      }),
    );
  });
});
