// Errors keep what caused them, and a log line of an unexpected error carries type, message and
// stack, its cause's too (pino's standard serializer under `err`); a credential never gets in.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, withoutSecrets } from '../../../src/log/logger.js';
import { AppError, errorBody, errorFrame, toAppError } from '../../../src/protocol/errors.js';
import { checkingCredential } from '../../../src/transport/route.js';

/** One log line, written by a real pino logger, parsed back. */
function logged(write: (log: ReturnType<typeof createLogger>) => void): Record<string, unknown> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const log = createLogger('info', out);
  write(log);
  log.flush();
  const line = text.trim().split('\n').at(-1);
  if (!line) throw new Error('nothing was logged');
  return JSON.parse(line) as Record<string, unknown>;
}

class DatabaseFailure extends Error {
  override name = 'DatabaseFailure';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

function failingQuery(): never {
  throw new DatabaseFailure('relation "runs" is locked', '55P03');
}

describe('an error and its cause', () => {
  it('toAppError keeps what was thrown as the cause, and the wire sees only the code and a fixed message', () => {
    let thrown: unknown;
    try {
      failingQuery();
    } catch (err) {
      thrown = err;
    }
    const e = toAppError(thrown);
    expect(e).toMatchObject({ code: 'internal', message: 'internal error' });
    expect(e.cause).toBe(thrown);
    expect(errorBody(thrown)).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(JSON.stringify(errorFrame(thrown, { requestId: 'r1' }))).not.toContain('locked');

    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const down = toAppError(refused);
    expect(down.code).toBe('unavailable');
    expect(down.cause).toBe(refused);
  });

  it('a logged error carries its type, message and stack, and its cause\'s message and stack', () => {
    let thrown: unknown;
    try {
      failingQuery();
    } catch (err) {
      thrown = err;
    }
    const line = logged((log) => log.error({ err: toAppError(thrown), path: '/v1/threads' }, 'request failed'));
    const err = line.err as { type: string; message: string; stack: string; code: string };
    expect(line.msg).toBe('request failed');
    expect(err.type).toBe('AppError');
    expect(err.code).toBe('internal');
    // The cause's message follows the error's own, and its stack (with the frame that threw) follows too.
    expect(err.message).toBe('internal error: relation "runs" is locked');
    expect(err.stack).toMatch(/^AppError: internal error\n\s+at /);
    expect(err.stack).toContain('caused by: DatabaseFailure: relation "runs" is locked');
    expect(err.stack).toMatch(/caused by: DatabaseFailure[^]*at failingQuery/);
  });

  it('an error that is not an Error (a rejected string) is logged as it is', () => {
    expect(logged((log) => log.error({ err: 'plain reason' }, 'unhandled rejection')).err).toBe('plain reason');
  });

  it('withoutSecrets takes a credential out of the message, the stack, string fields and causes, keeping the type', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.secret-part.signature';
    const cause = new DatabaseFailure(`invalid input syntax for type uuid: "${token}"`, '22P02');
    const err = new AppError('unavailable', `checking ${token} failed`, {}, { cause });
    const scrubbed = withoutSecrets(err, [token]);
    expect(scrubbed).toBeInstanceOf(AppError);
    const line = logged((log) => log.warn({ err: scrubbed }, 'upgrade authentication failed'));
    const text = JSON.stringify(line);
    expect(text).not.toContain('secret-part');
    expect(text).toContain('[redacted]');
    expect((line.err as { type: string; code: string }).type).toBe('AppError');
    expect((line.err as { stack: string }).stack).toContain('caused by: DatabaseFailure: invalid input syntax for type uuid: "[redacted]"');
    // The original is untouched.
    expect(err.message).toContain(token);
  });

  it('a credential check that throws leaves as a protocol error whose cause no longer quotes the credential', async () => {
    const password = 'correct horse battery staple';
    const refused = await checkingCredential([password], async () => {
      throw new TypeError(`cannot compare "${password}"`);
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'internal', message: 'internal error' });
    const line = JSON.stringify(logged((log) => log.error({ err: refused }, 'request failed')));
    expect(line).not.toContain('horse');
    expect(line).toContain('caused by: TypeError: cannot compare \\"[redacted]\\"');
    // A refusal the check makes on purpose passes through as it is.
    const wrong = await checkingCredential([password], async () => {
      throw new AppError('unauthorized', 'wrong username or password');
    }).catch((err: unknown) => err);
    expect(wrong).toMatchObject({ code: 'unauthorized', message: 'wrong username or password' });
  });

  it('fields that can carry secrets are still redacted by path', () => {
    const line = logged((log) => log.info({ token: 't-1', req: { headers: { authorization: 'Bearer x' } } }, 'hello'));
    expect(line.token).toBe('[redacted]');
    expect((line.req as { headers: { authorization: string } }).headers.authorization).toBe('[redacted]');
  });
});

describe('error frames', () => {
  it('carry code, message, the ids given and retryAfterMs, nothing else', () => {
    expect(errorFrame(new AppError('rate_limited', 'too many frames', { retryAfterMs: 250 }), { requestId: 'r', runId: undefined })).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'too many frames',
      requestId: 'r',
      retryAfterMs: 250,
    });
    expect(errorFrame(new AppError('not_found', 'run not found'), { runId: 'x' })).toEqual({ type: 'error', code: 'not_found', message: 'run not found', runId: 'x' });
  });
});
