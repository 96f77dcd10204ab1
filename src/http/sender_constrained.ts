// RFC 9449 §7: a protected resource (userinfo, the relay API) takes a DPoP-bound access
// token only under the DPoP scheme, with a proof of the bound key that names the token
// (`ath`); a bound token sent as a plain Bearer token is refused, and so is a Bearer
// token sent under the DPoP scheme. Errors are answered with a DPoP challenge (§7.1).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { AccessToken } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { DPOP_SIGNING_ALGS } from '../oauth/dpop.js';

export type TokenScheme = 'Bearer' | 'DPoP';
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The token of an `Authorization: Bearer …` or `Authorization: DPoP …` header. */
export function readAuthorization(header: string): { scheme: TokenScheme; token?: string } | undefined {
  const m = /^(Bearer|DPoP)(?: +(.*))?$/i.exec(header.trim());
  if (!m) return undefined;
  const scheme: TokenScheme = m[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  const token = m[2]?.trim();
  return { scheme, token: token && TOKEN68.test(token) ? token : undefined };
}

/**
 * RFC 9449 §7.1: the DPoP challenge, with the error and the algorithms Alias accepts;
 * `resourceMetadata`: the resource's RFC 9728 metadata URL (§5.1 resource_metadata).
 */
export function dpopError(reply: FastifyReply, error: string, description: string, headers: Record<string, string> = {},
  resourceMetadata?: string) {
  const metadata = resourceMetadata ? `, resource_metadata="${resourceMetadata}"` : '';
  reply.code(error === 'insufficient_scope' ? 403 : 401)
    .header('www-authenticate', `DPoP realm="alias", error="${error}", error_description="${description}", algs="${DPOP_SIGNING_ALGS.join(' ')}"${metadata}`)
    .header('cache-control', 'no-store').headers(headers);
  return reply.send({ error, error_description: description });
}

/**
 * Checks the token's binding against how it was presented. True when the request may go
 * on; false when the error has been sent. (A boolean, not the reply: a FastifyReply is
 * thenable, so an async function cannot hand it back.)
 */
export async function checkSenderConstraint(s: Pick<Services, 'dpop'>, request: FastifyRequest, reply: FastifyReply,
  presented: { scheme: TokenScheme; token: string }, rec: AccessToken, url: string, resourceMetadata?: string): Promise<boolean> {
  const refuse = (error: string, description: string, headers?: Record<string, string>) => {
    void dpopError(reply, error, description, headers, resourceMetadata);
    return false;
  };
  if (!rec.dpopJkt) {
    if (presented.scheme === 'DPoP') return refuse('invalid_token', 'the access token is not DPoP-bound: send it as a Bearer token');
    return true;
  }
  if (presented.scheme !== 'DPoP') {
    return refuse('invalid_token', 'the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof');
  }
  try {
    const proof = await s.dpop.resourceRequest(request.headers.dpop, request.method, url, presented.token);
    if (proof.jkt !== rec.dpopJkt) return refuse('invalid_dpop_proof', 'the DPoP proof key is not the key the access token is bound to');
  } catch (err) {
    if (err instanceof OAuthError) return refuse(err.error, err.description, err.headers);
    throw err;
  }
  return true;
}
