// Passkeys (WebAuthn Level 3, issue 15 §1) with @simplewebauthn/server: registering a
// discoverable credential with user verification on the account page, signing in with
// one, and the list the person manages (rename, remove). The relying party is the
// issuer: RP ID = its host name, expected origin = its origin.
//
// Challenges are single use, bound to the browser that asked (the alias_browser
// cookie's digest) and to one purpose, and live 5 minutes (store.ts WebauthnChallengeRepo).
// A sign-in is two factors by itself: the authenticator holds the key (hwk, or swk when
// the credential is synced) and verified its user (RFC 8176 §2 `user`).
import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type AuthenticatorTransportFuture, type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Store } from '../store/store.js';
import { UniqueViolation } from '../store/store.js';
import type { Passkey, User, WebauthnPurpose } from '../store/types.js';
import { detail, type Audit, type AuditSource } from '../audit/audit.js';
import type { AccountMailer } from '../mail/outbox.js';
import { accountMail } from '../mail/account_mail.js';
import { POLICIES, type Throttler } from '../throttle/throttle.js';
import { digest } from '../tokens/opaque.js';
import { unsafeText } from '../oauth/text.js';
import type { AmrValue } from '../oauth/acr.js';

export const CHALLENGE_TTL_MS = 5 * 60_000;
export const MAX_PASSKEY_NAME_LENGTH = 64;
/** More passkeys than anyone needs; a bound on what one account can store. */
export const MAX_PASSKEYS = 20;
/** Credential ids are at most 1023 bytes (WebAuthn §5.8.3 … §6.5.1): 1364 base64url characters. */
const MAX_CREDENTIAL_ID = 1364;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export type PasskeyFailure =
  | { ok: false; reason: 'throttled'; retryAfter: number }
  | { ok: false; reason: 'challenge' | 'invalid' | 'unknown' | 'clone' | 'duplicate' | 'limit'; message: string };

export type RegisterResult = { ok: true; passkey: Passkey } | PasskeyFailure;
export type AuthenticateResult = { ok: true; user: User; passkey: Passkey; amr: AmrValue[] } | PasskeyFailure;

export interface PasskeyDeps {
  store: Store;
  audit: Audit;
  accountMail: Pick<AccountMailer, 'enqueue' | 'kick'>;
  throttle: Throttler;
  issuer: string;
  now: () => number;
}

