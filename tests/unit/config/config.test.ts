import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configWarnings, loadConfig } from '../../../src/config/index.js';
import { loadOrCreateSecret } from '../../../src/config/secret.js';

describe('config', () => {
  it('has defaults that start the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', databaseUrl: undefined, dataDir: './data', maxFrameBytes: 65536 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses every variable and treats empty strings as unset', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u@h:5432/db',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      ALLOW_REGISTRATION: 'false',
      JWT_SECRET: '',
    });
    expect(c).toMatchObject({ port: 9000, host: '0.0.0.0', databaseUrl: 'postgres://u@h:5432/db', allowRegistration: false, jwtSecret: undefined });
    expect(c.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  it('turns tracing on only when OTEL_* configure an exporter', () => {
    expect(loadConfig({}).telemetry).toEqual({ tracesExporter: undefined, tracesEndpoint: undefined, serviceName: 'agentwire', recordContent: false });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'aw-1' }).telemetry).toMatchObject({
      tracesExporter: 'otlp',
      tracesEndpoint: 'http://collector:4318/v1/traces',
      serviceName: 'aw-1',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/x' }).telemetry.tracesEndpoint).toBe('http://c:4318/x');
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).telemetry).toMatchObject({ tracesExporter: 'otlp', tracesEndpoint: undefined });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).telemetry.tracesExporter).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).telemetry.tracesExporter).toBeUndefined();
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
  });

  it('caps failed run attempts (5 by default, at least 1) and backs off between them', () => {
    expect(loadConfig({})).toMatchObject({ runMaxAttempts: 5, runRetryDelayMs: 1_000 });
    expect(loadConfig({ RUN_MAX_ATTEMPTS: '2', RUN_RETRY_DELAY_MS: '50' })).toMatchObject({ runMaxAttempts: 2, runRetryDelayMs: 50 });
    expect(() => loadConfig({ RUN_MAX_ATTEMPTS: '0' })).toThrow(/RUN_MAX_ATTEMPTS/);
    expect(() => loadConfig({ RUN_RETRY_DELAY_MS: 'soon' })).toThrow(/RUN_RETRY_DELAY_MS/);
  });

  it('names every bad variable in one readable error', () => {
    const attempt = () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', JWT_SECRET: 'short' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('PORT');
      expect(msg).toContain('DATABASE_URL');
      expect(msg).toContain('JWT_SECRET');
    }
  });

  it('generates the JWT secret once, keeps it private, and reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aw-secret-'));
    try {
      const a = loadOrCreateSecret(join(dir, 'nested'));
      expect(a.created).toBe(true);
      expect(a.secret.length).toBeGreaterThanOrEqual(32);
      const file = join(dir, 'nested', 'jwt-secret');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const b = loadOrCreateSecret(join(dir, 'nested'));
      expect(b).toEqual({ secret: a.secret, created: false });
      expect(readFileSync(file, 'utf8').trim()).toBe(a.secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hardening: defaults, an external identity provider set whole or not at all, asymmetric algorithms only', () => {
    expect(loadConfig({}).security).toMatchObject({
      externalIdp: undefined,
      framesPerSecond: 50,
      httpRequestsPerMinute: 600,
      loginAttemptsPerAccount: 10,
      loginAttemptsPerAddress: 100,
      loginWindowMs: 900_000,
      registrationsPerAddress: 30,
      maxSocketsPerUser: 16,
      upgradeTimeoutMs: 10_000,
      httpBodyTimeoutMs: 30_000,
      metricsToken: undefined,
    });
    const idp = { AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'api', AUTH_JWKS_URL: 'https://idp.example/jwks.json' };
    expect(loadConfig(idp).security.externalIdp).toMatchObject({ ...{ issuer: idp.AUTH_ISSUER, audience: 'api', jwksUrl: idp.AUTH_JWKS_URL }, algorithms: ['RS256', 'ES256'], cooldownMs: 30_000 });
    expect(() => loadConfig({ AUTH_ISSUER: 'https://idp.example' })).toThrow(/set together/);
    expect(() => loadConfig({ ...idp, AUTH_ALGORITHMS: 'RS256,HS256' })).toThrow(/AUTH_ALGORITHMS/);
    expect(() => loadConfig({ ...idp, AUTH_ISSUER: 'agentwire' })).toThrow(/AUTH_ISSUER/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });

  it('refuses an allowed origin a browser would never send, naming the variable and the fix', () => {
    const message = (origins: string) => {
      try {
        loadConfig({ ALLOWED_ORIGINS: origins });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(message('localhost:8080')).toBe(
      'invalid configuration:\n  ALLOWED_ORIGINS: "localhost:8080" is not an origin as a browser sends it: write "http://localhost:8080" (scheme://host[:port], e.g. http://localhost:8080; * allows any)',
    );
    expect(message('https://chat.example/')).toContain('write "https://chat.example"');
    expect(message('http://localhost:80')).toContain('write "http://localhost"');
    expect(message('https://a.example, chat.example.com')).toContain('"chat.example.com" is not an origin');
    for (const ok of ['*', 'http://localhost:8080', 'https://a.example, https://b.example:8443', 'chrome-extension://abcdefghijklmnop']) expect(message(ok), ok).toBe('accepted');
  });

  it('warns, with the fix, when the visualizer is on but nobody could open it', () => {
    expect(configWarnings(loadConfig({}))).toEqual([]);
    expect(configWarnings(loadConfig({ DEBUG_ENABLED: 'true' }))).toEqual([
      'DEBUG_ENABLED=true, but neither DEBUG_TOKEN nor ADMIN_USERS is set, so nobody can open /debug: set ADMIN_USERS=<your username> (then sign in with its password) or DEBUG_TOKEN=<32+ random characters>',
    ]);
    expect(configWarnings(loadConfig({ DEBUG_ENABLED: 'true', ADMIN_USERS: 'ada' }))).toEqual([]);
    expect(configWarnings(loadConfig({ DEBUG_ENABLED: 'true', DEBUG_TOKEN: 'x'.repeat(32) }))).toEqual([]);
    expect(configWarnings(loadConfig({ DEBUG_ENABLED: 'true', ADMIN_USERS: 'ada', ROLE: 'worker' }))).toEqual([expect.stringContaining('ROLE=worker, which serves no pages')]);
  });
});
