// decodeClientFrame: the one place raw socket bytes become typed frames (PROTOCOL sections 3 and 5).
import { describe, it, expect } from 'vitest';
import { decodeClientFrame, type Decoded } from '../../../src/protocol/decode.js';
import { MAX_INPUT_CHARS, MAX_RESUME_RUNS } from '../../../src/protocol/frames.js';

const bytes = (s: string): ArrayBuffer => {
  const u = new TextEncoder().encode(s);
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
};
const json = (v: unknown) => JSON.stringify(v);

function refused(d: Decoded): { message: string; requestId?: string; runId?: string } {
  expect(d.ok).toBe(false);
  if (d.ok) throw new Error('unreachable');
  expect(d.message.length).toBeGreaterThan(5);
  return d;
}

function accepted(d: Decoded) {
  if (!d.ok) throw new Error(`refused: ${d.message}`);
  return d.frame;
}

describe('decodeClientFrame: refusals', () => {
  it('refuses binary frames', () => {
    const d = refused(decodeClientFrame(bytes(json({ type: 'ping' })), true));
    expect(d.message).toMatch(/binary/i);
  });

  it('refuses invalid UTF-8', () => {
    const bad = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).buffer; // {"\xff\xfe"}
    expect(refused(decodeClientFrame(bad)).message).toMatch(/UTF-8/);
    // A lone continuation byte and a truncated sequence too.
    expect(refused(decodeClientFrame(new Uint8Array([0x80]).buffer)).message).toMatch(/UTF-8/);
    expect(refused(decodeClientFrame(new Uint8Array([0xe2, 0x82]).buffer)).message).toMatch(/UTF-8/);
  });

  it.each(['', '{', 'ping', "{'type':'ping'}", '{"type":"ping",}', 'undefined'])('refuses text that is not JSON: %j', (text) => {
    expect(refused(decodeClientFrame(text)).message).toMatch(/not valid JSON/);
  });

  it.each(['42', '"ping"', 'null', 'true', '[]', '[{"type":"ping"}]'])('refuses JSON that is not an object: %s', (text) => {
    expect(refused(decodeClientFrame(text)).message).toMatch(/must be a JSON object/);
  });

  it('refuses an unknown or missing type, naming the known ones, and echoes the ids', () => {
    const d = refused(decodeClientFrame(json({ type: 'subscribe', requestId: 'req-1', runId: 'run-1' })));
    expect(d.message).toMatch(/unknown frame type/);
    expect(d.message).toContain('agent_request');
    expect(d.message).toContain('resume');
    expect(d.requestId).toBe('req-1');
    expect(d.runId).toBe('run-1');
    expect(refused(decodeClientFrame(json({ requestId: 'req-2' }))).requestId).toBe('req-2');
    expect(refused(decodeClientFrame(json({ type: 7 }))).message).toMatch(/unknown frame type/);
    // Prototype names are not frame types.
    expect(refused(decodeClientFrame(json({ type: 'constructor' }))).message).toMatch(/unknown frame type/);
  });

  it('refuses a missing field, naming the frame and the field, and echoes requestId', () => {
    const d = refused(decodeClientFrame(json({ type: 'agent_request', requestId: 'req-1' })));
    expect(d.message).toMatch(/^agent_request: input/);
    expect(d.requestId).toBe('req-1');
    expect(d.runId).toBeUndefined();

    const noRunId = refused(decodeClientFrame(json({ type: 'cancel_run' })));
    expect(noRunId.message).toMatch(/^cancel_run: runId/);

    const noText = refused(decodeClientFrame(json({ type: 'agent_request', requestId: 'r', input: {} })));
    expect(noText.message).toMatch(/^agent_request: input\.text/);
  });

  it('refuses a field of the wrong type and echoes runId', () => {
    const d = refused(decodeClientFrame(json({ type: 'ack', runId: 'run-9', seq: '3' })));
    expect(d.message).toMatch(/^ack: seq/);
    expect(d.runId).toBe('run-9');

    expect(refused(decodeClientFrame(json({ type: 'ack', runId: 'r', seq: 1.5 }))).message).toMatch(/^ack: seq/);
    expect(refused(decodeClientFrame(json({ type: 'ack', runId: 'r', seq: -1 }))).message).toMatch(/^ack: seq/);
    expect(refused(decodeClientFrame(json({ type: 'ack', runId: '', seq: 1 }))).message).toMatch(/^ack: runId/);
    expect(
      refused(decodeClientFrame(json({ type: 'agent_request', requestId: 'r', input: { text: 'hi' }, onBusy: 'wait' }))).message,
    ).toMatch(/^agent_request: onBusy/);
    expect(refused(decodeClientFrame(json({ type: 'agent_request', requestId: 'r', input: 'hi' }))).message).toMatch(
      /^agent_request: input/,
    );
    expect(refused(decodeClientFrame(json({ type: 'ping', id: { x: 1 } }))).message).toMatch(/^ping: id/);
  });

  it('refuses unknown extra fields, at the top level and nested, naming them', () => {
    const top = refused(decodeClientFrame(json({ type: 'ping', id: 1, extra: true })));
    expect(top.message).toMatch(/^ping: /);
    expect(top.message).toContain('extra');

    const nested = refused(
      decodeClientFrame(json({ type: 'agent_request', requestId: 'req-7', input: { text: 'hi', files: [] } })),
    );
    expect(nested.message).toMatch(/^agent_request: input: /);
    expect(nested.message).toContain('files');
    expect(nested.requestId).toBe('req-7');

    const inResume = refused(decodeClientFrame(json({ type: 'resume', runs: [{ runId: 'a', afterSeq: 0, from: 1 }] })));
    expect(inResume.message).toMatch(/^resume: runs\.0/);
    expect(inResume.message).toContain('from');

    // requestId is not a field of ack: refused, though it is still echoed for correlation.
    const ack = refused(decodeClientFrame(json({ type: 'ack', runId: 'run-1', seq: 1, requestId: 'req-3' })));
    expect(ack.message).toContain('requestId');
    expect(ack).toMatchObject({ requestId: 'req-3', runId: 'run-1' });
  });

  it(`refuses a resume list over ${MAX_RESUME_RUNS} runs, and an empty one`, () => {
    const runs = Array.from({ length: MAX_RESUME_RUNS + 1 }, (_, i) => ({ runId: `run-${i}`, afterSeq: 0 }));
    const d = refused(decodeClientFrame(json({ type: 'resume', runs })));
    expect(d.message).toMatch(/^resume: runs/);
    expect(accepted(decodeClientFrame(json({ type: 'resume', runs: runs.slice(0, MAX_RESUME_RUNS) }))).type).toBe('resume');
    expect(refused(decodeClientFrame(json({ type: 'resume', runs: [] }))).message).toMatch(/^resume: runs/);
  });

  it('refuses input text that is empty, blank or too long', () => {
    const req = (text: string) => json({ type: 'agent_request', requestId: 'r', input: { text } });
    expect(refused(decodeClientFrame(req(''))).message).toMatch(/^agent_request: input\.text/);
    expect(refused(decodeClientFrame(req('  \n\t '))).message).toMatch(/^agent_request: input\.text/);
    expect(refused(decodeClientFrame(req('x'.repeat(MAX_INPUT_CHARS + 1)))).message).toMatch(/^agent_request: input\.text/);
    expect(accepted(decodeClientFrame(req('x'.repeat(MAX_INPUT_CHARS)))).type).toBe('agent_request');
  });

  it('refuses text and requestIds the database cannot store (NUL, lone surrogates), saying why', () => {
    const req = (text: string, requestId = 'r') => json({ type: 'agent_request', requestId, input: { text } });
    expect(refused(decodeClientFrame(req('a\u0000b'))).message).toBe('agent_request: input.text: must not contain a NUL character (U+0000)');
    for (const lone of ['\ud800', 'x\udbff', '\udc00y', 'a\udfff\ud800b']) {
      expect(refused(decodeClientFrame(req(lone))).message).toBe('agent_request: input.text: must not contain a lone UTF-16 surrogate (not valid Unicode)');
    }
    expect(refused(decodeClientFrame(req('hi', 'r\u0000'))).message).toMatch(/^agent_request: requestId: must not contain a NUL/);
    // A surrogate pair (an emoji) is valid Unicode, and the text of the escape is only text.
    expect(accepted(decodeClientFrame(req('\ud83d\udd25 \\u0000'))).type).toBe('agent_request');
  });

  it('echoes only well-formed correlation ids', () => {
    const long = 'r'.repeat(129);
    const d = refused(decodeClientFrame(json({ type: 'nope', requestId: long, runId: 42 })));
    expect(d.requestId).toBeUndefined();
    expect(d.runId).toBeUndefined();
    expect('requestId' in d).toBe(false);
    const ok = refused(decodeClientFrame(json({ type: 'nope', requestId: 'r'.repeat(128) })));
    expect(ok.requestId).toBe('r'.repeat(128));
  });
});

