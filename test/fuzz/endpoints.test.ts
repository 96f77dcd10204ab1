// Property-based fuzz test (issue 5, "Hardening"): random and malformed parameters,
// headers, bodies and encodings at every endpoint and every form, through app.inject().
// Each case starts from a VALID request of some endpoint (a real user, a confidential and
// a public client, a live session and CSRF token, fresh codes and tokens minted for the
// run) and applies 0–4 mutations: dropped, repeated, replaced or added parameters (NUL,
// control characters, lone surrogates, huge values, other fields' valid values), broken
// percent-encoding, invalid UTF-8 bytes, wrong content types, malformed JSON, broken
// Authorization headers, odd cookies, odd methods and paths, bodies around the 1 MiB limit.
//
// Properties, for every response:
//   1. never a 5xx (DESIGN: "never a 500 for bad input"; the documented 503 needs an
//      unreachable database, which does not happen here), and the process never crashes
//      (the file finishes and /healthz still answers) nor hangs (every answer within
//      SLOW_MS: a request that holds the event loop stalls every other one);
//   2. API errors (/api/, /.well-known/, /oauth2/jwks) are application/json with exactly
//      {error, error_description}, the description within RFC 6749 §5.2's characters.
//      The one exception is RFC 6750 §3.1: a resource request with no credentials at all
//      gets 401 + `WWW-Authenticate: Bearer realm=…` and no error information (userinfo);
//      page errors are text/html; no stack traces anywhere;
//   3. a REJECTED request changes no stored state: every row of every table is the same
//      before and after, except the tables in NOT_STATE (failure counters, which DESIGN
//      says count failures, and an audit log) and the changes RFCs require on a refusal
//      (see legitimateOnRejection).
//
// What "rejected" means (see rejection()): any 4xx answer; at the authorization endpoint
// also an error sent back to the client (a redirect carrying `error`, or a form_post page
// carrying an `error` field); on the account page's forms the redirect to /account a
// signed-out browser gets. Not rejections: the user's own "deny" on a consent page and an
// interaction that ends in an error for the client (both complete the request: the
// pending interaction is consumed, as it is on success).
//
// How property 3 is checked: on SQLite, triggers log every write to a state table
// (helpers/fuzz_changes.ts) and a refused case reads only what its request wrote, so a
// case costs the same on an empty and on a full database; on PostgreSQL (and on SQLite with
// ALIAS_FUZZ_SNAPSHOT=full) every row of every table is read before and after each case.
//
// Where the time goes (CI runs 10,000 cases per endpoint): the cases run in worker threads,
// away from the test runner's promise tracking, ALIAS_FUZZ_WORKERS=N of them side by side;
// the fixture account's password hash is a cheap argon2id one (cheapPasswordHash); every
// 100 cases the janitor runs and the audit log is emptied (tidy), so no page slows down as
// the run goes on.
//
// Reproducible: a fixed seed by default; ALIAS_FUZZ_SEED=N to change it (fast-check prints
// the seed and path of a failure; ALIAS_FUZZ_PATH replays one), ALIAS_FUZZ_RUNS=N cases
// per endpoint (per template; defaults: 8 on SQLite, 1 on PostgreSQL; CI's deep run is
// 10000, docs/development.md), ALIAS_FUZZ_ONLY=REGEX to run only the templates whose
// "group / template" name matches, ALIAS_FUZZ_DATABASES=sqlite to leave PostgreSQL out,
// ALIAS_FUZZ_NO_SHRINK=1 to stop at the first failure unshrunk (quicker when each failing
// case is slow), and ALIAS_FUZZ_LOG=1 to print every answer's status. Each group reports
// its time per 1000 cases of each template (a test diagnostic).
import { describe, it, before, after } from 'node:test';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { hash as argon2Hash } from '@node-rs/argon2';
import * as OTPAuth from 'otpauth';
import { secondFactorKey } from '../../src/accounts/second_factor.js';
import { databaseKinds, postgres, sqlite, type DatabaseKind } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { formEncode } from '../helpers/bad_input.js';
import {
  cases, describeWire, diffRows, mutate, serialize, snapshotRows, type Pairs, type RowChange, type Spec, type Wire,
} from '../helpers/fuzz.js';
import { isApiPath } from '../../src/http/errors.js';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { accessTokenHash } from '../../src/oauth/dpop.js';
import { digest, mintOpaque } from '../../src/tokens/opaque.js';
import { newFamilyId } from '../../src/tokens/issuer.js';
import { newUserCode, formatUserCode } from '../../src/oauth/user_code.js';
import { unsubscribeToken } from '../../src/relay/unsubscribe_token.js';
import { DEVICE_GRANT } from '../../src/device/device_flow.js';
import type { Client, Grant, LinkPurpose, User } from '../../src/store/types.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { installChangeLog, type ChangeLog } from '../helpers/fuzz_changes.js';

/**
 * Tables whose rows may change on a rejected request: failure counters (DESIGN: "rate
 * limits and lockouts count failures"), migration bookkeeping, and an audit log of
 * refusals if one exists (names another engineer may give it).
 */
export const NOT_STATE = ['throttles', 'kysely_migration', 'kysely_migration_lock', 'audit_events', 'audit_log', 'audit_logs',
  // Used JWT ids (RFC 9449 §11.1, RFC 7523 §3): a proof or assertion presented is spent even
  // when the request fails later (its replay must still be refused).
  'jwt_replays'] as const;

const SEED = process.env.ALIAS_FUZZ_SEED ? Number(process.env.ALIAS_FUZZ_SEED) : 20_240_505;
const PATH = process.env.ALIAS_FUZZ_PATH;
const RUNS = process.env.ALIAS_FUZZ_RUNS ? Number(process.env.ALIAS_FUZZ_RUNS) : undefined;
/** Cases per endpoint in `npm test`: about the time the per-group runs took before. */
const DEFAULT_RUNS = { sqlite: 8, postgres: 1 };
const ONLY = process.env.ALIAS_FUZZ_ONLY ? new RegExp(process.env.ALIAS_FUZZ_ONLY) : undefined;
/** ALIAS_FUZZ_SHARD=I/N: every Nth template, from the Ith (parallel processes, test/fuzz/deep.sh). */
const SHARD = /^(\d+)\/(\d+)$/.exec(process.env.ALIAS_FUZZ_SHARD ?? '1/1')?.slice(1).map(Number) ?? [1, 1];
let templateIndex = 0;
const inShard = () => (templateIndex++ % SHARD[1]!) === SHARD[0]! - 1;
const DATABASES = process.env.ALIAS_FUZZ_DATABASES?.split(',').map((d) => d.trim());
const FULL_SNAPSHOTS = process.env.ALIAS_FUZZ_SNAPSHOT === 'full';

const APP_CB = 'https://app.example/cb';
const LOOPBACK_CB = 'http://127.0.0.1/cb';
const LOGOUT_CB = 'https://app.example/signed-out';
const USER_SCOPES = ['openid', 'offline_access', 'contact', 'nickname'];
const FUZZ_TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
/** The longest any one answer may take (generous: argon2 on a busy shared machine). */
const SLOW_MS = 4000;
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;
const ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;
/** assert.ok whose message is built only on failure: building it for every case cost more than the checks. */
function ensure(ok: boolean, message: () => string): asserts ok {
  if (!ok) assert.fail(message());
}

type DeviceState = 'pending' | 'approved';
interface Template {
  spec: Spec;
  device?: DeviceState;
  interaction?: { prompt: string; authenticated: boolean; scope?: string };
}

const FORM = 'application/x-www-form-urlencoded';
const form = (path: string, pairs: Pairs, headers: Record<string, string> = {}): Spec =>
  ({ method: 'POST', path, query: [], body: { kind: 'form', pairs }, headers: { 'content-type': FORM, ...headers } });
const get = (path: string, query: Pairs = [], headers: Record<string, string> = {}): Spec =>
  ({ method: 'GET', path, query, headers });
const json = (path: string, value: unknown, headers: Record<string, string> = {}): Spec =>
  ({ method: 'POST', path, query: [], body: { kind: 'json', value }, headers: { 'content-type': 'application/json', ...headers } });
