// The account page (/account): connected apps with what each was granted, revocation
// of a scope, a channel or a whole app, the inbox of relayed messages, nickname,
// password, passkeys (list, rename, remove; adding runs in passkeys.js against
// endpoints/passkeys.ts), sign out and sign out everywhere. Every form is CSRF-protected; a failed
// check changes nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import type { Session } from '../store/types.js';
import { META_CHANNEL, sortScopes } from '../oauth/scopes.js';
import { unqualify } from '../oauth/resource.js';
import { scopeText } from '../ui/consent_view.js';
import { UserInputError } from '../accounts/users.js';
import { checkLoginForm } from '../http/login_form.js';
import { changePasswordEverywhere, PASSWORD_CHANGED_NOTICE, setFirstPassword } from '../accounts/credential_change.js';
import { signupUrl } from '../http/account_pages.js';
import { afterPassword } from '../http/second_factor_page.js';
import { passkeyScripts } from '../http/assets.js';
import { recentlyAuthenticated } from '../accounts/reauth.js';

type Body = Record<string, unknown>;
const SCOPE_TEXT: Record<string, string> = {
  openid: 'Sign you in with your alias ID for this app',
  nickname: 'See your nickname',
  contact: 'Send you messages through Alias',
  offline_access: 'Keep access while you are not using the app',
};
const INBOX_SIZE = 50;
const GRANT_ID = /^[0-9a-f]{32}$/;
const PASSKEY_ID = /^[0-9a-f]{32}$/;
const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const text = (v: unknown) => (typeof v === 'string' ? v : '');

