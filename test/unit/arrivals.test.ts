// Which event-loop tasks count as having read a request from its socket (http/arrivals.ts,
// store/request_task.ts): the SQLite store shares a read transaction among those of one
// poll phase, so a mark anywhere else (a timer, a later task, `app.inject`) would let a
// request read a snapshot older than itself.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { markArrivals } from '../../src/http/arrivals.js';
import { servingArrival } from '../../src/store/request_task.js';

describe('tasks that read a request are marked, and no others', () => {
  let app: FastifyInstance;
  let port: number;

  before(async () => {
    app = Fastify();
    markArrivals(app);
    await app.register(formbody);
    const seen = async () => {
      const atStart = servingArrival();
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { atStart, afterTimer: servingArrival() };
    };
    app.get('/seen', seen);
    app.post('/seen', seen);
    // A hook that waits for the check phase before the body is read (as the CORS check may
    // wait for the store's connection): the task that then sees the body's end is no socket read.
    app.register(async (scope) => {
      scope.addHook('onRequest', (_request, _reply, done) => { setImmediate(done); });
      scope.post('/seen-after-wait', seen);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });

  after(() => app.close());

  /** Sends `parts` as separate writes, `gapMs` apart; resolves with the response's JSON body. */
  function send(parts: string[], gapMs: number): Promise<{ atStart: boolean; afterTimer: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        answer += chunk;
        const body = /\r\n\r\n(\{.*\})$/s.exec(answer);
        if (body) {
          socket.end();
          resolve(JSON.parse(body[1]!));
        }
      });
      socket.on('error', reject);
      parts.forEach((part, i) => setTimeout(() => socket.write(part), i * gapMs));
    });
  }

  it('the task that read a GET request', async () => {
    assert.deepEqual(await send([`GET /seen HTTP/1.1\r\nhost: x\r\n\r\n`], 0), { atStart: true, afterTimer: false });
  });

  it('the task that read the end of a body that came after its head', async () => {
    const head = `POST /seen HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 3\r\n\r\n`;
    assert.deepEqual(await send([head, 'a=b'], 30), { atStart: true, afterTimer: false });
  });

  it('not the task a body reaches after a hook waited for the check phase', async () => {
    const message = `POST /seen-after-wait HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 3\r\n\r\na=b`;
    assert.deepEqual(await send([message], 0), { atStart: false, afterTimer: false });
  });

  it('never a request made with app.inject, which no socket read', async () => {
    const res = await app.inject({ method: 'POST', url: '/seen', payload: 'a=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(res.json(), { atStart: false, afterTimer: false });
  });
});