const COOKIES = { cookie: '$COOKIES' };
const BROWSER_ONLY = { cookie: 'alias_browser=$BROWSER' };
const BASIC = { authorization: '$CONFBASIC' };

const authorizeQuery = (extra: Pairs = []): Pairs => [
  ['response_type', 'code'], ['client_id', '$CONF'], ['redirect_uri', '$APP_CB'], ['scope', 'openid nickname'], ['state', 'st'],
  ['nonce', 'n-1'], ['code_challenge', '$CHALLENGE'], ['code_challenge_method', 'S256'], ...extra,
];
const message = (channel: string) => ({ to: '$SUB', channel, subject: 'Your order shipped', body: 'It arrives on Monday.' });

/** A valid request of every endpoint and form, grouped (one property per group). */
const GROUPS: Record<string, Record<string, Template>> = {
  'token endpoint, every grant_type': {
    code_basic: { spec: form('/api/oauth2/token', [['grant_type', 'authorization_code'], ['code', '$CODE'],
      ['redirect_uri', '$APP_CB'], ['code_verifier', '$VERIFIER']], BASIC) },
    code_post: { spec: form('/api/oauth2/token', [['grant_type', 'authorization_code'], ['client_id', '$POSTCONF'],
      ['client_secret', '$POSTSECRET'], ['code', '$POSTCODE'], ['redirect_uri', '$APP_CB'], ['code_verifier', '$VERIFIER']]) },
    code_public: { spec: form('/api/oauth2/token', [['grant_type', 'authorization_code'], ['client_id', '$PUB'],
      ['code', '$PUBCODE'], ['redirect_uri', '$LOOPBACK_CB'], ['code_verifier', '$VERIFIER']]) },
    refresh: { spec: form('/api/oauth2/token', [['grant_type', 'refresh_token'], ['refresh_token', '$REFRESH'],
      ['scope', 'openid nickname']], BASIC) },
    client_credentials: { spec: form('/api/oauth2/token', [['grant_type', 'client_credentials'], ['scope', 'reports:read']], BASIC) },
    // RFC 8707: a registered resource (a JWT one, RFC 9068), so junk reaches the resource checks and the signing.
    client_credentials_resource: { spec: form('/api/oauth2/token', [['grant_type', 'client_credentials'], ['scope', 'reports:read'],
      ['resource', 'https://api.example/v1']], BASIC) },
    password: { spec: form('/api/oauth2/token', [['grant_type', 'password'], ['username', '$EMAIL'], ['password', '$PASSWORD'],
      ['scope', 'openid offline_access']], BASIC) },
    device_pending: { device: 'pending', spec: form('/api/oauth2/token', [['grant_type', DEVICE_GRANT], ['client_id', '$PUB'],
      ['device_code', '$DEVICECODE']]) },
    device_approved: { device: 'approved', spec: form('/api/oauth2/token', [['grant_type', DEVICE_GRANT], ['client_id', '$PUB'],
      ['device_code', '$DEVICECODE']]) },
  },
  'introspection, revocation, userinfo': {
    introspect: { spec: form('/api/oauth2/introspect', [['token', '$ACCESS'], ['token_type_hint', 'access_token']], BASIC) },
    introspect_refresh: { spec: form('/api/oauth2/introspect', [['token', '$REFRESH'], ['token_type_hint', 'refresh_token']], BASIC) },
    revoke: { spec: form('/api/oauth2/revoke', [['token', '$REFRESH'], ['token_type_hint', 'refresh_token']], BASIC) },
    revoke_access: { spec: form('/api/oauth2/revoke', [['client_id', '$POSTCONF'], ['client_secret', '$POSTSECRET'], ['token', '$ACCESS']]) },
    revoke_public: { spec: form('/api/oauth2/revoke', [['client_id', '$PUB'], ['token', '$ACCESS']]) },
    userinfo_get: { spec: get('/api/oauth2/userinfo', [], { authorization: 'Bearer $ACCESS' }) },
    userinfo_post: { spec: form('/api/oauth2/userinfo', [], { authorization: 'Bearer $ACCESS' }) },
    userinfo_body: { spec: form('/api/oauth2/userinfo', [['access_token', '$ACCESS']]) },
  },
  'device authorization and device pages': {
    device_authorization_public: { spec: form('/api/oauth2/device_authorization', [['client_id', '$PUB'], ['scope', 'openid']]) },
    device_authorization_conf: { spec: form('/api/oauth2/device_authorization', [['scope', 'openid contact'], ['channels', 'news']], BASIC) },
    device_page: { device: 'pending', spec: get('/device', [['user_code', '$USERCODE']], COOKIES) },
    device_enter: { device: 'pending', spec: form('/device', [['csrf', '$CSRF'], ['user_code', '$USERCODE']], COOKIES) },
    device_approve_page: { device: 'pending', spec: get('/device/approve', [['user_code', '$USERCODE']], COOKIES) },
    device_login: { device: 'pending', spec: form('/device/login', [['csrf', '$CSRF'], ['user_code', '$USERCODE'], ['email', '$EMAIL'],
      ['password', '$PASSWORD']], BROWSER_ONLY) },
    device_approve: { device: 'pending', spec: form('/device/approve', [['csrf', '$CSRF'], ['user_code', '$USERCODE'],
      ['decision', 'allow'], ['scope', 'nickname']], COOKIES) },
  },
  'authorization endpoint and interaction pages': {
    authorize_get: { spec: get('/oauth2/authorize', authorizeQuery([['prompt', 'none']]), COOKIES) },
    authorize_resource: { spec: get('/oauth2/authorize', authorizeQuery([['prompt', 'none'], ['resource', 'https://api.example/v1']])
      .map(([k, v]): [string, string] => [k, k === 'scope' ? 'openid reports:read' : v]), COOKIES) },
    authorize_new: { spec: get('/oauth2/authorize', authorizeQuery(), BROWSER_ONLY) },
    authorize_post: { spec: form('/oauth2/authorize', authorizeQuery([['prompt', 'none']]), COOKIES) },
    authorize_contact: { spec: get('/oauth2/authorize', authorizeQuery([['scope', 'openid contact'], ['channels', 'news'],
      ['include_granted_scopes', 'true'], ['include_granted_channels', 'true'], ['max_age', '3600'], ['response_mode', 'form_post']]), COOKIES) },
    authorize_implicit: { spec: get('/oauth2/authorize', [['response_type', 'id_token'], ['response_mode', 'form_post'],
      ['client_id', '$CONF'], ['redirect_uri', '$APP_CB'], ['scope', 'openid'], ['nonce', 'n'], ['state', 's']], COOKIES) },
    interaction_page: { interaction: { prompt: 'consent', authenticated: true }, spec: get('/interaction/$INTERACTION', [], COOKIES) },
    interaction_login: { interaction: { prompt: 'login', authenticated: false }, spec: form('/interaction/$INTERACTION/login',
      [['csrf', '$CSRF'], ['email', '$EMAIL'], ['password', '$PASSWORD']], BROWSER_ONLY) },
    interaction_select: { interaction: { prompt: 'select_account', authenticated: false }, spec: form('/interaction/$INTERACTION/select',
      [['csrf', '$CSRF'], ['account', 'current']], COOKIES) },
    interaction_consent: { interaction: { prompt: 'consent', authenticated: true, scope: 'openid nickname contact' },
      spec: form('/interaction/$INTERACTION/consent', [['csrf', '$CSRF'], ['decision', 'allow'], ['scope', 'nickname'],
        ['scope', 'contact'], ['channel', 'news']], COOKIES) },
  },
  'logout': {
    logout_get: { spec: get('/oauth2/logout', [['id_token_hint', '$IDTOKEN'], ['post_logout_redirect_uri', '$LOGOUT_CB'], ['state', 's']], COOKIES) },
    logout_post: { spec: form('/oauth2/logout', [['id_token_hint', '$IDTOKEN'], ['post_logout_redirect_uri', '$LOGOUT_CB'], ['state', 's']], COOKIES) },
    logout_ask: { spec: get('/oauth2/logout', [['client_id', '$CONF'], ['post_logout_redirect_uri', '$LOGOUT_CB']], COOKIES) },
    logout_confirm: { spec: form('/oauth2/logout/confirm', [['csrf', '$CSRF'], ['logout', 'yes'], ['client_id', '$CONF'],
      ['post_logout_redirect_uri', '$LOGOUT_CB'], ['state', 's']], COOKIES) },
  },
  'account page forms': {
    account_page: { spec: get('/account', [], COOKIES) },
    account_login: { spec: form('/account/login', [['csrf', '$CSRF'], ['email', '$EMAIL'], ['password', '$PASSWORD']], BROWSER_ONLY) },
    revoke_scope: { spec: form('/account/apps/$GRANT/revoke-scope', [['csrf', '$CSRF'], ['scope', 'nickname']], COOKIES) },
    revoke_channel: { spec: form('/account/apps/$GRANT/revoke-channel', [['csrf', '$CSRF'], ['channel', 'news']], COOKIES) },
    revoke_app: { spec: form('/account/apps/$GRANT/revoke', [['csrf', '$CSRF']], COOKIES) },
    nickname: { spec: form('/account/nickname', [['csrf', '$CSRF'], ['nickname', 'Fuzzy']], COOKIES) },
    password: { spec: form('/account/password', [['csrf', '$CSRF'], ['current_password', '$PASSWORD'], ['new_password', '$PASSWORD']], COOKIES) },
    sign_out: { spec: form('/account/logout', [['csrf', '$CSRF']], COOKIES) },
    sign_out_everywhere: { spec: form('/account/logout-all', [['csrf', '$CSRF']], COOKIES) },
  },
  'account lifecycle pages (issue 14)': {
    signup_page: { spec: get('/signup', [], BROWSER_ONLY) },
    signup: { spec: form('/signup', [['csrf', '$CSRF'], ['email', 'new-$RUNID@example.com'], ['password', 'a fresh long passphrase'],
      ['nickname', 'Newbie']], BROWSER_ONLY) },
    verify_email: { spec: get('/verify-email/$VERIFY', [], BROWSER_ONLY) },
    verify_resend: { spec: form('/verify-email/resend', [['csrf', '$CSRF']], COOKIES) },
    forgot_page: { spec: get('/forgot', [], BROWSER_ONLY) },
    // An address without an account: the answer's deferred work then touches only counters.
    forgot: { spec: form('/forgot', [['csrf', '$CSRF'], ['email', 'nobody-$RUNID@example.com']], BROWSER_ONLY) },
    reset_page: { spec: get('/reset/$RESET', [], BROWSER_ONLY) },
    reset: { spec: form('/reset/$RESET', [['csrf', '$CSRF'], ['password', '$PASSWORD']], BROWSER_ONLY) },
    email_change: { spec: form('/account/email', [['csrf', '$CSRF'], ['new_email', 'moved-$RUNID@example.com'],
      ['current_password', '$PASSWORD']], COOKIES) },
    confirm_email_page: { spec: get('/confirm-email/$CONFIRM', [], COOKIES) },
    cancel_email_change: { spec: form('/cancel-email-change/$CANCEL', [['csrf', '$CSRF']], COOKIES) },
    reauth: { spec: form('/account/reauth', [['csrf', '$CSRF'], ['password', '$PASSWORD'], ['next', '/account/export']], COOKIES) },
    export: { spec: get('/account/export', [], COOKIES) },
    delete_page: { spec: get('/account/delete', [], COOKIES) },
  },
  'two-step sign-in (issue 15)': {
    authorize_acr: { spec: get('/oauth2/authorize', authorizeQuery([['acr_values', 'urn:alias:acr:mfa urn:alias:acr:password'],
      ['claims', '{"id_token":{"acr":{"essential":true,"values":["urn:alias:acr:mfa"]}}}'], ['prompt', 'none']]), COOKIES) },
    interaction_second_factor: { interaction: { prompt: 'consent', authenticated: true },
      spec: form('/interaction/$INTERACTION/second-factor', [['csrf', '$CSRF'], ['code', '123456']], COOKIES) },
    second_factor: { spec: form('/login/second-factor', [['csrf', '$CSRF'], ['pending', '$PENDING'], ['code', '$TOTPCODE']], BROWSER_ONLY) },
    second_factor_recovery: { spec: form('/login/second-factor', [['csrf', '$CSRF'], ['pending', '$PENDING'], ['code', 'abcde-fghij']], BROWSER_ONLY) },
    totp_page: { spec: get('/account/totp', [], COOKIES) },
    // The fixture's account turns TOTP on here and off again two templates later.
    totp_confirm: { spec: form('/account/totp/confirm', [['csrf', '$CSRF'], ['enrolment', '$ENROLMENT'], ['code', '$ENROLCODE']], COOKIES) },
    totp_recovery_codes: { spec: form('/account/totp/recovery-codes', [['csrf', '$CSRF']], COOKIES) },
    totp_disable: { spec: form('/account/totp/disable', [['csrf', '$CSRF']], COOKIES) },
  },
  'passkeys (issue 15)': {
    // JSON bodies; `"$PKREG"` and `"$PKAUTH"` (quotes included) become a software
    // authenticator's fresh registration and assertion for this browser's challenge.
    register_options: { spec: json('/api/passkeys/register/options', { csrf: '$CSRF' }, COOKIES) },
    register_verify: { spec: json('/api/passkeys/register/verify', { csrf: '$CSRF', response: '$PKREG', name: 'Fuzz $RUNID' }, COOKIES) },
    authenticate_options: { spec: json('/api/passkeys/authenticate/options', { csrf: '$CSRF' }, BROWSER_ONLY) },
    authenticate_verify: { spec: json('/api/passkeys/authenticate/verify', { csrf: '$CSRF', response: '$PKAUTH' }, BROWSER_ONLY) },
    rename: { spec: form('/account/passkeys/$PASSKEY/rename', [['csrf', '$CSRF'], ['name', 'Renamed']], COOKIES) },
    remove: { spec: form('/account/passkeys/$PASSKEY/remove', [['csrf', '$CSRF']], COOKIES) },
    // Re-authentication and step-up with the fixture's own passkey; sign-up and a reset link with a new one.
    reauth_verify: { spec: json('/api/passkeys/reauth/verify', { csrf: '$CSRF', response: '$PKAUTH', next: '/account' }, COOKIES) },
    step_up_verify: { interaction: { prompt: 'consent', authenticated: true },
      spec: json('/api/passkeys/step-up/verify', { csrf: '$CSRF', response: '$PKAUTH', interaction: '$INTERACTION' }, COOKIES) },
    signup_options: { spec: json('/api/passkeys/signup/options', { csrf: '$CSRF', email: 'pk-$RUNID@example.com', nickname: 'Fuzz' }, BROWSER_ONLY) },
    signup_verify: { spec: json('/api/passkeys/signup/verify', { csrf: '$CSRF', email: 'pk-$RUNID@example.com', response: '$PKSIGNUP' }, BROWSER_ONLY) },
    signup_sent: { spec: get('/signup/sent', [], BROWSER_ONLY) },
    reset_options: { spec: json('/api/passkeys/reset/options', { csrf: '$CSRF', token: '$RESET' }, BROWSER_ONLY) },
    reset_verify: { spec: json('/api/passkeys/reset/verify', { csrf: '$CSRF', token: '$RESET', response: '$PKRESET' }, BROWSER_ONLY) },
  },
  'messages relay': {
    bearer: { spec: { method: 'POST', path: '/api/v1/messages', query: [], body: { kind: 'json', value: message('news') },
      headers: { authorization: 'Bearer $ACCESS', 'content-type': 'application/json', 'idempotency-key': 'k-$RUNID' } } },
    basic: { spec: { method: 'POST', path: '/api/v1/messages', query: [], body: { kind: 'json', value: message('news') },
      headers: { authorization: '$CONFBASIC', 'content-type': 'application/json; charset=utf-8' } } },
    basic_meta: { spec: { method: 'POST', path: '/api/v1/messages', query: [], body: { kind: 'json', value: message('_meta') },
      headers: { authorization: '$CONFBASIC', 'content-type': 'application/json', 'idempotency-key': 'meta-$RUNID' } } },
  },
  'DPoP proofs and client assertions (RFC 9449, RFC 7523)': {
    dpop_client_credentials: { spec: form('/api/oauth2/token', [['grant_type', 'client_credentials'], ['scope', 'reports:read']],
      { ...BASIC, dpop: '$DPOP_TOKEN' }) },
    dpop_refresh: { spec: form('/api/oauth2/token', [['grant_type', 'refresh_token'], ['refresh_token', '$REFRESH']],
      { ...BASIC, dpop: '$DPOP_TOKEN' }) },
    assertion_client_credentials: { spec: form('/api/oauth2/token', [['grant_type', 'client_credentials'],
      ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], ['client_assertion', '$ASSERTION']]) },
    assertion_introspect: { spec: form('/api/oauth2/introspect', [['token', '$KEY_ACCESS'], ['client_id', '$KEYCLIENT'],
      ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], ['client_assertion', '$ASSERTION']]) },
    userinfo_dpop: { spec: get('/api/oauth2/userinfo', [], { authorization: 'DPoP $DPOP_ACCESS', dpop: '$DPOP_USERINFO' }) },
    authorize_dpop_jkt: { spec: get('/oauth2/authorize', authorizeQuery([['prompt', 'none'], ['dpop_jkt', '$JKT']]), COOKIES) },
  },
  'pushed authorization requests (RFC 9126)': {
    par_basic: { spec: form('/api/oauth2/par', authorizeQuery([['prompt', 'none']]), BASIC) },
    par_public: { spec: form('/api/oauth2/par', [['response_type', 'code'], ['client_id', '$PUB'], ['redirect_uri', '$LOOPBACK_CB'],
      ['scope', 'openid nickname'], ['state', 'st'], ['code_challenge', '$CHALLENGE'], ['code_challenge_method', 'S256']]) },
    par_dpop: { spec: form('/api/oauth2/par', authorizeQuery(), { ...BASIC, dpop: '$DPOP_PAR' }) },
    authorize_request_uri: { spec: get('/oauth2/authorize', [['client_id', '$CONF'], ['request_uri', '$PAR_URI']], COOKIES) },
  },
  'dynamic client registration (RFC 7591, RFC 7592)': {
    register: { spec: { method: 'POST', path: '/api/oauth2/register', query: [], body: { kind: 'json', value: {
      client_name: 'Fuzz agent', redirect_uris: ['$APP_CB'], grant_types: ['authorization_code', 'client_credentials'], scope: 'openid reports:read',
      alias_channels: [{ name: 'news', description: 'News' }], logo_uri: 'https://app.example/logo.png' } },
      headers: { authorization: 'Bearer $IAT', 'content-type': 'application/json' } } },
    register_public: { spec: { method: 'POST', path: '/api/oauth2/register', query: [], body: { kind: 'json', value: {
      client_name: 'Fuzz native', redirect_uris: ['$LOOPBACK_CB'], token_endpoint_auth_method: 'none', response_types: ['code'] } },
      headers: { authorization: 'Bearer $IAT', 'content-type': 'application/json' } } },
    read: { spec: get('/api/oauth2/register/$REGCLIENT', [], { authorization: 'Bearer $RAT' }) },
    replace: { spec: { method: 'PUT', path: '/api/oauth2/register/$REGCLIENT', query: [], body: { kind: 'json', value: {
      client_id: '$REGCLIENT', client_name: 'Fuzz agent 2', redirect_uris: ['$APP_CB'], token_endpoint_auth_method: 'client_secret_post' } },
      headers: { authorization: 'Bearer $RAT', 'content-type': 'application/json' } } },
    remove: { spec: { method: 'DELETE', path: '/api/oauth2/register/$REGCLIENT', query: [], headers: { authorization: 'Bearer $RAT' } } },
  },
  'unsubscribe, discovery, JWKS and the rest': {
    unsubscribe_page: { spec: get('/unsubscribe/$UNSUB', [], COOKIES) },
    unsubscribe_one_click: { spec: form('/unsubscribe/$UNSUB', [['List-Unsubscribe', 'One-Click']]) },
    unsubscribe_multipart: { spec: { method: 'POST', path: '/unsubscribe/$UNSUB', query: [],
      body: { kind: 'multipart', pairs: [['List-Unsubscribe', 'One-Click']] }, headers: { 'content-type': 'multipart/form-data; boundary=x' } } },
    unsubscribe_form: { spec: form('/unsubscribe/$UNSUB', [['csrf', '$CSRF']], COOKIES) },
    discovery: { spec: get('/.well-known/openid-configuration') },
    as_metadata: { spec: get('/.well-known/oauth-authorization-server') },
    // RFC 9728: the relay API's protected resource metadata.
    resource_metadata: { spec: get('/.well-known/oauth-protected-resource/api/v1/messages') },
    jwks: { spec: get('/oauth2/jwks') },
    healthz: { spec: get('/healthz') },
    root: { spec: get('/') },
    stylesheet: { spec: get('/static/alias.css') },
    preflight: { spec: { method: 'OPTIONS', path: '/api/oauth2/token', query: [],
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } } },
  },
};

