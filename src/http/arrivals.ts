// Marks the event-loop tasks that read requests from their sockets (store/request_task.ts):
// the task that read a request's head, and the one that read the end of its body. A read
// transaction the SQLite store opens in such a task may serve the other requests of that
// poll phase (store/sqlite/group_commit.ts).
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { requestArrived } from '../store/request_task.js';

export function markArrivals(app: FastifyInstance): void {
  const fromSocket = new WeakSet<IncomingMessage>();
  // Before fastify's own listener, so the route's first reads are already in a marked task.
  app.server.prependListener('request', (req: IncomingMessage) => {
    fromSocket.add(req);
    requestArrived();
  });
  // fastify reads the body to its end, parses it and runs preValidation in the task whose
  // read completed it: no earlier hook of Alias's is asynchronous. `app.inject` requests
  // come from no socket, and the task they run in need not be in the poll phase.
  app.addHook('preValidation', (request, _reply, done) => {
    if (fromSocket.has(request.raw)) requestArrived();
    done();
  });
}
