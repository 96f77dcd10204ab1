// ClientRepo: a client row and the origins of its redirect URIs (CORS), changed together.
import type { Selectable } from 'kysely';
import type { ClientsTable } from '../schema.js';
import type { ClientRepo } from '../store.js';
import type { Client } from '../types.js';
import type { SigningAlg } from '../../oauth/signing_algs.js';
import type { TokenEndpointAuthMethod } from '../../oauth/client_auth.js';
import { param } from '../compiled.js';
import { insertOrConflict, json, list, type Sql } from './context.js';

const toClient = (r: Selectable<ClientsTable>): Client => ({
  id: r.id,
  name: r.name,
  secretDigest: r.secret_digest,
  previousSecretDigest: r.previous_secret_digest,
  previousSecretExpiresAt: r.previous_secret_expires_at,
  secretSealed: r.secret_sealed,
  previousSecretSealed: r.previous_secret_sealed,
  isPublic: r.is_public === 1,
  redirectUris: list(r.redirect_uris),
  postLogoutRedirectUris: list(r.post_logout_redirect_uris),
  grantTypes: list(r.grant_types),
  scopes: list(r.scopes),
  channels: JSON.parse(r.channels) as Client['channels'],
  backchannelLogoutUri: r.backchannel_logout_uri,
  // Written only through the registry, which accepts only the algorithms Alias signs with.
  idTokenSignedResponseAlg: r.id_token_signed_response_alg as SigningAlg,
  // Written only through the registry, which accepts only the methods Alias knows.
  tokenEndpointAuthMethod: r.token_endpoint_auth_method as TokenEndpointAuthMethod,
  jwks: r.jwks === null ? null : JSON.parse(r.jwks) as Client['jwks'],
  jwksUri: r.jwks_uri,
  requirePushedAuthorizationRequests: r.require_pushed_authorization_requests === 1,
  dpopBoundAccessTokens: r.dpop_bound_access_tokens === 1,
  requireMfa: r.require_mfa === 1,
  logoUri: r.logo_uri,
  policyUri: r.policy_uri,
  tosUri: r.tos_uri,
  clientUri: r.client_uri,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const fromClient = (c: Client): ClientsTable => ({
  id: c.id,
  name: c.name,
  secret_digest: c.secretDigest,
  previous_secret_digest: c.previousSecretDigest,
  previous_secret_expires_at: c.previousSecretExpiresAt,
  secret_sealed: c.secretSealed,
  previous_secret_sealed: c.previousSecretSealed,
  is_public: c.isPublic ? 1 : 0,
  redirect_uris: json(c.redirectUris),
  post_logout_redirect_uris: json(c.postLogoutRedirectUris),
  grant_types: json(c.grantTypes),
  scopes: json(c.scopes),
  channels: json(c.channels),
  backchannel_logout_uri: c.backchannelLogoutUri,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg,
  token_endpoint_auth_method: c.tokenEndpointAuthMethod,
  jwks: c.jwks === null ? null : JSON.stringify(c.jwks),
  jwks_uri: c.jwksUri,
  require_pushed_authorization_requests: c.requirePushedAuthorizationRequests ? 1 : 0,
  dpop_bound_access_tokens: c.dpopBoundAccessTokens ? 1 : 0,
  require_mfa: c.requireMfa ? 1 : 0,
  logo_uri: c.logoUri,
  policy_uri: c.policyUri,
  tos_uri: c.tosUri,
  client_uri: c.clientUri,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

function originsOf(c: Client): string[] {
  const out = new Set<string>();
  for (const uri of c.redirectUris) {
    try {
      const o = new URL(uri).origin;
      if (o !== 'null') out.add(o);
    } catch {
      /* validated at registration; nothing to add */
    }
  }
  return [...out];
}

export function createClientRepo(s: Sql): ClientRepo {
  const { k, first, cachedRead, writing, inTx, transaction, dialect } = s;
  return {
    async insert(c) {
      // The client row and its origins change together (one transaction), so no
      // reader sees one without the other.
      if (!inTx) return transaction((tx) => tx.clients.insert(c));
      await writing('client', () => insertOrConflict('client', async () => {
        await k.insertInto('clients').values(fromClient(c)).execute();
        const origins = originsOf(c);
        if (origins.length) {
          await k.insertInto('client_origins')
            .values(origins.map((origin) => ({ origin, client_id: c.id }))).execute();
        }
      }));
    },
    get(id) {
      return cachedRead(`client:${id}`, async () => {
        const r = await first<Selectable<ClientsTable>>('clients.get',
          (b) => b.selectFrom('clients').selectAll().where('id', '=', param('id')), { id });
        return r && toClient(r);
      });
    },
    async getForUpdate(id) {
      const r = await dialect.forUpdate(k.selectFrom('clients').selectAll().where('id', '=', id)).executeTakeFirst();
      return r && toClient(r);
    },
    async list() {
      const rows = await k.selectFrom('clients').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toClient);
    },
    async update(c) {
      // Atomic: otherwise hasOrigin answers false between deleting and re-adding the
      // origins of a redirect URI the client keeps (CORS fails during a rename).
      if (!inTx) return transaction((tx) => tx.clients.update(c));
      const { id: _id, created_at: _c, ...rest } = fromClient(c);
      await writing('client', () => k.updateTable('clients').set(rest).where('id', '=', c.id).execute());
      await k.deleteFrom('client_origins').where('client_id', '=', c.id).execute();
      const origins = originsOf(c);
      if (origins.length) {
        await k.insertInto('client_origins')
          .values(origins.map((origin) => ({ origin, client_id: c.id }))).execute();
      }
    },
    async delete(id) {
      const r = await writing('client', () => k.deleteFrom('clients').where('id', '=', id).executeTakeFirst());
      return Number(r.numDeletedRows) > 0;
    },
    async hasOrigin(origin) {
      const r = await k.selectFrom('client_origins').select('client_id')
        .where('origin', '=', origin).limit(1).executeTakeFirst();
      return r !== undefined;
    },
  };
}