/** The fixed world every case runs in. */
interface World {
  alias: Alias;
  /** A private_key_jwt client (RFC 7523) and its key; the DPoP key of the run. */
  keyClient: Client;
  clientKey: CryptoKeyPair;
  dpopKey: CryptoKeyPair;
  user: User & { password: string };
  /** The fixture account's stored password hash (see cheapPasswordHash). */
  cheapHash: string;
  conf: Client;
  confSecret: string;
  pub: Client;
  /** A confidential client registered for client_secret_post. */
  post: Client;
  postSecret: string;
  browser: string;
  unsub: string;
  /** The fuzz user's registered passkey (authenticate_verify signs in with it). */
  authenticator: SoftAuthenticator;
  /** SQLite: the trigger-written change log (property 3 without full snapshots). */
  changes?: ChangeLog;
  /** Cases run so far (for tidy). */
  cases: number;
}

/**
 * An argon2id hash of the fixture account's password with the smallest parameters. Alias
 * verifies whatever argon2 hash it has stored (its own cost parameters only apply to the
 * hashes it makes), so every sign-in path runs as it does with a full-cost hash, in a
 * fraction of a millisecond instead of about 15 ms of CPU per attempt: the fuzz is about
 * how input is handled, not about argon2's cost (nine templates check this password).
 */
