// RFC 7591 §2 client metadata (a JSON object) → the registration input the CLI builds
// too (registry.ts validateClient judges both). Only shapes are checked here: which
// members are strings, arrays or objects, and which response types go with which grants.
// Members Alias does not know are ignored (RFC 7591 §2). require_pushed_authorization_requests
// is RFC 9126 §6; dpop_bound_access_tokens is RFC 9449 §5.2 (it only tightens what the
// client itself may do, so a client may ask for it like the operator's
// `aliasid client update --dpop-bound-access-tokens`).
import type { Channel } from '../store/types.js';
import { isUserScope } from '../oauth/scopes.js';
import { ClientInputError, type NewClient } from './registry.js';

/** RFC 7591 §2.1: the response types Alias supports and the grant type each belongs to. */
const RESPONSE_TYPE_GRANTS: Record<string, string> = { code: 'authorization_code', id_token: 'implicit' };

const bad = (message: string) => new ClientInputError(message);

function str(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`${key} must be a string`);
  return v;
}

function strings(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${key} must be an array of strings`);
  return v as string[];
}

/** The channels extension: `"alias_channels": [{"name": "news", "description": "Weekly news"}, "billing"]`. */
function channels(body: Record<string, unknown>): (string | Channel)[] | undefined {
  const v = body.alias_channels;
  if (v === undefined || v === null) return undefined;
  const shape = 'alias_channels must be an array of channel names or {"name", "description"} objects';
  if (!Array.isArray(v)) throw bad(shape);
  return v.map((c): string | Channel => {
    if (typeof c === 'string') return { name: c, description: c };
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw bad(shape);
    const { name, description } = c as Record<string, unknown>;
    if (typeof name !== 'string' || (description !== undefined && description !== null && typeof description !== 'string')) throw bad(shape);
    const text = typeof description === 'string' ? description.trim() : '';
    return { name, description: text || name };
  });
}

/** True when the document carries a software statement (RFC 7591 §2.3). */
export function softwareStatementOf(body: Record<string, unknown>): unknown {
  return body.software_statement;
}

/**
 * The registration input a metadata document asks for. `isPublic` follows
 * token_endpoint_auth_method (`none`); its default is client_secret_basic (RFC 7591 §2).
 */
export function metadataToInput(body: unknown): NewClient {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('the request body must be a JSON object of client metadata');
  const b = body as Record<string, unknown>;
  const method = str(b, 'token_endpoint_auth_method') ?? 'client_secret_basic';
  const responseTypes = strings(b, 'response_types');
  let grantTypes = strings(b, 'grant_types');
  if (responseTypes) {
    for (const rt of responseTypes) {
      if (!(rt in RESPONSE_TYPE_GRANTS)) {
        throw bad(`response type '${rt}' is not supported (supported: ${Object.keys(RESPONSE_TYPE_GRANTS).join(', ')})`);
      }
    }
    // Omitted grant_types follow the response types asked for (RFC 7591 §2.1).
    grantTypes ??= [...new Set(responseTypes.map((rt) => RESPONSE_TYPE_GRANTS[rt]!))];
    for (const rt of responseTypes) {
      if (!grantTypes.includes(RESPONSE_TYPE_GRANTS[rt]!)) {
        throw bad(`response type '${rt}' needs the grant type '${RESPONSE_TYPE_GRANTS[rt]}' (RFC 7591 §2.1)`);
      }
    }
    for (const [rt, grant] of Object.entries(RESPONSE_TYPE_GRANTS)) {
      if (grantTypes.includes(grant) && !responseTypes.includes(rt)) {
        throw bad(`the grant type '${grant}' needs the response type '${rt}' (RFC 7591 §2.1)`);
      }
    }
  }
  const sessionRequired = b.backchannel_logout_session_required;
  if (sessionRequired !== undefined && sessionRequired !== null && typeof sessionRequired !== 'boolean') {
    throw bad('backchannel_logout_session_required must be a boolean');
  }
  if (sessionRequired === true) throw bad('backchannel_logout_session_required is not supported: logout tokens carry no sid');
  const requirePar = b.require_pushed_authorization_requests;
  if (requirePar !== undefined && requirePar !== null && typeof requirePar !== 'boolean') {
    throw bad('require_pushed_authorization_requests must be a boolean');
  }
  const dpopBound = b.dpop_bound_access_tokens;
  if (dpopBound !== undefined && dpopBound !== null && typeof dpopBound !== 'boolean') {
    throw bad('dpop_bound_access_tokens must be a boolean');
  }
  const jwks = b.jwks ?? undefined;
  if (jwks !== undefined && (typeof jwks !== 'object' || Array.isArray(jwks))) throw bad('jwks must be a JWK Set object');
  // User scopes are open to every client (nothing to register); the rest are client-level scopes.
  const scopes = str(b, 'scope')?.split(' ').filter((s) => s !== '' && !isUserScope(s));
  return {
    name: str(b, 'client_name') ?? '',
    redirectUris: strings(b, 'redirect_uris'),
    postLogoutRedirectUris: strings(b, 'post_logout_redirect_uris'),
    isPublic: method === 'none',
    tokenEndpointAuthMethod: method,
    grantTypes,
    scopes,
    channels: channels(b),
    backchannelLogoutUri: str(b, 'backchannel_logout_uri') ?? null,
    idTokenSignedResponseAlg: str(b, 'id_token_signed_response_alg'),
    jwks,
    jwksUri: str(b, 'jwks_uri') ?? null,
    logoUri: str(b, 'logo_uri') ?? null,
    policyUri: str(b, 'policy_uri') ?? null,
    tosUri: str(b, 'tos_uri') ?? null,
    clientUri: str(b, 'client_uri') ?? null,
    requirePushedAuthorizationRequests: requirePar === true,
    // Absent: the default (false) at registration, the current value at an RFC 7592 PUT.
    ...(typeof dpopBound === 'boolean' ? { dpopBoundAccessTokens: dpopBound } : {}),
  };
}
