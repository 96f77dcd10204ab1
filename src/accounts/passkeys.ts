// Passkeys (WebAuthn Level 3, issue 15 §1) with @simplewebauthn/server: registering a
// discoverable credential with user verification (on the account page, at sign-up
// instead of a password, through a reset link), signing in with one (also to
// re-authenticate or step up: then only the signed-in person's own), and the list the
// person manages (rename, remove; the last way in stays). The relying party is the
// issuer: RP ID = its host name, expected origin = its origin.
//
// Challenges are single use, bound to the browser that asked (the alias_browser
// cookie's digest) and to one purpose, and live 5 minutes (store.ts WebauthnChallengeRepo).
// A sign-in is two factors by itself: the authenticator holds the key (hwk, or swk when
// the credential is synced) and verified its user (RFC 8176 §2 `user`).
import { createHash, randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON, AuthenticatorTransportFuture, PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Store } from '../store/store.js';
import { UniqueViolation } from '../store/store.js';
import type { Passkey, User, WebauthnPurpose } from '../store/types.js';
import { detail, type Audit, type AuditSource } from '../audit/audit.js';
import type { AccountMailer } from '../mail/outbox.js';
import { POLICIES, type Throttler } from '../throttle/throttle.js';
import { digest } from '../tokens/opaque.js';
import { unsafeText } from '../oauth/text.js';
import type { AmrValue } from '../oauth/acr.js';
import { amrOf, shapeOf, transportsOf, userHandle, why, type Shape } from './passkey_responses.js';
import { changeFactor } from './factor_change.js';

export { amrOf } from './passkey_responses.js';

// The library costs ~0.3 s of CPU to load (and more under tsx): loaded on the first
// ceremony, not by every `aliasid` command that builds the services.
type WebAuthnServer = typeof import('@simplewebauthn/server');
let library: Promise<WebAuthnServer> | undefined;
const webauthn = (): Promise<WebAuthnServer> => (library ??= import('@simplewebauthn/server'));

export const CHALLENGE_TTL_MS = 5 * 60_000;
export const MAX_PASSKEY_NAME_LENGTH = 64;
/** More passkeys than anyone needs; a bound on what one account can store. */
export const MAX_PASSKEYS = 20;

export type PasskeyFailure =
  | { ok: false; reason: 'throttled'; retryAfter: number }
  | { ok: false; reason: 'challenge' | 'invalid' | 'unknown' | 'clone' | 'duplicate' | 'limit'; message: string };

/** A verified registration: the passkey to store (not stored yet) and what the ceremony proved. */
export type NewPasskey = { ok: true; passkey: Passkey; amr: AmrValue[] } | PasskeyFailure;
export type RegisterResult = NewPasskey;
export type AuthenticateResult = { ok: true; user: User; passkey: Passkey; amr: AmrValue[] } | PasskeyFailure;
/** `last`: the account has no password and this is its only passkey (the last way in stays). */
export type RemoveResult = 'removed' | 'none' | 'last';

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
  /**
   * Creation options for a sign-up with a passkey (issue 15 §1): the account does not exist
   * yet; its id is derived from the challenge and the address (`signupUserId`), so nothing
   * is stored but the challenge, and a taken address gets options of the same shape.
   */
  signupOptions(email: string, browserId: string): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /**
   * Verifies a registration response against its challenge (for `user`, or for the sign-up
   * of `signup`, an address) and returns the passkey to store: nothing is stored.
   */
  verifyNew(input: { browserId: string; response: unknown; name?: string; user?: User; signup?: string }): Promise<NewPasskey>;
  /** Verifies a registration response and stores the passkey; audited, and the person is mailed. */
  register(input: { user: User; browserId: string; response: unknown; name?: string; source?: AuditSource }): Promise<RegisterResult>;
  /** Request options for a discoverable sign-in (no allowCredentials), bound to `browserId`. */
  authenticationOptions(browserId: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /**
   * Verifies an assertion: counted per source before anything is checked; refuses a
   * counter that went backwards (a possible clone, audited). On success the credential's
   * counter and last use are stored and the sign-in is audited like a password sign-in.
   * With `userId` (re-authentication, step-up) the passkey must be that account's.
   */
  authenticate(input: { browserId: string; response: unknown; source: string; clientId?: string; via?: string; userId?: string }): Promise<AuthenticateResult>;
  list(userId: string): Promise<Passkey[]>;
  /** False when the name is unusable or the user has no such passkey. */
  rename(userId: string, id: string, name: string): Promise<boolean | string>;
  /** Removes the user's passkey unless it is their last way to sign in; audited, and the person is mailed. */
  remove(userId: string, id: string, source?: AuditSource): Promise<RemoveResult>;
}