const cheapPasswordHash = (password: string) =>
  argon2Hash(password, { algorithm: 2 /* Argon2id */, memoryCost: 64, timeCost: 1, parallelism: 1 });

/** A case that set a new password (password change, reset) stored a full-cost hash: the cheap one goes back. */
async function keepCheapHash(w: World): Promise<void> {
  const { store } = w.alias.s;
  const stored = await store.users.get(w.user.id);
  if (stored && stored.passwordHash !== w.cheapHash) await store.users.update({ ...stored, passwordHash: w.cheapHash });
}

/** Templates whose success stores a new (full-cost) hash of the fixture account's password. */
const SETS_PASSWORD = /^\/(account\/password|reset\/)/;

/** Cases between two tidy-ups: 700 s of the run's clock at 7 s a case, about serve's janitor interval. */
const TIDY_EVERY = 100;

/**
 * Between two cases, every TIDY_EVERY: what `serve` does every 10 minutes, and what only
 * the fuzz piles up. Without it a run of 10,000 cases per endpoint leaves hundreds of
 * thousands of sessions, tokens and audit events to the one fixture account, and every
 * page that lists them (the account page, the export) grows slower with each case.
 */
async function tidy(w: World): Promise<void> {
  const { s } = w.alias;
  // serve's janitor (src/maintenance/janitor.ts): expired sessions, codes, tokens, interactions…
  await s.janitor.runOnce();
  // Not state (NOT_STATE), and the export lists all of it.
  await s.db.kysely.deleteFrom('audit_events').execute();
  s.db.readCache?.changed();
  // The spare passkeys the rename and remove templates add (the fixture's own key stays).
  for (const p of await s.store.passkeys.listByUser(w.user.id)) {
    if (p.credentialId !== w.authenticator.credentials[0]!.id) await s.store.passkeys.delete(w.user.id, p.id);
  }
  await keepCheapHash(w);
  await w.changes?.prune();
}

const challengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** The grant of `client` for the user, restored to everything when a case took something back. */
async function ensureGrant(w: World, client: Client): Promise<Grant> {
  const { s } = w.alias;
  const channels = client.channels.length ? ['news'] : [];
  const g = await s.store.grants.get(w.user.id, client.id);
  if (g && USER_SCOPES.every((x) => g.scopes.includes(x)) && channels.every((c) => g.channels.includes(c))) return g;
  return s.consent.record({ userId: w.user.id, clientId: client.id, requestedScopes: USER_SCOPES, requestedChannels: channels,
    approvedScopes: USER_SCOPES, approvedChannels: channels });
}

/** Mints the valid values a case's request names (only those), as `$NAME` → value. */
async function material(w: World, t: Template, text: string): Promise<Map<string, string>> {
  const { s } = w.alias;
  const uses = (...names: string[]) => names.some((n) => text.includes(n));
  const v = new Map<string, string>([
    ['$CONFBASIC_B64', Buffer.from(`${formEncode(w.conf.id)}:${formEncode(w.confSecret)}`).toString('base64')],
    ['$CONF', w.conf.id], ['$PUB', w.pub.id], ['$POSTCONF', w.post.id], ['$POSTSECRET', w.postSecret], ['$SECRET', w.confSecret], ['$EMAIL', w.user.email], ['$PASSWORD', w.user.password],
    ['$BROWSER', w.browser], ['$CSRF', s.secrets.mac('csrf', w.browser)], ['$UNSUB', w.unsub], ['$APP_CB', APP_CB],
    ['$LOOPBACK_CB', LOOPBACK_CB], ['$LOGOUT_CB', LOGOUT_CB], ['$RUNID', mintOpaque(9)],
  ]);
  v.set('$CONFBASIC', `Basic ${v.get('$CONFBASIC_B64')}`);
  const verifier = mintOpaque();
  v.set('$VERIFIER', verifier);
  v.set('$CHALLENGE', challengeOf(verifier));
  const t0 = s.now();
  const grant = await ensureGrant(w, w.conf);
  v.set('$SUB', grant.sub);
  v.set('$GRANT', grant.id);
  let session: string | undefined;
  if (uses('$SESSION', '$COOKIES', '$INTERACTION')) {
    session = mintOpaque();
    await s.store.sessions.insert({ idDigest: digest(session), userId: w.user.id, authTime: t0, createdAt: t0, expiresAt: t0 + 3600_000, device: null, lastSeenAt: t0, amr: ['pwd'] });
    v.set('$SESSION', session);
    v.set('$COOKIES', `alias_session=${session}; alias_browser=${w.browser}`);
  }
  const code = async (client: Client, grantFor: Grant, redirectUri: string) => {
    const value = mintOpaque();
    await s.store.codes.insert({ digest: digest(value), clientId: client.id, userId: w.user.id, grantId: grantFor.id,
      familyId: newFamilyId(s.now()), redirectUri, codeChallenge: challengeOf(verifier), scopes: ['openid', 'offline_access', 'nickname'],
      channels: [], nonce: 'n', authTime: t0, amr: ['pwd'], createdAt: t0, expiresAt: t0 + 60_000, consumedAt: null });
    return value;
  };
  if (uses('$CODE')) v.set('$CODE', await code(w.conf, grant, APP_CB));
  if (uses('$POSTCODE')) v.set('$POSTCODE', await code(w.post, await ensureGrant(w, w.post), APP_CB));
  if (uses('$PUBCODE')) v.set('$PUBCODE', await code(w.pub, await ensureGrant(w, w.pub), LOOPBACK_CB));
  if (uses('$ACCESS', '$REFRESH', '$IDTOKEN')) {
    // An ID token (a signature) only for the cases that name one.
    const idToken = uses('$IDTOKEN');
    const minted = await s.store.transaction((tx) => s.tokens.forUser(tx, { client: w.conf, grant, familyId: newFamilyId(s.now()),
      scopes: USER_SCOPES, channels: ['news'], authTime: t0, amr: ['pwd'], nonce: 'n', ...(idToken ? {} : { idToken: false }) }));
    const body = await s.tokens.complete(minted);
    v.set('$ACCESS', body.access_token);
    v.set('$REFRESH', body.refresh_token!);
    if (idToken) v.set('$IDTOKEN', body.id_token!);
  }
  // RFC 9449 proofs and an RFC 7523 assertion, fresh for each case (each is single use).
  const dpopProof = async (htm: string, htu: string, extra: Record<string, string> = {}) => new SignJWT({ htm, htu, jti: mintOpaque(12),
    nonce: s.dpop.nonce(), ...extra }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(w.dpopKey.publicKey) })
    .setIssuedAt(Math.floor(t0 / 1000)).sign(w.dpopKey.privateKey);
  if (uses('$DPOP_TOKEN')) v.set('$DPOP_TOKEN', await dpopProof('POST', `${w.alias.issuer}/api/oauth2/token`));
  if (uses('$DPOP_PAR')) v.set('$DPOP_PAR', await dpopProof('POST', `${w.alias.issuer}/api/oauth2/par`));
  if (uses('$JKT')) v.set('$JKT', await calculateJwkThumbprint(await exportJWK(w.dpopKey.publicKey)));
  if (uses('$DPOP_ACCESS')) {
    const jkt = await calculateJwkThumbprint(await exportJWK(w.dpopKey.publicKey));
    const minted = await s.store.transaction((tx) => s.tokens.forUser(tx, { client: w.conf, grant, familyId: newFamilyId(s.now()),
      scopes: USER_SCOPES, channels: ['news'], authTime: t0, amr: ['pwd'], idToken: false, dpopJkt: jkt }));
    v.set('$DPOP_ACCESS', minted.body.access_token);
    v.set('$DPOP_USERINFO', await dpopProof('GET', `${w.alias.issuer}/api/oauth2/userinfo`,
      { ath: accessTokenHash(minted.body.access_token) }));
  }
  v.set('$KEYCLIENT', w.keyClient.id);
  if (uses('$ASSERTION')) {
    v.set('$ASSERTION', await new SignJWT({ jti: mintOpaque(12) }).setProtectedHeader({ alg: 'ES256', kid: 'fuzz' })
      .setIssuer(w.keyClient.id).setSubject(w.keyClient.id).setAudience(w.alias.issuer).setIssuedAt(Math.floor(t0 / 1000))
      .setExpirationTime(Math.floor(t0 / 1000) + 60).sign(w.clientKey.privateKey));
  }
  if (uses('$KEY_ACCESS')) {
    const token = mintOpaque();
    await s.store.accessTokens.insert({ digest: digest(token), clientId: w.keyClient.id, userId: null, grantId: null, familyId: null,
      scopes: [], channels: [], createdAt: t0, expiresAt: t0 + 1800_000, revokedAt: null });
    v.set('$KEY_ACCESS', token);
  }
  if (uses('$CC_ACCESS')) {
    const token = mintOpaque();
    await s.store.accessTokens.insert({ digest: digest(token), clientId: w.conf.id, userId: null, grantId: null, familyId: null,
      scopes: ['reports:read'], channels: [], createdAt: t0, expiresAt: t0 + 1800_000, revokedAt: null });
    v.set('$CC_ACCESS', token);
  }
  if (uses('$USERCODE', '$DEVICECODE')) {
    const deviceCode = mintOpaque();
    const userCode = newUserCode();
    const approved = t.device === 'approved';
    const pubGrant = approved ? await ensureGrant(w, w.pub) : undefined;
    await s.store.deviceCodes.insert({ deviceDigest: digest(deviceCode), userCode, clientId: w.pub.id, scopes: ['openid', 'nickname'],
      channels: [], status: approved ? 'approved' : 'pending', userId: approved ? w.user.id : null, grantId: pubGrant?.id ?? null,
      approvedScopes: approved ? ['openid', 'nickname'] : null, approvedChannels: approved ? [] : null, authTime: approved ? t0 : null, amr: approved ? ['pwd'] : null,
      intervalS: 5, lastPolledAt: null, createdAt: t0, expiresAt: t0 + 600_000, consumedAt: null });
    v.set('$DEVICECODE', deviceCode);
    v.set('$USERCODE', formatUserCode(userCode));
  }
  if (uses('$IAT')) v.set('$IAT', (await s.registration.createToken({ uses: 1 })).token);
  if (uses('$REGCLIENT', '$RAT')) {
    const { token } = await s.registration.createToken({ uses: 1 });
    const reg = await s.registration.register({ client_name: 'Registered', redirect_uris: [APP_CB] }, { bearer: token, source: '192.0.2.200' });
    v.set('$REGCLIENT', reg.client_id as string);
    v.set('$RAT', reg.registration_access_token as string);
  }
  // Mailed links of the fixture's account (a link changing its address is only looked at).
  const link = async (name: string, purpose: LinkPurpose, data: Record<string, string> = {}) => {
    if (uses(name)) v.set(name, await s.links.issue(s.store.linkTokens, purpose, w.user.id, data));
  };
  await link('$VERIFY', 'verify_email', { email: w.user.email });
  await link('$RESET', 'reset_password');
  await link('$CONFIRM', 'change_email', { email: `moved-${v.get('$RUNID')}@example.com` });
  await link('$CANCEL', 'cancel_email_change', { email: w.user.email, to: w.user.email });
  // Issue 15 §2: a pending second sign-in step of this browser for an account with TOTP on
  // (its last used step reset, its recovery code renewed, so the template works every time),
  // and an enrolment form's sealed secret with its current code.
  const totpCode = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: s.now() });
  if (uses('$PENDING')) {
    const mfaUser = await s.store.users.getByEmail('fuzz-mfa@example.com') ?? await w.alias.user({ email: 'fuzz-mfa@example.com' });
    await s.store.secondFactors.deleteTotp(mfaUser.id);
    await s.store.secondFactors.insertTotp({ userId: mfaUser.id, secretSealed: s.secrets.seal(FUZZ_TOTP_SECRET, 'totp-secrets'), lastStep: 0, createdAt: t0 });
    await s.store.secondFactors.replaceRecoveryCodes(mfaUser.id, [s.secrets.mac('recovery-code', `${mfaUser.id}:abcdefghij`)], t0);
    await s.throttle.clear(secondFactorKey(mfaUser.id));
    v.set('$PENDING', await s.links.issue(s.store.linkTokens, 'second_factor', mfaUser.id, { browser: digest(w.browser), next: '/account' }));
    v.set('$TOTPCODE', totpCode(FUZZ_TOTP_SECRET));
  }
  if (uses('$ENROLMENT')) {
    const enrolment = s.secondFactors.newEnrolment(w.user);
    v.set('$ENROLMENT', enrolment.sealed);
    v.set('$ENROLCODE', totpCode(enrolment.secret));
  }
  if (uses('$PKREG')) {
    // Passkeys added by earlier cases go (the fuzz key stays), so the per-account limit is never the answer.
    for (const p of await s.store.passkeys.listByUser(w.user.id)) {
      if (p.credentialId !== w.authenticator.credentials[0]!.id) await s.store.passkeys.delete(w.user.id, p.id);
    }
    const options = await s.passkeys.registrationOptions(w.user, w.browser);
    v.set('"$PKREG"', JSON.stringify(new SoftAuthenticator(w.alias.issuer).register(options)));
  }
  if (uses('$PKSIGNUP')) {
    const options = await s.passkeys.signupOptions(`pk-${v.get('$RUNID')}@example.com`.toLowerCase(), w.browser);
    v.set('"$PKSIGNUP"', JSON.stringify(new SoftAuthenticator(w.alias.issuer).register(options)));
  }
  if (uses('$PKRESET')) {
    const options = await s.passkeys.registrationOptions(w.user, w.browser);
    v.set('"$PKRESET"', JSON.stringify(new SoftAuthenticator(w.alias.issuer).register(options)));
  }
  if (uses('$PKAUTH')) v.set('"$PKAUTH"', JSON.stringify(w.authenticator.assert(await s.passkeys.authenticationOptions(w.browser))));
  if (uses('$PASSKEY')) {
    const id = randomBytes(16).toString('hex');
    await s.store.passkeys.insert({ id, userId: w.user.id, credentialId: mintOpaque(), publicKey: mintOpaque(), counter: 0, transports: [],
      backupEligible: false, backupState: false, deviceType: 'singleDevice', name: 'Spare', createdAt: t0, lastUsedAt: null });
    v.set('$PASSKEY', id);
  }
  if (uses('$PAR_URI')) {
    // RFC 9126: a request pushed by the confidential client, as the PAR endpoint stores it.
    const requestUri = `urn:ietf:params:oauth:request_uri:${mintOpaque(32)}`;
    await s.store.pushedRequests.insert({ digest: digest(requestUri), clientId: w.conf.id, params: { response_type: 'code',
      client_id: w.conf.id, redirect_uri: APP_CB, response_mode: 'query', scope: 'openid nickname', state: 'st', nonce: 'n-1', prompt: 'none',
      code_challenge: challengeOf(verifier), code_challenge_method: 'S256' }, createdAt: t0, expiresAt: t0 + 60_000 });
    v.set('$PAR_URI', requestUri);
  }
  if (uses('$INTERACTION')) {
    const id = mintOpaque(24);
    const i = t.interaction ?? { prompt: 'consent', authenticated: true };
    await s.store.interactions.insert({ id, browserDigest: digest(w.browser), clientId: w.conf.id,
      params: { response_type: 'code', client_id: w.conf.id, redirect_uri: APP_CB, scope: i.scope ?? 'openid nickname',
        ...(i.scope?.includes('contact') ? { channels: 'news' } : {}), state: 'st', prompt: i.prompt,
        code_challenge: challengeOf(verifier), code_challenge_method: 'S256' },
      authenticatedSession: i.authenticated && session ? digest(session) : null, createdAt: t0, expiresAt: t0 + 900_000 });
    v.set('$INTERACTION', id);
  }
  return v;
}