export interface Passkeys {
  /** The relying party: `{ id: host name, origin }` of the issuer. */
  readonly rp: { id: string; origin: string };
  /** Creation options for `user` (their passkeys excluded), with a fresh challenge bound to `browserId`. */
  registrationOptions(user: User, browserId: string): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Verifies a registration response and stores the passkey; audited, and the person is mailed. */
  register(input: { user: User; browserId: string; response: unknown; name?: string; source?: AuditSource }): Promise<RegisterResult>;
  /** Request options for a discoverable sign-in (no allowCredentials), bound to `browserId`. */
  authenticationOptions(browserId: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /**
   * Verifies an assertion: counted per source before anything is checked; refuses a
   * counter that went backwards (a possible clone, audited). On success the credential's
   * counter and last use are stored and the sign-in is audited like a password sign-in.
   */
  authenticate(input: { browserId: string; response: unknown; source: string; clientId?: string; via?: string }): Promise<AuthenticateResult>;
  list(userId: string): Promise<Passkey[]>;
  /** False when the name is unusable or the user has no such passkey. */
  rename(userId: string, id: string, name: string): Promise<boolean | string>;
  /** Removes the user's passkey; audited, and the person is mailed. False when there was none. */
  remove(userId: string, id: string, source?: AuditSource): Promise<boolean>;
}

/** A name the person typed, trimmed; or a reason it cannot be used. */
export function passkeyName(name: string): { name: string } | { problem: string } {
  const n = name.trim();
  if (!n) return { problem: 'the name is empty' };
  if (n.length > MAX_PASSKEY_NAME_LENGTH) return { problem: `the name is longer than ${MAX_PASSKEY_NAME_LENGTH} characters` };
  const problem = unsafeText(n);
  return problem ? { problem: `the name contains ${problem}` } : { name: n };
}

/** RFC 8176 §2: a synced (multi-device, backed-up) credential is a software key, else a hardware key. */
export function amrOf(info: { credentialDeviceType: string; credentialBackedUp: boolean }): AmrValue[] {
  return [info.credentialDeviceType === 'multiDevice' || info.credentialBackedUp ? 'swk' : 'hwk', 'user'];
}

/** Why the library refused a response, without echoing what the response carried (no per-request data in errors). */
function why(err: unknown): string {
  const m = err instanceof Error ? err.message : '';
  if (/origin/i.test(m)) return 'it was made for another origin';
  if (/RP ?ID/i.test(m)) return 'it was made for another relying party ID';
  if (/User verification/i.test(m)) return 'user verification is required';
  if (/User not present/i.test(m)) return 'user presence is required';
  if (/response type/i.test(m)) return 'it answers another kind of ceremony';
  return 'it is malformed or its signature is wrong';
}

type Shape = { id: string; clientDataJSON: string; challenge: string };

/** The parts of a credential response checked before the library sees it, or undefined. */
function shapeOf(response: unknown): Shape | undefined {
  if (!response || typeof response !== 'object' || Array.isArray(response)) return undefined;
  const r = response as Record<string, unknown>;
  const inner = r.response as Record<string, unknown> | undefined;
  if (typeof r.id !== 'string' || r.id.length > MAX_CREDENTIAL_ID || !BASE64URL.test(r.id) || r.rawId !== r.id || r.type !== 'public-key') return undefined;
  if (!inner || typeof inner !== 'object' || Array.isArray(inner) || typeof inner.clientDataJSON !== 'string') return undefined;
  if (inner.clientDataJSON.length > 16_384 || !BASE64URL.test(inner.clientDataJSON)) return undefined;
  let client: unknown;
  try {
    client = JSON.parse(Buffer.from(inner.clientDataJSON, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const challenge = (client as Record<string, unknown> | null)?.challenge;
  if (typeof challenge !== 'string' || challenge.length > 256) return undefined;
  return { id: r.id, clientDataJSON: inner.clientDataJSON, challenge };
}

const transportsOf = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string' && t.length <= 32).slice(0, 8) : [];

/** The user handle Alias gives an account's credentials: its id's bytes (no address, nothing personal). */
const userHandle = (userId: string) => Buffer.from(userId, 'utf8');

export function createPasskeys(deps: PasskeyDeps): Passkeys {
  const { store, audit, throttle, now } = deps;
  const url = new URL(deps.issuer);
  const rp = { id: url.hostname, origin: url.origin };
  const invalid = (message: string): PasskeyFailure => ({ ok: false, reason: 'invalid', message });
  const challengeGone: PasskeyFailure = { ok: false, reason: 'challenge',
    message: 'the challenge is unknown, expired, already used, or belongs to another browser or ceremony' };

  async function issueChallenge(challenge: string, purpose: WebauthnPurpose, browserId: string, userId: string | null) {
    const t = now();
    await store.webauthnChallenges.insert({ digest: digest(challenge), purpose, browserDigest: digest(browserId), userId,
      createdAt: t, expiresAt: t + CHALLENGE_TTL_MS });
  }

  const take = (shape: Shape, purpose: WebauthnPurpose, browserId: string) =>
    store.webauthnChallenges.take(digest(shape.challenge), purpose, digest(browserId), now());

  async function notice(tx: Store, user: User, purpose: string, subject: string, lines: string[]) {
    const mail = accountMail({ to: user.email, subject, lines,
      after: ['If this was not you, sign in, remove that passkey on your account page and change your password.'] }, deps.issuer);
    await deps.accountMail.enqueue(tx.mailOutbox, { ...mail, userId: user.id, purpose });
  }

  return {
    rp,
    async registrationOptions(user, browserId) {
      const existing = await store.passkeys.listByUser(user.id);
      const options = await generateRegistrationOptions({
        rpName: `Alias (${url.host})`, rpID: rp.id, userName: user.email, userDisplayName: user.nickname ?? user.email,
        userID: userHandle(user.id), attestationType: 'none', timeout: CHALLENGE_TTL_MS,
        // Issue 15 §1: a discoverable credential (so sign-in needs no address) with user verification.
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransportFuture[] })),
      });
      await issueChallenge(options.challenge, 'register', browserId, user.id);
      return options;
    },

    async register({ user, browserId, response, name, source }) {
      const shape = shapeOf(response);
      if (!shape) return invalid('the credential response is malformed');
      let chosen: string | undefined;
      if (name !== undefined && name.trim()) {
        const n = passkeyName(name);
        if ('problem' in n) return invalid(n.problem);
        chosen = n.name;
      }
      const challenge = await take(shape, 'register', browserId);
      if (!challenge || challenge.userId !== user.id) return challengeGone;
      let verified;
      try {
        verified = await verifyRegistrationResponse({ response: response as RegistrationResponseJSON, expectedChallenge: shape.challenge,
          expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: true });
      } catch (err) {
        return invalid(`the credential could not be verified: ${why(err)}`);
      }
      if (!verified.verified || !verified.registrationInfo) return invalid('the credential could not be verified');
      const info = verified.registrationInfo;
      const existing = await store.passkeys.listByUser(user.id);
      if (existing.length >= MAX_PASSKEYS) return { ok: false, reason: 'limit', message: `an account can have at most ${MAX_PASSKEYS} passkeys` };
      const t = now();
      const passkey: Passkey = {
        id: randomBytes(16).toString('hex'), userId: user.id, credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'), counter: info.credential.counter,
        transports: transportsOf((response as { response?: { transports?: unknown } }).response?.transports),
        backupEligible: info.credentialDeviceType === 'multiDevice', backupState: info.credentialBackedUp,
        deviceType: info.credentialDeviceType, name: chosen ?? `Passkey ${existing.length + 1}`, createdAt: t, lastUsedAt: null,
      };
      try {
        await store.transaction(async (tx) => {
          await tx.passkeys.insert(passkey);
          await audit.record({ type: 'passkey.added', userId: user.id, ip: source?.ip,
            detail: detail({ device: passkey.deviceType, via: source?.via }) }, tx);
          await notice(tx, user, 'passkey_added', 'A passkey was added to your Alias account',
            [`A passkey named “${passkey.name}” was added to your Alias account. It can now sign you in without your password.`]);
        });
      } catch (err) {
        if (err instanceof UniqueViolation) return { ok: false, reason: 'duplicate', message: 'this passkey is already registered' };
        throw err;
      }
      deps.accountMail.kick();
      return { ok: true, passkey };
    },

    async authenticationOptions(browserId) {
      // Discoverable credentials: no allowCredentials, so the browser offers every passkey
      // it holds for this RP (and conditional mediation can fill the e-mail field).
      const options = await generateAuthenticationOptions({ rpID: rp.id, userVerification: 'required', timeout: CHALLENGE_TTL_MS });
      await issueChallenge(options.challenge, 'authenticate', browserId, null);
      return options;
    },

    async authenticate({ browserId, response, source, clientId, via }) {
      // Reserved before anything is checked (DESIGN: a burst gets no more tries than the limit).
      const sourceKey = `passkey-source:${digest(source)}`;
      const reservation = await throttle.reserve(sourceKey, POLICIES.source);
      if (!reservation.ok) return { ok: false, reason: 'throttled', retryAfter: reservation.retryAfter };
      const failed = async (f: PasskeyFailure, userId?: string) => {
        await audit.record({ type: 'login', outcome: 'failure', clientId, userId, ip: source,
          detail: detail({ via, method: 'passkey' }) });
        return f;
      };
      const shape = shapeOf(response);
      if (!shape) return failed(invalid('the credential response is malformed'));
      if (!(await take(shape, 'authenticate', browserId))) return failed(challengeGone);
      const passkey = await store.passkeys.getByCredentialId(shape.id);
      if (!passkey) return failed({ ok: false, reason: 'unknown', message: 'this passkey is not registered here (it may have been removed)' });
      const handle = (response as { response: { userHandle?: unknown } }).response.userHandle;
      if (handle !== undefined && handle !== null && handle !== userHandle(passkey.userId).toString('base64url')) {
        return failed(invalid('the passkey names another account'), passkey.userId);
      }
      let verified;
      try {
        // The library's own counter rule is skipped (counter 0): Alias checks it below,
        // only once the signature is proven, so garbage cannot raise clone warnings.
        verified = await verifyAuthenticationResponse({ response: response as AuthenticationResponseJSON, expectedChallenge: shape.challenge,
          expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: true,
          credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: 0,
            transports: passkey.transports as AuthenticatorTransportFuture[] } });
      } catch (err) {
        return failed(invalid(`the passkey could not be verified: ${why(err)}`), passkey.userId);
      }
      if (!verified.verified) return failed(invalid('the passkey signature is wrong'), passkey.userId);
      const info = verified.authenticationInfo;
      // WebAuthn §6.1.1 signCount: a counter that did not grow (when either is non-zero)
      // means two copies of the key exist. Refused, and recorded for the operator.
      if ((info.newCounter > 0 || passkey.counter > 0) && info.newCounter <= passkey.counter) {
        await audit.record({ type: 'passkey.clone_warning', outcome: 'failure', clientId, userId: passkey.userId, ip: source,
          detail: detail({ stored: String(passkey.counter), presented: String(info.newCounter), via }) });
        return failed({ ok: false, reason: 'clone', message: 'the signature counter of this passkey went backwards; it may have been copied' }, passkey.userId);
      }
      const user = await store.users.get(passkey.userId);
      if (!user) return failed({ ok: false, reason: 'unknown', message: 'this passkey is not registered here (it may have been removed)' });
      const recorded = await store.passkeys.recordUse(passkey.id, passkey.counter,
        { counter: info.newCounter, backupState: info.credentialBackedUp, at: now() });
      if (!recorded) return failed(invalid('this passkey was used by another sign-in at the same moment'), passkey.userId);
      await Promise.all([reservation.release(), audit.record({ type: 'login', outcome: 'success', clientId, userId: user.id, ip: source,
        detail: detail({ via, method: 'passkey' }) })]);
      return { ok: true, user, passkey: { ...passkey, counter: info.newCounter, lastUsedAt: now() }, amr: amrOf(info) };
    },

    list: (userId) => store.passkeys.listByUser(userId),

    async rename(userId, id, name) {
      const n = passkeyName(name);
      if ('problem' in n) return n.problem;
      return store.passkeys.rename(userId, id, n.name);
    },

    async remove(userId, id, source) {
      const removed = await store.transaction(async (tx) => {
        const user = await tx.users.get(userId);
        if (!user) return false;
        const gone = await tx.passkeys.delete(userId, id);
        if (!gone) return false;
        await audit.record({ type: 'passkey.removed', userId, ip: source?.ip, detail: detail({ device: gone.deviceType, via: source?.via }) }, tx);
        await notice(tx, user, 'passkey_removed', 'A passkey was removed from your Alias account',
          [`The passkey named “${gone.name}” was removed from your Alias account. It can no longer sign you in.`]);
        return true;
      });
      if (removed) deps.accountMail.kick();
      return removed;
    },
  };
}
