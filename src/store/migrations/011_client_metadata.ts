import { sql, type Kysely } from 'kysely';

// Client metadata of RFC 7591 §2 (and RFC 9126 §6, RFC 9449 §5.2) beyond what 001 and 007
// stored, plus Alias's per-client MFA requirement. Existing confidential clients
// authenticate with HTTP Basic, as the provider documentation requires ("Confidential
// clients must authenticate themselves with HTTP basic auth"); public clients with none.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('token_endpoint_auth_method', 'text', (c) => c.notNull().defaultTo('client_secret_basic')).execute();
  await db.updateTable('clients').set({ token_endpoint_auth_method: 'none' }).where('is_public', '=', 1).execute();
  for (const column of ['jwks', 'jwks_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'client_uri']) {
    await db.schema.alterTable('clients').addColumn(column, 'text').execute();
  }
  for (const column of ['require_pushed_authorization_requests', 'dpop_bound_access_tokens', 'require_mfa']) {
    await db.schema.alterTable('clients').addColumn(column, 'integer', (c) => c.notNull().defaultTo(sql`0`)).execute();
  }
}