/** Why a response is a refusal (see the header), or undefined when the request was served. */
function rejection(w: Wire, status: number, headers: Record<string, unknown>, body: string): string | undefined {
  if (status >= 400 && status < 500) return `status ${status}`;
  const path = w.url.split('?')[0]!;
  const location = typeof headers.location === 'string' ? headers.location : undefined;
  if (path === '/oauth2/authorize') {
    if (location && /[?#&]error=/.test(location)) return 'an error redirect to the client';
    if (status === 200 && /<input[^>]*name="error"/.test(body)) return 'an error posted to the client (form_post)';
  }
  // (A redirect to /account that sets a new session cookie is a success: a re-entered
  // password whose `next` was not a known page goes to /account.)
  const setsSession = /alias_session=[^;]/.test(String(headers['set-cookie'] ?? ''));
  if (path.startsWith('/account/') && path !== '/account/login' && status === 303 && location === '/account' && !setsSession) return 'not signed in';
  return undefined;
}

/**
 * Changes a refusal may make because an RFC requires them:
 * - RFC 6749 §4.1.2 / RFC 9700 §4.14.2: a reused authorization code or refresh token
 *   (invalid_grant "already used") revokes the tokens issued from it;
 * - RFC 8628 §3.5: a device's poll (authorization_pending, slow_down, access_denied) records
 *   when it polled, and slow_down widens its interval;
 * - issue 15 §1: a refused passkey verification spends the challenge it took;
 * - RFC 9126 §4: a used request_uri is spent.
 */
function legitimateOnRejection(c: RowChange, w: Wire, error: { error?: string; error_description?: string } | undefined): boolean {
  // Issue 15 §1: a WebAuthn challenge is single use; a verification that was refused
  // after taking it has spent it (a replay must not get another try).
  if (w.url.startsWith('/api/passkeys/') && w.url.includes('/verify') && c.table === 'webauthn_challenges' && c.kind === 'delete') return true;
  // RFC 9126 §4: a request_uri is one-time use: taken when presented, whatever the
  // pushed request then ends in (an error sent back to the client included).
  if (w.url.startsWith('/oauth2/authorize') && c.table === 'pushed_authorization_requests' && c.kind === 'delete') return true;
  if (w.url.split('?')[0] !== '/api/oauth2/token' || !error) return false;
  if (error.error === 'invalid_grant' && /already used/.test(error.error_description ?? '') && c.kind === 'update' &&
    (c.table === 'access_tokens' || c.table === 'refresh_tokens') && c.columns.every((x) => x === 'revoked_at') &&
    c.before?.revoked_at === null) return true;
  if (['authorization_pending', 'slow_down', 'access_denied'].includes(error.error ?? '') && c.table === 'device_codes' &&
    c.kind === 'update' && c.columns.every((x) => x === 'last_polled_at' || x === 'interval_s')) return true;
  return false;
}

const STACK = /\n\s+at |\.ts:\d+:\d+|node:internal/;

/** Where a template's cases spend their time (ms), for the per-1000 diagnostic. */
const spent = { material: 0, request: 0, state: 0 };

/** Runs one case and checks every property. */
async function check(w: World, t: Template, mutations: Parameters<typeof mutate>[1]) {
  const { alias } = w;
  const k = alias.s.db.kysely;
  // Work an earlier case's answer started after it was sent (the reset mail of /forgot)
  // belongs to that case: it must not land inside this case's window.
  await alias.s.background.settled();
  // Lockouts would hide the deep paths from later cases; they are tested elsewhere. (Only
  // when there are any: an empty table needs no delete, and each delete is a commit.)
  if (await k.selectFrom('throttles').select('key').limit(1).executeTakeFirst()) {
    await k.deleteFrom('throttles').execute();
    // Written behind the store's back: tell its read cache (src/store/sqlite/read_cache.ts).
    alias.s.db.readCache?.changed();
  }
  // 7 s per case: device polling intervals pass and the relay's per-minute limits stay
  // reachable without being the only answer.
  alias.advance(7_000);
  if (++w.cases % TIDY_EVERY === 0) await tidy(w);
  else if (SETS_PASSWORD.test(t.spec.path)) await keepCheapHash(w);
  const mutated = mutate(t.spec, mutations);
  const t0 = performance.now();
  const values = await material(w, t, JSON.stringify(mutated) + JSON.stringify(t.spec));
  spent.material += performance.now() - t0;
  const names = [...values.keys()].sort((a, b) => b.length - a.length);
  const sub = (text: string) => (text.includes('$') ? names.reduce((acc, n) => acc.split(n).join(values.get(n)!), text) : text);
  const wire = serialize(mutated, sub);
  const what = () => `${describeWire(wire)}\n  mutations: ${JSON.stringify(mutations).slice(0, 600)}`;

  const t1 = performance.now();
  const before = w.changes ? await w.changes.mark() : await snapshotRows(alias, NOT_STATE);
  const started = performance.now();
  spent.state += started - t1;
  const res = await alias.app.inject({ method: wire.method as 'GET', url: wire.url, headers: wire.headers, payload: wire.payload });
  const elapsed = performance.now() - started;
  spent.request += elapsed;
  const body = res.body;
  const path = wire.url.split('?')[0]!;
  if (process.env.ALIAS_FUZZ_LOG) process.stderr.write(`FUZZ ${res.statusCode} ${wire.method} ${path.slice(0, 60)} ${body.slice(0, 100).replace(/\s+/g, ' ')}\n`);

  // 1. Never a 5xx.
  ensure(res.statusCode < 500, () => `${res.statusCode} for\n${what()}\n  answer: ${body.slice(0, 500)}`);
  ensure(!STACK.test(body), () => `a stack trace in the answer to\n${what()}`);
  // A request that holds the event loop for seconds stalls every other request: a hang
  // is a crash that has not happened yet.
  ensure(elapsed < SLOW_MS, () => `${Math.round(elapsed)} ms to answer\n${what()}`);

  // 2. Error shapes.
  let error: { error?: string; error_description?: string } | undefined;
  if (res.statusCode >= 400 && wire.method !== 'HEAD') {
    const type = String(res.headers['content-type'] ?? '');
    const challenge = String(res.headers['www-authenticate'] ?? '');
    if (isApiPath(wire.url)) {
      const noCredentials = path === '/api/oauth2/userinfo' && res.statusCode === 401 && /^Bearer realm="[^"]*"$/.test(challenge);
      if (noCredentials) {
        ensure(body === '', () => `RFC 6750 §3.1: no error information without credentials\n${what()}`);
      } else {
        ensure(/^application\/json/.test(type), () => `API errors are application/json (got ${type}) for\n${what()}\n  answer: ${body.slice(0, 300)}`);
        let parsed: unknown;
        try { parsed = JSON.parse(body); } catch { assert.fail(`API error body is JSON for\n${what()}`); }
        error = parsed as typeof error;
        const keys = parsed !== null && typeof parsed === 'object' ? Object.keys(parsed).sort() : [];
        ensure(keys.length === 2 && keys[0] === 'error' && keys[1] === 'error_description',
          () => `exactly {error, error_description}: ${body.slice(0, 300)}\n${what()}`);
        ensure(ERROR_CODE.test(String(error!.error)), () => `error code characters (RFC 6749 §5.2)\n${what()}`);
        ensure(DESCRIPTION.test(String(error!.error_description)), () => `error_description characters (RFC 6749 §5.2)\n${what()}`);
      }
    } else {
      ensure(/^text\/html/.test(type), () => `page errors are pages (got ${type}) for\n${what()}`);
    }
  }

  // 3. A refusal changes nothing.
  const refused = rejection(wire, res.statusCode, res.headers as Record<string, unknown>, body);
  if (refused) {
    const t2 = performance.now();
    const all = typeof before === 'number' ? await w.changes!.since(before) : diffRows(before, await snapshotRows(alias, NOT_STATE));
    spent.state += performance.now() - t2;
    const changes = all.filter((c) => !legitimateOnRejection(c, wire, error));
    ensure(changes.length === 0, () => `a refused request (${refused}: ${body.slice(0, 200)}) changed stored state:\n` +
      `${changes.map((c) => `  ${c.kind} ${c.table} ${c.key.slice(0, 60)} ${c.columns.join(',')}`).join('\n')}\n${what()}`);
  }
  return { status: res.statusCode, body };
}

// ---- where the cases run -------------------------------------------------------------
// In worker threads, never on the test runner's own thread: Node 20's test runner follows
// every promise of its thread with an async hook (init and destroy), which made each
// promise about 20 times dearer there, and a request makes hundreds. Each worker holds one
// world (its own Alias and database); ALIAS_FUZZ_WORKERS=N starts N of them side by side
// (test/fuzz/deep.sh: one per core) and each group goes whole to the next free one, its
// templates in order, as in a one-worker run.

/** Worlds side by side (default 1: `npm test` runs files in parallel already). */
const WORKERS = Math.max(1, Number(process.env.ALIAS_FUZZ_WORKERS ?? 1) || 1);

type Job = { t: 'start' } | { t: 'group'; group: string; names: string[] } | { t: 'close' };
type Answer = { ok: true; diagnostics: string[] } | { ok: false; message: string };

/** The fixed world: the fixture account, clients, passkey and keys every case refers to. */
async function createWorld(kind: DatabaseKind): Promise<World> {
  const alias = await startAlias(kind, { listen: false });
  const user = await alias.user({ email: 'fuzz@example.com', password: 'fuzz password 1234' });
  const cheapHash = await cheapPasswordHash(user.password);
  await alias.s.store.users.update({ ...user, passwordHash: cheapHash });
  const { client: conf, secret } = await alias.client({
    name: 'Fuzz app', redirectUris: [APP_CB], postLogoutRedirectUris: [LOGOUT_CB],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', DEVICE_GRANT],
    scopes: ['reports:read'], channels: ['news:Product news'],
  });
  await alias.s.store.resources.insert({ uri: 'https://api.example/v1', name: 'Fuzz API', scopes: ['reports:read'],
    tokenFormat: 'jwt', ttlS: 300, createdAt: alias.s.now() });
  const { client: pub } = await alias.client({ name: 'Fuzz TV', redirectUris: [LOOPBACK_CB], isPublic: true,
    grantTypes: ['authorization_code', DEVICE_GRANT] });
  const browser = mintOpaque();
  const authenticator = new SoftAuthenticator(alias.issuer);
  const registered = await alias.s.passkeys.register({ user, browserId: browser, name: 'Fuzz key',
    response: authenticator.register(await alias.s.passkeys.registrationOptions(user, browser)) });
  assert.ok(registered.ok, 'the fuzz passkey is registered');
  // RFC 7523: a private_key_jwt client, set up through the store (the registry's fields).
  const clientKey = await generateKeyPair('ES256');
  const { client: keyed } = await alias.client({ name: 'Fuzz agent', redirectUris: [], grantTypes: ['client_credentials'] });
  const keyClient: Client = { ...keyed, tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [{ ...await exportJWK(clientKey.publicKey), kid: 'fuzz', alg: 'ES256' }] } };
  await alias.s.store.clients.update(keyClient);
  // RFC 7591 §2: a client sends its secret only the way it registered; this one in the body.
  const { client: post, secret: postSecret } = await alias.client({ name: 'Fuzz post app', redirectUris: [APP_CB],
    grantTypes: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'client_secret_post' });
  return { alias, user, cheapHash, conf, confSecret: secret!, pub, post, postSecret: postSecret!, browser, authenticator, keyClient, clientKey,
    dpopKey: await generateKeyPair('ES256'),
    unsub: unsubscribeToken(alias.s.secrets, { userId: user.id, clientId: conf.id, channel: 'news' }), cases: 0,
    ...(kind.name === 'sqlite' && !FULL_SNAPSHOTS ? { changes: await installChangeLog(alias, NOT_STATE) } : {}) };
}