/** A name the person typed, trimmed; or a reason it cannot be used. */
export function passkeyName(name: string): { name: string } | { problem: string } {
  const n = name.trim();
  if (!n) return { problem: 'the name is empty' };
  if (n.length > MAX_PASSKEY_NAME_LENGTH) return { problem: `the name is longer than ${MAX_PASSKEY_NAME_LENGTH} characters` };
  const problem = unsafeText(n);
  return problem ? { problem: `the name contains ${problem}` } : { name: n };
}

/**
 * The id of an account signed up with a passkey: derived from the ceremony's challenge and
 * the address, so options and verification agree without storing anything but the
 * challenge. 128 bits, like every account id (users.ts).
 */
export const signupUserId = (challenge: string, email: string): string =>
  createHash('sha256').update(`alias-signup-user\0${challenge}\0${email}`).digest('hex').slice(0, 32);

const HAS_PASSKEY = 'It can now sign you in without your password.';

export function createPasskeys(deps: PasskeyDeps): Passkeys {
  const { store, audit, throttle, now } = deps;
  const url = new URL(deps.issuer);
  const rp = { id: url.hostname, origin: url.origin };
  const invalid = (message: string): PasskeyFailure => ({ ok: false, reason: 'invalid', message });
  const duplicate: PasskeyFailure = { ok: false, reason: 'duplicate', message: 'this passkey is already registered' };
  const challengeGone: PasskeyFailure = { ok: false, reason: 'challenge',
    message: 'the challenge is unknown, expired, already used, or belongs to another browser or ceremony' };

  async function issueChallenge(challenge: string, purpose: WebauthnPurpose, browserId: string, userId: string | null) {
    const t = now();
    await store.webauthnChallenges.insert({ digest: digest(challenge), purpose, browserDigest: digest(browserId), userId,
      createdAt: t, expiresAt: t + CHALLENGE_TTL_MS });
  }

  const take = (shape: Shape, purpose: WebauthnPurpose, browserId: string) =>
    store.webauthnChallenges.take(digest(shape.challenge), purpose, digest(browserId), now());

  const IF_NOT_YOU = ['If this was not you, sign in, remove that passkey on your account page and change your password.'];

  /** Creation options with `challenge`, for the account `userId` (`name` is what the authenticator shows). */
  async function creationOptions(userId: string, name: string, displayName: string, exclude: Passkey[], challenge?: Uint8Array<ArrayBuffer>) {
    const { generateRegistrationOptions } = await webauthn();
    return generateRegistrationOptions({
      rpName: `Alias (${url.host})`, rpID: rp.id, userName: name, userDisplayName: displayName,
      userID: userHandle(userId), attestationType: 'none', timeout: CHALLENGE_TTL_MS, challenge,
      // Issue 15 §1: a discoverable credential (so sign-in needs no address) with user verification.
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      excludeCredentials: exclude.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransportFuture[] })),
    });
  }

  const self: Passkeys = {
    rp,
    async registrationOptions(user, browserId) {
      const options = await creationOptions(user.id, user.email, user.nickname ?? user.email, await store.passkeys.listByUser(user.id));
      await issueChallenge(options.challenge, 'register', browserId, user.id);
      return options;
    },

    async signupOptions(email, browserId) {
      const challenge = new Uint8Array(randomBytes(32));
      const options = await creationOptions(signupUserId(Buffer.from(challenge).toString('base64url'), email), email, email, [], challenge);
      await issueChallenge(options.challenge, 'signup', browserId, null);
      return options;
    },

    async verifyNew({ browserId, response, name, user, signup }) {
      const shape = shapeOf(response);
      if (!shape) return invalid('the credential response is malformed');
      let chosen: string | undefined;
      if (name !== undefined && name.trim()) {
        const n = passkeyName(name);
        if ('problem' in n) return invalid(n.problem);
        chosen = n.name;
      }
      const challenge = await take(shape, user ? 'register' : 'signup', browserId);
      if (!challenge || (user ? challenge.userId !== user.id : signup === undefined)) return challengeGone;
      const userId = user ? user.id : signupUserId(shape.challenge, signup!);
      let verified;
      try {
        const { verifyRegistrationResponse } = await webauthn();
        verified = await verifyRegistrationResponse({ response: response as RegistrationResponseJSON, expectedChallenge: shape.challenge,
          expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: true });
      } catch (err) {
        return invalid(`the credential could not be verified: ${why(err)}`);
      }
      if (!verified.verified || !verified.registrationInfo) return invalid('the credential could not be verified');
      const info = verified.registrationInfo;
      const existing = user ? await store.passkeys.listByUser(user.id) : [];
      if (existing.length >= MAX_PASSKEYS) return { ok: false, reason: 'limit', message: `an account can have at most ${MAX_PASSKEYS} passkeys` };
      const passkey: Passkey = {
        id: randomBytes(16).toString('hex'), userId, credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'), counter: info.credential.counter,
        transports: transportsOf((response as { response?: { transports?: unknown } }).response?.transports),
        backupEligible: info.credentialDeviceType === 'multiDevice', backupState: info.credentialBackedUp,
        deviceType: info.credentialDeviceType, name: chosen ?? `Passkey ${existing.length + 1}`, createdAt: now(), lastUsedAt: null,
      };
      return { ok: true, passkey, amr: amrOf(info) };
    },

    async register({ user, browserId, response, name, source }) {
      const made = await self.verifyNew({ browserId, response, name, user });
      if (!made.ok) return made;
      const { passkey } = made;
      try {
        await changeFactor(deps, user.id, async (tx) => {
          await tx.passkeys.insert(passkey);
          return { value: true,
            event: { type: 'passkey.added', ip: source?.ip, detail: detail({ device: passkey.deviceType, via: source?.via }) },
            notice: { purpose: 'passkey_added', subject: 'A passkey was added to your Alias account',
              lines: [`A passkey named “${passkey.name}” was added to your Alias account. ${HAS_PASSKEY}`], after: IF_NOT_YOU } };
        });
      } catch (err) {
        if (err instanceof UniqueViolation) return duplicate;
        throw err;
      }
      return made;
    },

    async authenticationOptions(browserId) {
      // Discoverable credentials: no allowCredentials, so the browser offers every passkey
      // it holds for this RP (and conditional mediation can fill the e-mail field).
      const { generateAuthenticationOptions } = await webauthn();
      const options = await generateAuthenticationOptions({ rpID: rp.id, userVerification: 'required', timeout: CHALLENGE_TTL_MS });
      await issueChallenge(options.challenge, 'authenticate', browserId, null);
      return options;
    },

    async authenticate({ browserId, response, source, clientId, via, userId }) {
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
      // Re-authentication and step-up: the signed-in person's own passkey, nobody else's.
      if (userId !== undefined && passkey.userId !== userId) return failed(invalid('this passkey belongs to another account'), userId);
      const handle = (response as { response: { userHandle?: unknown } }).response.userHandle;
      if (handle !== undefined && handle !== null && handle !== userHandle(passkey.userId).toString('base64url')) {
        return failed(invalid('the passkey names another account'), passkey.userId);
      }
      let verified;
      try {
        // The library's own counter rule is skipped (counter 0): Alias checks it below,
        // only once the signature is proven, so garbage cannot raise clone warnings.
        const { verifyAuthenticationResponse } = await webauthn();
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
      let last = false;
      const removed = await changeFactor(deps, userId, async (tx, user) => {
        // The last way in stays (issue 15 §1): an account without a password keeps one passkey.
        const all = user.passwordHash === null ? await tx.passkeys.listByUser(userId) : undefined;
        if (all && all.length <= 1) {
          last = all.some((p) => p.id === id);
          return undefined;
        }
        const gone = await tx.passkeys.delete(userId, id);
        if (!gone) return undefined;
        return { value: true,
          event: { type: 'passkey.removed', ip: source?.ip, detail: detail({ device: gone.deviceType, via: source?.via }) },
          notice: { purpose: 'passkey_removed', subject: 'A passkey was removed from your Alias account',
            lines: [`The passkey named “${gone.name}” was removed from your Alias account. It can no longer sign you in.`], after: IF_NOT_YOU } };
      });
      return removed ? 'removed' : last ? 'last' : 'none';
    },
  };
  return self;
}
