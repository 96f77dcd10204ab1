// The contact relay's acceptance side: an app asks Alias to message one of its users,
// addressed by the alias ID it knows. Every send is checked against the user's current
// grant, rate-limited, made idempotent, and written to the outbox in one statement, so
// nothing accepted is ever lost. Delivery is the worker's job (worker.ts).
import { unsafeText } from '../oauth/text.js';
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Client, Grant, Message } from '../store/types.js';
import { UniqueViolation } from '../store/store.js';
import { OAuthError } from '../oauth/errors.js';
import { META_CHANNEL } from '../oauth/scopes.js';
import { withMeta } from '../oauth/channels.js';

export const LIMITS = {
  /** Characters (code points), one line. */
  subjectChars: 200,
  /** Bytes of UTF-8. */
  bodyBytes: 64 * 1024,
  idempotencyKeyChars: 255,
} as const;

export interface RateLimits {
  /** Messages a client may send per minute, to all its users together. */
  perClientPerMinute: number;
  /** Messages a client may send per minute to one user. */
  perUserPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { perClientPerMinute: 60, perUserPerMinute: 10 };
const WINDOW_MS = 60_000;

export interface MessageInput {
  to: string;
  channel: string;
  subject: string;
  body: string;
}

/** How a send was authorised: a user access token (already checked live), or the client alone. */
export type SendAuth =
  | { kind: 'token'; grant: Grant; scopes: string[]; channels: string[] }
  | { kind: 'client' };

export interface SendRequest {
  client: Client;
  auth: SendAuth;
  message: MessageInput;
  idempotencyKey?: string;
}

export interface Relay {
  /** Accepts a message, or replays the first acceptance of the same Idempotency-Key. */
  send(req: SendRequest): Promise<{ message: Message; replayed: boolean }>;
  /** The user's inbox: the latest `limit` messages apps sent them, newest first. */
  inbox(userId: string, limit: number): Promise<Message[]>;
  /** How many messages each (client, channel) sent the user. */
  counts(userId: string): Promise<{ clientId: string; channel: string; count: number }[]>;
}

const bad = (description: string) => new OAuthError('invalid_request', description);
const tooLarge = (description: string) => new OAuthError('invalid_request', description, { status: 413 });
/** The one refusal for anything the user's grant does not allow; it says nothing about the user. */
export const notAllowed = (description = 'the user has not allowed this application to send messages on this channel') =>
  new OAuthError('insufficient_scope', description, { status: 403 });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// C0 controls except TAB, LF and CR; DEL. (PostgreSQL text cannot hold NUL at all.)
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const CHANNEL = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

function text(body: Record<string, unknown>, field: keyof MessageInput): string {
  const v = body[field];
  if (v === undefined || v === null) throw bad(`'${field}' is required`);
  if (typeof v !== 'string') throw bad(`'${field}' must be a string`);
  if (LONE_SURROGATE.test(v)) throw bad(`'${field}' is not valid Unicode`);
  return v;
}

/** Validates a request body: 400 for malformed input, 413 beyond the size limits. */
export function parseMessage(body: unknown): MessageInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('the body must be a JSON object {"to", "channel", "subject", "body"}');
  }
  const b = body as Record<string, unknown>;
  const to = text(b, 'to');
  const channel = text(b, 'channel');
  const subject = text(b, 'subject');
  const content = text(b, 'body');
  if (!to || to.length > 256 || /[\u0000-\u0020\u007F]/.test(to)) throw bad("'to' must be an alias ID");
  if (!CHANNEL.test(channel)) throw bad("'channel' must be a channel name");
  if (/[\r\n]/.test(subject)) throw bad("'subject' must be one line (no CR or LF)");
  if (CONTROL.test(subject) || subject.includes('\t')) throw bad("'subject' contains control characters");
  // PRECIS / UTS #39 (issue 16 item 8): no C1 controls, bidi overrides, separators or invisible characters.
  const subjectProblem = unsafeText(subject);
  if (subjectProblem) throw bad(`'subject' contains ${subjectProblem}`);
  if (!subject.trim()) throw bad("'subject' must not be empty");
  if ([...subject].length > LIMITS.subjectChars) throw tooLarge(`'subject' is longer than ${LIMITS.subjectChars} characters`);
  if (CONTROL.test(content)) throw bad("'body' contains control characters");
  const bodyProblem = unsafeText(content.replace(/\r(?!\n)/g, '\n'), { multiline: true });
  if (bodyProblem) throw bad(`'body' contains ${bodyProblem}`);
  if (!content.trim()) throw bad("'body' must not be empty");
  if (Buffer.byteLength(content, 'utf8') > LIMITS.bodyBytes) throw tooLarge(`'body' is larger than ${LIMITS.bodyBytes} bytes (UTF-8)`);
  return { to, channel, subject, body: content };
}

/** An Idempotency-Key header value: 1–255 printable ASCII characters. */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) || !/^[\x20-\x7E]+$/.test(value) || value.length > LIMITS.idempotencyKeyChars || !value.trim()) {
    throw bad(`Idempotency-Key must be 1 to ${LIMITS.idempotencyKeyChars} printable ASCII characters`);
  }
  return value;
}