/** One group's templates: each as is, then `runs` fuzz cases of each; its time per template. */
async function runGroup(w: World, runs: number, templates: [string, Template][]): Promise<string[]> {
  // Every template as is first: a fuzz case's baseline must be a request that works.
  for (const [name, t] of templates) {
    const res = await check(w, t, []).catch((err: Error) => { err.message = `template ${name}: ${err.message}`; throw err; });
    // (A device that polls before the user approved is told to wait: RFC 8628 §3.5.)
    if (name !== 'device_pending') assert.ok(res.status < 400, `template ${name} works: ${res.status} ${res.body.slice(0, 300)}`);
  }
  const diagnostics: string[] = [];
  // `runs` cases per endpoint: one property per template, so each gets its share.
  for (const [name, t] of templates) {
    const started = performance.now();
    Object.assign(spent, { material: 0, request: 0, state: 0 });
    await fc.assert(fc.asyncProperty(cases([name]), async ({ mutations }) => {
      await check(w, t, mutations);
    }), { seed: SEED, path: PATH, numRuns: runs, endOnFailure: !!process.env.ALIAS_FUZZ_NO_SHRINK });
    const perThousand = (performance.now() - started) / runs * 1000;
    const share = (ms: number) => `${(ms / runs).toFixed(1)}`;
    diagnostics.push(`${name}: ${runs} cases, ${(perThousand / 1000).toFixed(1)} s per 1000 (ms per case: request ${share(spent.request)}, ` +
      `minting ${share(spent.material)}, state check ${share(spent.state)})`);
  }
  return diagnostics;
}

