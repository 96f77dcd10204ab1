// The request log (issue 16 item 6, issue 17): one line per request, at `debug`, carrying
// the method, the route pattern (`/unsubscribe/:token`, never the URL), the status and
// the response time. URLs carry secrets: id_token_hint ID tokens, the never-expiring
// /unsubscribe/TOKEN links, user_codes, codes and states in redirects. So no log line
// names a URL, a query string or a path parameter, at any level. fastify's own two lines
// per request (the whole URL, and 20-25 % of throughput) are off. At the default `info`
// level a request writes nothing unless an operator has something to act on: a server
// error (`request failed`), an unavailable database, a refused client authentication.
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** What a log line may say about a request: never its URL. */
export function describeRequest(request: FastifyRequest): { method: string; route: string } {
  return { method: request.method, route: request.routeOptions?.url ?? '(no route)' };
}

/**
 * pino serializers for anything that logs `req` or `res` (fastify itself, plugins): the
 * same fields, so a URL cannot reach the log through them either.
 */
export const logSerializers = {
  req: (req: { method?: string; routeOptions?: { url?: string } }) => ({ method: req.method, route: req.routeOptions?.url ?? '(no route)' }),
  res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
};

export function installRequestLog(app: FastifyInstance): void {
  // The level is fixed for the process's life (config), so below `debug` the hook is not
  // installed at all: no per-request call, no promise (a callback hook, not an async one).
  if (app.log.level !== 'debug' && app.log.level !== 'trace') return;
  app.addHook('onResponse', (request, reply, done) => {
    request.log.debug({ ...describeRequest(request), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    done();
  });
}