export function accountEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const bodyOf = (request: FastifyRequest): Body =>
    (request.body && typeof request.body === 'object' ? request.body : {}) as Body;

  async function loginPage(request: FastifyRequest, reply: FastifyReply, opts: { status?: number; error?: string; email?: string; notice?: string } = {}) {
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    return renderPage(reply, 'login', { title: 'Sign in', action: '/account/login',
      csrf: page.csrfToken(page.browserId(request, reply)), error: opts.error, notice: opts.notice, email: opts.email ?? '', signupUrl: signupUrl(s),
      passkey: { scripts: passkeyScripts() } });
  }

  async function accountPage(request: FastifyRequest, reply: FastifyReply, session: Session,
    opts: { status?: number; notice?: string; error?: string } = {}) {
    const user = await s.accounts.get(session.userId);
    if (!user) return loginPage(request, reply);
    const grants = await s.consent.list(user.id);
    const counts = await s.relay.counts(user.id);
    const clients = new Map<string, Awaited<ReturnType<typeof s.clients.get>>>();
    const clientOf = async (id: string) => {
      if (!clients.has(id)) clients.set(id, await s.clients.get(id));
      return clients.get(id);
    };
    // RFC 8707: a resource's scope (`URI#scope` in the grant) is shown with the API's name.
    const resourceNames = new Map((await s.store.resources.list()).map((r) => [r.uri, r.name] as const));
    const apps = [];
    for (const g of grants) {
      const client = await clientOf(g.clientId);
      if (!client) continue;
      const channelLabel = (name: string) => name === META_CHANNEL ? 'Notices about your connection with this app'
        : client.channels.find((c) => c.name === name)?.description ?? name;
      apps.push({
        grantId: g.id,
        name: client.name,
        createdAt: when(g.createdAt),
        lastUsedAt: g.lastUsedAt ? when(g.lastUsedAt) : undefined,
        scopes: sortScopes(g.scopes).map((name) => ({ name, description: unqualify(name) ? scopeText(name, resourceNames) : SCOPE_TEXT[name] ?? name, revocable: name !== 'openid' })),
        channels: g.channels.map((name) => ({ name, description: channelLabel(name), revocable: name !== META_CHANNEL,
          count: counts.find((c) => c.clientId === g.clientId && c.channel === name)?.count ?? 0 })),
      });
    }
    const messages = [];
    for (const m of await s.relay.inbox(user.id, INBOX_SIZE)) {
      const client = await clientOf(m.clientId);
      const grant = grants.find((g) => g.clientId === m.clientId);
      messages.push({
        app: client?.name ?? 'A removed app', channel: m.channel, subject: m.subject, body: m.body, createdAt: when(m.createdAt),
        channelLabel: m.channel === META_CHANNEL ? 'notices' : client?.channels.find((c) => c.name === m.channel)?.description ?? m.channel,
        grantId: grant?.id, mutable: !!grant && m.channel !== META_CHANNEL && grant.channels.includes(m.channel),
      });
    }
    const factors = await s.secondFactors.status(user.id);
    const passkeys = (await s.passkeys.list(user.id)).map((p) => ({ id: p.id, name: p.name, createdAt: when(p.createdAt),
      lastUsedAt: p.lastUsedAt ? when(p.lastUsedAt) : undefined, synced: p.deviceType === 'multiDevice' || p.backupState }));
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    return renderPage(reply, 'account', {
      title: 'Your account', email: user.email, nickname: user.nickname ?? '', apps, messages, hasPassword: user.passwordHash !== null,
      totp: factors.totp, recoveryCodesLeft: factors.recoveryCodesLeft,
      // Adding a passkey needs a recent sign-in (accounts/reauth.ts); otherwise the button leads there first.
      passkeys, canAddPasskey: recentlyAuthenticated(session, s.now()), scripts: passkeyScripts(),
      csrf: page.csrfToken(page.browserId(request, reply)), notice: opts.notice, error: opts.error,
    });
  }

  /** A signed-in session and a valid CSRF token, or an answer already sent. */
  async function guarded(request: FastifyRequest, reply: FastifyReply): Promise<{ session: Session; body: Body } | undefined> {
    const body = bodyOf(request);
    if (!page.checkCsrf(request, body.csrf)) {
      await sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
        'Go back, reload the page and try again.');
      return undefined;
    }
    const session = await page.session(request);
    if (!session) {
      await reply.redirect('/account', 303);
      return undefined;
    }
    return { session, body };
  }

  app.get('/account', async (request, reply) => {
    const session = await page.session(request);
    // After a reset link added a passkey (endpoints/passkey_accounts.ts): every session ended.
    const reset = (request.query as Record<string, unknown>).reset === 'passkey';
    if (!session) return loginPage(request, reply, reset ? { notice: 'Passkey added. Every browser was signed out and every app’s tokens were revoked; sign in with your new passkey.' } : {});
    // After passkeys.js registered one (it comes back here).
    const added = (request.query as Record<string, unknown>).passkey === 'added';
    return accountPage(request, reply, session, added ? { notice: 'Passkey added. It can sign you in from now on.' } : {});
  });

  app.post('/account/login', async (request, reply) => {
    const body = bodyOf(request);
    if (!page.checkCsrf(request, body.csrf)) {
      return sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.');
    }
    const result = await checkLoginForm(s, request, reply, body, { via: 'account' });
    if ('failed' in result) return loginPage(request, reply, result.failed);
    return afterPassword(s, page, request, reply, result.user, { next: '/account' });
  });

  const revoke = (path: string, run: (userId: string, grantId: string, body: Body, request: FastifyRequest) => Promise<boolean>, notice: string) =>
    app.post(`/account/apps/:grantId/${path}`, async (request, reply) => {
      const g = await guarded(request, reply);
      if (!g) return reply;
      const { grantId } = request.params as { grantId: string };
      const ok = GRANT_ID.test(grantId) && await run(g.session.userId, grantId, g.body, request);
      if (!ok) return accountPage(request, reply, g.session, { status: 400, error: 'Nothing to revoke there.' });
      return accountPage(request, reply, g.session, { notice });
    });
  revoke('revoke-scope', (u, id, b, request) => s.consent.revokeScope(u, id, text(b.scope), { ip: sourceOf(request), via: 'account' }), 'Revoked. The app lost that permission at once.');
  revoke('revoke-channel', (u, id, b, request) => s.consent.revokeChannel(u, id, text(b.channel), { ip: sourceOf(request), via: 'account' }), 'Revoked. The app can no longer message you on that channel.');
  app.post('/account/apps/:grantId/revoke', async (request, reply) => {
    const g = await guarded(request, reply);
    if (!g) return reply;
    const { grantId } = request.params as { grantId: string };
    const ok = GRANT_ID.test(grantId) && await s.consent.revokeApp(g.session.userId, grantId, { ip: sourceOf(request), via: 'account' });
    return accountPage(request, reply, g.session, ok ? { notice: 'Disconnected. Every token of that app stopped working.' }
      : { status: 400, error: 'Nothing to revoke there.' });
  });

  app.post('/account/nickname', async (request, reply) => {
    const g = await guarded(request, reply);
    if (!g) return reply;
    try {
      await s.accounts.setNickname(g.session.userId, text(g.body.nickname));
    } catch (err) {
      if (err instanceof UserInputError) return accountPage(request, reply, g.session, { status: 400, error: `Nickname not saved: ${err.message}.` });
      throw err;
    }
    return accountPage(request, reply, g.session, { notice: 'Nickname saved.' });
  });

  app.post('/account/password', async (request, reply) => {
    const g = await guarded(request, reply);
    if (!g) return reply;
    const user = await s.accounts.get(g.session.userId);
    if (user && user.passwordHash === null) {
      // A first password for a passkey-only account: a recent sign-in stands in for the current password.
      if (!recentlyAuthenticated(g.session, s.now())) {
        return reply.header('cache-control', 'no-store').redirect(`/account/reauth?${new URLSearchParams({ next: '/account' })}`, 303);
      }
      const set = await setFirstPassword(s, { userId: user.id, next: text(g.body.new_password), source: sourceOf(request) });
      if (!set.ok && set.reason === 'weak') return accountPage(request, reply, g.session, { status: 400, error: `Password not set: ${set.message}.` });
      return accountPage(request, reply, g.session, { notice: 'Password set. It signs you in as well as your passkeys.' });
    }
    // Issue 16 item 4 (src/accounts/credential_change.ts): ends every other session and every token.
    const result = await changePasswordEverywhere(s, { userId: g.session.userId, sessionId: g.session.idDigest,
      current: text(g.body.current_password), next: text(g.body.new_password), source: sourceOf(request) });
    if (!result.ok) {
      if (result.reason === 'weak') return accountPage(request, reply, g.session, { status: 400, error: `Password not changed: ${result.message}.` });
      if (result.reason === 'throttled') reply.header('retry-after', String(result.retryAfter));
      return accountPage(request, reply, g.session, { status: result.reason === 'throttled' ? 429 : 400,
        error: result.reason === 'throttled' ? `Too many failed attempts. Try again in ${result.retryAfter} seconds.` : 'The current password is wrong.' });
    }
    return accountPage(request, reply, g.session, { notice: PASSWORD_CHANGED_NOTICE });
  });

  app.post('/account/passkeys/:id/rename', async (request, reply) => {
    const g = await guarded(request, reply);
    if (!g) return reply;
    const { id } = request.params as { id: string };
    const renamed = PASSKEY_ID.test(id) ? await s.passkeys.rename(g.session.userId, id, text(g.body.name)) : false;
    if (typeof renamed === 'string') return accountPage(request, reply, g.session, { status: 400, error: `Passkey not renamed: ${renamed}.` });
    return accountPage(request, reply, g.session, renamed ? { notice: 'Passkey renamed.' } : { status: 400, error: 'There is no such passkey.' });
  });

  app.post('/account/passkeys/:id/remove', async (request, reply) => {
    const g = await guarded(request, reply);
    if (!g) return reply;
    // Removing a way to sign in needs a recent sign-in (accounts/reauth.ts); the person
    // comes back to the list and presses Remove again. The last way in stays: an account
    // without a password keeps its last passkey (accounts/passkeys.ts remove).
    if (!recentlyAuthenticated(g.session, s.now())) {
      return reply.header('cache-control', 'no-store').redirect(`/account/reauth?${new URLSearchParams({ next: '/account#passkeys' })}`, 303);
    }
    const { id } = request.params as { id: string };
    const removed = PASSKEY_ID.test(id) ? await s.passkeys.remove(g.session.userId, id, { ip: sourceOf(request), via: 'account' }) : 'none';
    if (removed === 'last') {
      return accountPage(request, reply, g.session, { status: 409,
        error: 'This is your only way to sign in, so it stays. Add another passkey or set a password first, then remove it.' });
    }
    return accountPage(request, reply, g.session, removed === 'removed' ? { notice: 'Passkey removed. It can no longer sign you in.' }
      : { status: 400, error: 'There is no such passkey.' });
  });

  async function signOut(request: FastifyRequest, reply: FastifyReply, everywhere: boolean) {
    const g = await guarded(request, reply);
    if (!g) return reply;
    if (everywhere) {
      await s.sessions.endEverywhere(g.session.userId, { source: { ip: sourceOf(request), via: 'account' } });
      page.clearSessionCookie(reply);
    } else {
      await page.endSession(request, reply);
    }
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'logged_out', { title: 'Signed out', signedOut: true });
  }
  app.post('/account/logout', (request, reply) => signOut(request, reply, false));
  app.post('/account/logout-all', (request, reply) => signOut(request, reply, true));
}
