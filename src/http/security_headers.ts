// Security headers on every response. Pages get a CSP without any script; a form's
// action may lead back to the client (form-action covers redirects after a POST).
import type { FastifyInstance } from 'fastify';

export function installSecurityHeaders(app: FastifyInstance, issuer: string) {
  const https = issuer.startsWith('https:');
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (https) reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains');
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html')) {
      reply.header('content-security-policy', [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self' https: http://localhost:* http://127.0.0.1:* http://[::1]:*",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '));
    }
    return payload;
  });
}