/** True when the grant lets the client message the user on `channel` (`_meta` comes with contact). */
export function grantAllows(grant: Grant | undefined, channel: string): boolean {
  return !!grant && withMeta(grant.scopes, grant.channels).includes(channel);
}

export function createRelay(deps: { store: Store; now: () => number; limits?: Partial<RateLimits>;
  /** Called after a message is accepted (wakes the delivery worker). */
  onAccepted?: () => void }): Relay {
  const { store, now } = deps;
  const limits = { ...DEFAULT_RATE_LIMITS, ...deps.limits };

  /** The user the message goes to, if the grant allows it; throws 403/404 otherwise. */
  async function authorise(req: SendRequest): Promise<Grant> {
    const { client, auth, message: m } = req;
    const registered = m.channel === META_CHANNEL || client.channels.some((c) => c.name === m.channel);
    if (auth.kind === 'token') {
      const grant = auth.grant;
      if (grant.clientId !== client.id) throw notAllowed();
      if (m.to !== grant.sub) throw notAllowed('a user access token may message only its own user');
      if (!auth.scopes.includes('contact')) throw notAllowed('the access token does not carry the contact scope');
      if (!registered) throw notAllowed('the channel is not registered for this application');
      const channelOk = m.channel === META_CHANNEL || auth.channels.includes(m.channel);
      if (!channelOk || !grantAllows(grant, m.channel)) throw notAllowed();
      return grant;
    }
    // Client authentication alone: only this client's own users can be found, so the
    // answer never tells anything about another client's users.
    const grant = await store.grants.getBySub(client.id, m.to);
    if (!grant) throw new OAuthError('invalid_request', 'no user with this alias ID at this application', { status: 404 });
    if (!grant.scopes.includes('offline_access')) {
      throw notAllowed('sending without a user access token needs the user to have granted offline_access');
    }
    if (!registered) throw notAllowed('the channel is not registered for this application');
    if (!grantAllows(grant, m.channel)) throw notAllowed();
    return grant;
  }

  function replay(prior: Message, userId: string, m: MessageInput) {
    if (prior.userId !== userId || prior.channel !== m.channel || prior.subject !== m.subject || prior.body !== m.body) {
      throw new OAuthError('invalid_request', 'this Idempotency-Key was already used for a different message', { status: 422 });
    }
    return { message: prior, replayed: true };
  }

  return {
    async send(req) {
      const grant = await authorise(req);
      const { client, message: m, idempotencyKey } = req;
      if (idempotencyKey !== undefined) {
        const prior = await store.messages.getByIdempotencyKey(client.id, idempotencyKey);
        if (prior) return replay(prior, grant.userId, m);
      }
      const t = now();
      const since = t - WINDOW_MS;
      const message: Message = {
        id: randomBytes(16).toString('hex'),
        clientId: client.id,
        userId: grant.userId,
        channel: m.channel,
        subject: m.subject,
        body: m.body,
        idempotencyKey: idempotencyKey ?? null,
        status: 'queued',
        attempts: 0,
        nextAttemptAt: t,
        leaseUntil: null,
        lastError: null,
        createdAt: t,
        deliveredAt: null,
      };
      try {
        // Counted and inserted in one transaction holding the client's lock row (issue 16
        // item 13): concurrent sends on every node are counted one after another, so the
        // limits hold under any concurrency. The lock row is a throttles row with no
        // failures, which the janitor removes once it is old.
        const prior = await store.transaction(async (tx): Promise<Message | undefined> => {
          await tx.throttles.lock(`relay-send:${client.id}`, t);
          // A request with the same key that held the lock before this one has committed.
          if (idempotencyKey !== undefined) {
            const prior = await tx.messages.getByIdempotencyKey(client.id, idempotencyKey);
            if (prior) return prior;
          }
          // A sliding one-minute window over accepted messages; after Retry-After seconds
          // every message counted now has left it.
          if (await tx.messages.countSince(client.id, since, grant.userId) >= limits.perUserPerMinute) {
            throw new OAuthError('too_many_requests', 'too many messages to this user; try again later',
              { status: 429, retryAfter: WINDOW_MS / 1000 });
          }
          if (await tx.messages.countSince(client.id, since) >= limits.perClientPerMinute) {
            throw new OAuthError('too_many_requests', 'too many messages from this application; try again later',
              { status: 429, retryAfter: WINDOW_MS / 1000 });
          }
          // One INSERT: the inbox entry and the outbox row are the same row.
          await tx.messages.insert(message);
          return undefined;
        });
        if (prior) return replay(prior, grant.userId, m);
      } catch (err) {
        if (!(err instanceof UniqueViolation) || idempotencyKey === undefined) throw err;
        // A concurrent request with the same key won the race: answer as it did.
        const prior = await store.messages.getByIdempotencyKey(client.id, idempotencyKey);
        if (!prior) throw err;
        return replay(prior, grant.userId, m);
      }
      deps.onAccepted?.();
      return { message, replayed: false };
    },
    inbox: (userId, limit) => store.messages.listByUser(userId, limit),
    counts: (userId) => store.messages.countsByUser(userId),
  };
}