/**
 * An error as the test thread reports it: its message (as amended since), where it was
 * thrown, and its causes (fast-check 4 puts the failed check's own message in `cause`,
 * not in its "Property failed" message).
 */
const errorText = (err: unknown): string => (err instanceof Error
  ? [err.message, ...(err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)),
    ...(err.cause === undefined ? [] : [`Caused by: ${errorText(err.cause)}`])].join('\n') : String(err));

/** A worker thread's side: one world, the jobs its test thread sends, one at a time. */
function serveJobs(): void {
  const kind = (workerData as { database: DatabaseKind['name'] }).database === 'postgres' ? postgres : sqlite;
  const runs = RUNS ?? DEFAULT_RUNS[kind.name];
  let world: World | undefined;
  const handle = async (job: Job): Promise<string[]> => {
    if (job.t === 'start') { world = await createWorld(kind); return []; }
    if (!world) throw new Error('the world was not created');
    if (job.t === 'group') return runGroup(world, runs, job.names.map((n): [string, Template] => [n, GROUPS[job.group]![n]!]));
    // The thread is alive and the app still answers.
    const res = await world.alias.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
    await world.alias.close();
    return [];
  };
  parentPort!.on('message', (job: Job) => {
    handle(job).then((diagnostics) => parentPort!.postMessage({ ok: true, diagnostics } satisfies Answer),
      (err: unknown) => parentPort!.postMessage({ ok: false, message: errorText(err) } satisfies Answer));
  });
}

/** The test thread's side: the workers, each doing one job at a time. */
class Workers {
  readonly #idle: Worker[] = [];
  readonly #queue: ((w: Worker) => void)[] = [];
  readonly #all: Worker[] = [];
  readonly #exited = new Map<Worker, string>();

  constructor(kind: DatabaseKind, n: number) {
    // Workers do not inherit the test runner's TypeScript loader: register it, then load this file.
    const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register();\n` +
      `await import(${JSON.stringify(import.meta.url)});`;
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: { database: kind.name } });
      w.on('error', (err) => this.#exited.set(w, `the fuzz worker failed (a crash of the process): ${err.stack ?? err.message}`));
      w.on('exit', (code) => { if (!this.#exited.has(w)) this.#exited.set(w, `the fuzz worker exited (code ${code})`); });
      this.#all.push(w);
      this.#idle.push(w);
    }
  }

  /** Sends a job to one worker and waits for its answer (or its death). */
  #ask(w: Worker, job: Job): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const dead = () => new Error(this.#exited.get(w) ?? 'the fuzz worker is gone');
      if (this.#exited.has(w)) { reject(dead()); return; }
      const off = () => { w.off('message', onMessage); w.off('exit', onExit); };
      const onMessage = (a: Answer) => { off(); if (a.ok) resolve(a.diagnostics); else reject(new Error(a.message)); };
      // ('error' comes before 'exit', and is recorded by then.)
      const onExit = () => { off(); reject(dead()); };
      w.on('message', onMessage).on('exit', onExit);
      w.postMessage(job);
    });
  }

  /** Every worker builds its world. */
  async start(): Promise<void> { await Promise.all(this.#all.map((w) => this.#ask(w, { t: 'start' }))); }

  /** A job on the next free worker. */
  async run(job: Job): Promise<string[]> {
    const w = this.#idle.pop() ?? await new Promise<Worker>((resolve) => this.#queue.push(resolve));
    try {
      return await this.#ask(w, job);
    } finally {
      const next = this.#queue.shift();
      if (next) next(w); else this.#idle.push(w);
    }
  }

  /** Every world still answers; then they close. */
  async close(): Promise<void> {
    try {
      await Promise.all(this.#all.map((w) => this.#ask(w, { t: 'close' })));
    } finally {
      await Promise.all(this.#all.map((w) => w.terminate()));
    }
  }
}

if (!isMainThread) serveJobs();
else for (const kind of databaseKinds()) {
  const notHere = DATABASES && !DATABASES.includes(kind.name) ? `ALIAS_FUZZ_DATABASES=${DATABASES.join(',')}` : undefined;
  describe(`fuzz: every endpoint (${kind.name})`, { skip: kind.skip ?? notHere, concurrency: WORKERS }, () => {
    let workers: Workers;
    before(async () => {
      workers = new Workers(kind, WORKERS);
      await workers.start();
    });
    // The processes are alive and every app still answers.
    after(() => workers.close());

    templateIndex = 0;
    for (const [group, all] of Object.entries(GROUPS)) {
      const names = Object.keys(all).filter((name) => inShard() && (!ONLY || ONLY.test(`${group} / ${name}`)));
      it(group, { skip: names.length ? undefined : 'not selected (ALIAS_FUZZ_ONLY, ALIAS_FUZZ_SHARD)' }, async (ctx) => {
        for (const line of await workers.run({ t: 'group', group, names })) ctx.diagnostic(line);
      });
    }
  });
}
