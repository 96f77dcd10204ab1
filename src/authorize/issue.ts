// The issue step: what the authorization response carries once nothing is left for the
// user to do. A code (RFC 6749 §4.1.2), or for response_type=id_token an ID token
// (OIDC Core §3.2.2.5), which has no at_hash since no access token is issued through the
// front channel.
import type { AuthorizeServices } from './services.js';
import type { Grant } from '../store/types.js';
import { META_CHANNEL, union } from '../oauth/scopes.js';
import { signIdToken } from '../tokens/id_token.js';
import { issueCode, type SignIn } from './issue_code.js';
import type { AuthorizationRequest } from './request.js';

export interface Rights {
  scopes: string[];
  channels: string[];
}

export type Credential = { code: string } | { id_token: string };

/**
 * What the code (and its tokens) carries: what is granted now, plus everything granted
 * before when include_granted_scopes / include_granted_channels ask for it.
 */
export function tokenRights(req: AuthorizationRequest, grant: Grant, scopes: string[], channels: string[]): Rights {
  const s = req.includeGrantedScopes ? union(scopes, grant.scopes) : scopes;
  const c = req.includeGrantedChannels ? union(channels, grant.channels) : channels;
  return {
    scopes: s.filter((x) => grant.scopes.includes(x)),
    channels: s.includes('contact') ? c.filter((x) => x !== META_CHANNEL && grant.channels.includes(x)) : [],
  };
}

export async function issue(s: AuthorizeServices, req: AuthorizationRequest, grant: Grant, rights: Rights,
  signIn: SignIn, source: string): Promise<Credential> {
  if (req.responseType === 'id_token') return { id_token: await issueIdToken(s, req, grant, rights, signIn, source) };
  return { code: await issueCode(s.store, s.now(), req, grant, rights, signIn) };
}

/** OIDC Core §3.2.2.5: the implicit flow's ID token (sent by form_post only). */
async function issueIdToken(s: AuthorizeServices, req: AuthorizationRequest, grant: Grant, rights: Rights,
  signIn: SignIn, source: string): Promise<string> {
  const nickname = rights.scopes.includes('nickname') ? (await s.store.users.get(grant.userId))?.nickname : null;
  const idToken = await signIdToken(s.keys, {
    alg: req.client.idTokenSignedResponseAlg, issuer: s.config.issuer, clientId: req.client.id, sub: grant.sub,
    authTime: signIn.authTime, amr: signIn.amr, nonce: req.nonce, nickname, now: s.now(),
  });
  await s.store.grants.touch(grant.id, s.now());
  await s.audit.record({ type: 'token.issued', clientId: req.client.id, sub: grant.sub, ip: source, detail: 'grant_type=implicit' });
  return idToken;
}
