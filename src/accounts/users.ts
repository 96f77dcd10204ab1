import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { User } from '../store/types.js';
import { dummyHash, hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { POLICIES, type Throttler } from '../throttle/throttle.js';
import { digest } from '../tokens/opaque.js';
import { unsafeText } from '../oauth/text.js';
import type { Audit } from '../audit/audit.js';

export class UserInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserInputError';
  }
}

// Pragmatic address check: one @, no spaces, a dot in the domain or a single label.
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
export const MAX_NICKNAME_LENGTH = 64;

export type LoginResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfter: number };

export interface Accounts {
  /** `emailVerified` defaults to true: an operator (CLI) or a test vouches for the address. */
  create(input: { email: string; password: string; nickname?: string | null; emailVerified?: boolean }): Promise<User>;
  get(id: string): Promise<User | undefined>;
  /**
   * Checks a password; failures count per account and per source address. Every checked
   * attempt is audited (at `ctx.clientId` when signing in to an app); a throttled one is
   * refused without a check and not logged, so a flood of refused retries cannot fill the log.
   */
  login(email: string, password: string, source: string, ctx?: LoginContext): Promise<LoginResult>;
  setNickname(userId: string, nickname: string | null): Promise<void>;
}

export interface LoginContext {
  /** The app being signed in to, if any. */
  clientId?: string;
  /** Which form or grant asked: authorize, account, device, password_grant, password_change. */
  via?: string;
}

function checkNewPassword(password: string) {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UserInputError(`the password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new UserInputError(`the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
}

export function validateNickname(nickname: string | null | undefined): string | null {
  if (nickname === undefined || nickname === null) return null;
  const n = nickname.trim();
  if (!n) return null;
  if (n.length > MAX_NICKNAME_LENGTH) throw new UserInputError(`nickname is longer than ${MAX_NICKNAME_LENGTH} characters`);
  // PRECIS / UTS #39 (issue 16 item 8): no controls, bidi overrides, separators or invisible characters.
  const problem = unsafeText(n);
  if (problem) throw new UserInputError(`nickname contains ${problem}`);
  return n;
}

export function createAccounts(store: Store, throttle: Throttler, now: () => number, audit: Audit): Accounts {
  return {
    async create({ email, password, nickname, emailVerified = true }) {
      const e = email.trim().toLowerCase();
      if (!EMAIL.test(e) || unsafeText(e)) throw new UserInputError(`'${JSON.stringify(email).slice(1, -1)}' is not an e-mail address`);
      checkNewPassword(password);
      const t = now();
      const user: User = {
        id: randomBytes(16).toString('hex'),
        email: e,
        passwordHash: await hashPassword(password),
        nickname: validateNickname(nickname),
        emailVerified,
        createdAt: t,
        updatedAt: t,
      };
      await store.users.insert(user);
      return user;
    },
    get: (id) => store.users.get(id),
    async login(email, password, source, ctx = {}) {
      const accountKey = `login:${digest(email.trim().toLowerCase())}`;
      const sourceKey = `login-source:${digest(source)}`;
      // Reserved before the password is checked (issue 16 item 1): parallel guesses are
      // counted one by one, so a burst gets no more checks than the allowance. Both
      // counters (one statement) and the account's row at once: two independent round trips
      // in the time of one (the row is only used once both reservations went through). A
      // refusal counts nothing on either counter.
      const lookup = email.length <= 320 ? store.users.getByEmail(email.trim()) : Promise.resolve(undefined);
      const [reserved, user] = await Promise.all([
        throttle.reserveAll([{ key: accountKey, policy: POLICIES.account }, { key: sourceKey, policy: POLICIES.source }]), lookup]);
      if (!reserved.ok) return { ok: false, reason: 'throttled', retryAfter: reserved.retryAfter };
      const ok = password.length <= MAX_PASSWORD_LENGTH &&
        await verifyPassword(user?.passwordHash ?? await dummyHash(), password) && user !== undefined;
      // Recorded right after the counters change (no transaction covers them); an unknown
      // e-mail address is logged without any user (never the address typed).
      const event = { type: 'login', clientId: ctx.clientId, userId: user?.id, ip: source,
        detail: ctx.via ? `via=${ctx.via}` : null } as const;
      if (!ok || !user) {
        // The reserved attempts stay counted as failures.
        await audit.record({ ...event, outcome: 'failure' });
        return { ok: false, reason: 'invalid' };
      }
      // A success clears the account's counter (which takes its reservation back too) and
      // returns the source's attempt, in one step, while the event is recorded.
      await Promise.all([reserved.release({ clear: [accountKey] }), audit.record({ ...event, outcome: 'success' })]);
      return { ok: true, user };
    },
    async setNickname(userId, nickname) {
      const user = await store.users.get(userId);
      if (!user) return;
      await store.users.update({ ...user, nickname: validateNickname(nickname), updatedAt: now() });
    },
  };
}
