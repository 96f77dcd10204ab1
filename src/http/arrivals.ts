// Marks the event-loop tasks that read requests from their sockets (store/request_task.ts):
// the task that read a request's head, and the one that read the end of its body. A read
// transaction the SQLite store opens in such a task may serve the other requests of that
// poll phase (store/sqlite/group_commit.ts).
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { requestArrived } from '../store/request_task.js';

export function markArrivals(app: FastifyInstance): void {
  // Before fastify's own listener, so the route's first reads are already in a marked task.
  app.server.prependListener('request', requestArrived);
  // fastify reads the body to its end, parses it and runs preValidation in the task whose
  // read completed it: no earlier hook of Alias's is asynchronous. `app.inject` requests
  // come from no socket (a stand-in object), and the task they run in need not be in the
  // poll phase.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.raw.socket instanceof Socket) requestArrived();
    done();
  });
}
