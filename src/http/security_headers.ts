// Security headers on every response. Pages get a CSP whose only scripts are Alias's own files; a form's
// action may lead back to the client (form-action covers redirects after a POST).
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The pages' Content-Security-Policy; `imageOrigins`: further origins images may come from. */
export function pagePolicy(imageOrigins: string[] = []): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    // Passkeys (issue 15): Alias's own scripts and their calls back to Alias; never inline.
    "script-src 'self'",
    "connect-src 'self'",
    ["img-src 'self' data:", ...imageOrigins].join(' '),
    // Redirects after a form go only to registered redirect URIs (https, or http on
    // loopback), so the scheme is all the policy needs to name.
    "form-action 'self' https: http:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The consent page shows the app's registered logo (RFC 7591 §2 logo_uri, https only): its
 * origin, and no other, may serve images on this one response.
 */
export function allowClientLogo(reply: FastifyReply, logoUri: string | null): void {
  if (logoUri) reply.header('content-security-policy', pagePolicy([new URL(logoUri).origin]));
}

const DEFAULT_POLICY = pagePolicy();

export function installSecurityHeaders(app: FastifyInstance, issuer: string) {
  const https = issuer.startsWith('https:');
  // A callback hook, not an async one: it runs on every response, and a promise per
  // response costs more than the headers (bench/README.md).
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (https) reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains');
    const type = String(reply.getHeader('content-type') ?? '');
    // A response that set its own policy (the form_post page) keeps it.
    if (type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', DEFAULT_POLICY);
    }
    done(null, payload);
  });
}
