// What may be said of a model provider's error: its text redacted for the debug log, whether it
// refuses the credentials, and the summary the error chain keeps. The errors are the provider
// clients' own, built as they build them from a response body.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { ProviderError, redactSecrets, refusesCredentials } from '../../../src/agents/llm/errors.js';

/** The error each client raises for an error event inside a stream (its `Stream` does exactly this). */
const openAiInStream = (error: Record<string, unknown>) => new OpenAI.APIError(undefined, error, undefined, new Headers());
const anthropicInStream = (type: 'authentication_error' | 'permission_error' | 'overloaded_error', message: string) =>
  new Anthropic.APIError(undefined, { type: 'error', error: { type, message } }, undefined, new Headers(), type);

describe('redactSecrets', () => {
  it('removes bearer tokens, sk- keys, named key values and the configured key, and keeps the rest', () => {
    expect(redactSecrets('Incorrect API key provided: Bearer sk-test-key. You can find your API key at https://x.')).toBe(
      'Incorrect API key provided: Bearer [redacted]. You can find your API key at https://x.',
    );
    expect(redactSecrets('{"error":"invalid x-api-key: sk-ant-api03-abc_DEF"}')).toBe('{"error":"invalid x-api-key: [redacted]"}');
    expect(redactSecrets('key sk-proj-AbC123 and sk-or-v1-ff00 rejected')).toBe('key [redacted] and [redacted] rejected');
    expect(redactSecrets('{"api_key": "local-secret-42"}')).toBe('{"api_key": "[redacted]"}');
    expect(redactSecrets('token hunter2-local was refused', ['hunter2-local'])).toBe('token [redacted] was refused');
    expect(redactSecrets('Overloaded')).toBe('Overloaded');
  });
});

describe('refusesCredentials', () => {
  it('HTTP 401 and 403, and in-stream errors whose type, code or (when they say nothing) message says authentication or permission', () => {
    expect(refusesCredentials(OpenAI.APIError.generate(401, { error: { message: 'x' } }, undefined, new Headers()))).toBe(true);
    expect(refusesCredentials(Anthropic.APIError.generate(403, { error: { type: 'permission_error' } }, undefined, new Headers()))).toBe(true);
    expect(refusesCredentials(openAiInStream({ message: 'Incorrect API key provided: sk-x', type: 'invalid_request_error', code: 'invalid_api_key' }))).toBe(true);
    expect(refusesCredentials(openAiInStream({ message: 'Incorrect API key provided', type: 'invalid_request_error' }))).toBe(true);
    expect(refusesCredentials(openAiInStream({ message: 'No auth credentials found', code: 401 }))).toBe(true);
    expect(refusesCredentials(anthropicInStream('authentication_error', 'invalid x-api-key'))).toBe(true);
    expect(refusesCredentials(anthropicInStream('permission_error', 'not allowed'))).toBe(true);
  });

  it('other errors are not: overloaded, a server error, a rate limit whose message mentions the key, a reset', () => {
    expect(refusesCredentials(anthropicInStream('overloaded_error', 'Overloaded'))).toBe(false);
    expect(refusesCredentials(openAiInStream({ message: 'The server had an error', type: 'server_error' }))).toBe(false);
    expect(refusesCredentials(openAiInStream({ message: 'Rate limit reached for your API key', code: 'rate_limit_exceeded' }))).toBe(false);
    expect(refusesCredentials(OpenAI.APIError.generate(500, { error: { message: 'bad key?' } }, undefined, new Headers()))).toBe(false);
    expect(refusesCredentials(new TypeError('terminated'))).toBe(false);
  });
});

describe('ProviderError', () => {
  it('keeps class, status, type, code and stack frames, never the text', () => {
    const original = openAiInStream({ message: 'Incorrect API key provided: Bearer sk-test-key', type: 'invalid_request_error', code: 'invalid_api_key' });
    const summary = new ProviderError(original);
    expect(summary.message).toBe('APIError, type invalid_request_error, code invalid_api_key');
    expect(summary.stack).not.toContain('sk-test');
    expect(summary.stack).toMatch(/\n\s+at /);
    expect(new ProviderError(OpenAI.APIError.generate(401, { error: { message: 'sk-1234' } }, undefined, new Headers())).message).toBe('AuthenticationError, HTTP 401');
    // Free text where an identifier belongs is left out.
    expect(new ProviderError(openAiInStream({ message: 'm', type: 'key sk-abc is bad' })).message).toBe('APIError');
  });
});