describe('decodeClientFrame: valid frames', () => {
  it('agent_request, minimal and with every optional field', () => {
    expect(accepted(decodeClientFrame(json({ type: 'agent_request', requestId: 'req-1', input: { text: 'hello' } })))).toEqual({
      type: 'agent_request',
      requestId: 'req-1',
      input: { text: 'hello' },
    });
    const full = accepted(
      decodeClientFrame(
        json({ type: 'agent_request', requestId: 'req-2', input: { text: 'hi' }, threadId: 'th-1', agent: 'analyst', onBusy: 'enqueue' }),
      ),
    );
    expect(full).toEqual({ type: 'agent_request', requestId: 'req-2', input: { text: 'hi' }, threadId: 'th-1', agent: 'analyst', onBusy: 'enqueue' });
    for (const onBusy of ['reject', 'enqueue', 'interrupt']) {
      expect(accepted(decodeClientFrame(json({ type: 'agent_request', requestId: 'r', input: { text: 'x' }, onBusy }))).type).toBe(
        'agent_request',
      );
    }
  });

  it('resume, ack, cancel_run, ping', () => {
    expect(accepted(decodeClientFrame(json({ type: 'resume', runs: [{ runId: 'a', afterSeq: 0 }, { runId: 'b', afterSeq: 7 }] })))).toEqual({
      type: 'resume',
      runs: [
        { runId: 'a', afterSeq: 0 },
        { runId: 'b', afterSeq: 7 },
      ],
    });
    expect(accepted(decodeClientFrame(json({ type: 'ack', runId: 'a', seq: 3 })))).toEqual({ type: 'ack', runId: 'a', seq: 3 });
    expect(accepted(decodeClientFrame(json({ type: 'cancel_run', runId: 'a' })))).toEqual({ type: 'cancel_run', runId: 'a' });
    expect(accepted(decodeClientFrame(json({ type: 'ping' })))).toEqual({ type: 'ping' });
    expect(accepted(decodeClientFrame(json({ type: 'ping', id: 'p-1' })))).toEqual({ type: 'ping', id: 'p-1' });
    expect(accepted(decodeClientFrame(json({ type: 'ping', id: 5 })))).toEqual({ type: 'ping', id: 5 });
  });

  it('accepts text frames given as UTF-8 bytes, non-ASCII included', () => {
    const frame = accepted(decodeClientFrame(bytes(json({ type: 'agent_request', requestId: 'r', input: { text: 'grüße, 世界 🌍' } }))));
    expect(frame).toMatchObject({ input: { text: 'grüße, 世界 🌍' } });
    expect(accepted(decodeClientFrame(bytes(json({ type: 'ping' })), false))).toEqual({ type: 'ping' });
  });
});
