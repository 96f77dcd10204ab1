// Marks the event-loop tasks that read requests from their sockets (store/request_task.ts):
// the task that read a request's head, and the one that read the end of its body. A read
// transaction the SQLite store opens in such a task may serve the other requests of that
// poll phase (store/sqlite/group_commit.ts), so a task is marked only where it is sure to
// be a socket read.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestArrived, servingArrival } from '../store/request_task.js';

export function markArrivals(app: FastifyInstance): void {
  // Before fastify's own listener, so the route's first reads are already in a marked task.
  app.server.prependListener('request', requestArrived);
  // The parser hands a request's body on in a task of its own, in the same socket read or
  // a later one. fastify reads the body after the onRequest and preParsing hooks, then
  // runs preValidation in the task that saw the body's end. If those hooks ran to here in
  // a marked task, that task is a socket read too. If one of them waited (the CORS check
  // reads the store, which may wait for the connection) and went on in a timer's or the
  // check phase's task, the body's end may be seen there, so nothing is marked. A request
  // made with app.inject is read from no socket: never marked.
  const readInSocketTask = new WeakSet<FastifyRequest>();
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (servingArrival()) readInSocketTask.add(request);
    done(null, payload);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    if (readInSocketTask.has(request)) requestArrived();
    done();
  });
}
