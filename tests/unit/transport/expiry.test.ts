// When an open socket's credential expires it is closed (4401 in src/transport/ws.ts): the timer
// that does it, with fake timers instead of waiting for a real token to run out.
// tests/e2e/auth.test.ts checks the whole path once with a real token and socket.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeAtExpiry } from '../../../src/transport/ws.js';

describe('closeAtExpiry', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes exactly when the token expires, not a millisecond before', () => {
    const close = vi.fn();
    closeAtExpiry(Date.now() + 3_600_000, close);
    vi.advanceTimersByTime(3_600_000 - 1);
    expect(close).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('a token already expired closes at once; a ticket’s socket (no expiry) never', () => {
    const expired = vi.fn();
    const ticket = vi.fn();
    expect(closeAtExpiry(Number.POSITIVE_INFINITY, ticket)).toBeUndefined();
    closeAtExpiry(Date.now() - 5_000, expired);
    vi.advanceTimersByTime(0);
    expect(expired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(365 * 24 * 3600 * 1000);
    expect(ticket).not.toHaveBeenCalled();
  });

  it('an expiry beyond a timer’s 2^31-1 ms range does not fire at once', () => {
    const close = vi.fn();
    closeAtExpiry(Date.now() + 40 * 24 * 3600 * 1000, close);
    vi.advanceTimersByTime(24 * 3600 * 1000);
    expect(close).not.toHaveBeenCalled();
  });
});
