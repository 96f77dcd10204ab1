// store/unavailable.ts: which database errors are an outage (503 + Retry-After, workers
// back off) and which are bugs or bad input (500, or the caller's own handling).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseUnreachable, isDatabaseUnavailable } from '../../src/store/unavailable.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('PostgreSQL connection exceptions, shutdowns, timeouts and resource limits', () => {
    for (const code of ['08000', '08001', '08003', '08006', '08P01', '57P01', '57P02', '57P03', '57014', '25P03', '53300', '53100']) {
      assert.ok(isDatabaseUnavailable(withCode(code)), code);
    }
  });

  it('socket failures on the way to the server', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']) {
      assert.ok(isDatabaseUnavailable(withCode(code)), code);
    }
  });

  it('pg and pg-pool messages for lost or never-made connections', () => {
    for (const message of ['Connection terminated unexpectedly', 'Connection terminated due to connection timeout',
      'Connection terminated', 'timeout exceeded when trying to connect', 'Query read timeout',
      'Client has encountered a connection error and is not queryable']) {
      assert.ok(isDatabaseUnavailable(new Error(message)), message);
    }
  });

  it('SQLite busy beyond busy_timeout, I/O errors, a file that cannot be opened, a full disk', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE',
      'SQLITE_CANTOPEN', 'SQLITE_FULL']) {
      assert.ok(isDatabaseUnavailable(withCode(code)), code);
    }
  });

  it('looks through causes and AggregateErrors (dual-stack connects)', () => {
    assert.ok(isDatabaseUnavailable(new Error('wrapped', { cause: withCode('ECONNREFUSED') })));
    assert.ok(isDatabaseUnavailable(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect')));
  });

  it('bugs, constraint violations and bad SQL are not an outage', () => {
    for (const err of [new Error('boom'), new TypeError('x is undefined'), withCode('23505'), withCode('42P01'),
      withCode('42601'), withCode('40001'), withCode('SQLITE_CONSTRAINT_UNIQUE'), withCode('SQLITE_ERROR'),
      withCode('SQLITE_MISMATCH'), null, undefined, 'ECONNREFUSED', 42]) {
      assert.equal(isDatabaseUnavailable(err), false, String((err as { code?: string })?.code ?? err));
    }
  });

  it('DatabaseUnreachable names the database and keeps the cause', () => {
    const cause = withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1');
    const err = new DatabaseUnreachable('postgres://alias@db.example:5432/alias', cause);
    assert.match(err.message, /postgres:\/\/alias@db\.example:5432\/alias/);
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(err.cause, cause);
  });
});
