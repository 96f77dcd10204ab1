// @ts-check
// A small relying party that signs people in with Alias and sends them a message through
// Alias's contact relay. Routes:
//   GET  /          the welcome page, or what the app knows about the signed-in person
//   GET  /login     starts a sign-in (PKCE S256, state, nonce) and redirects to Alias
//   GET  /callback  the redirect URI: exchanges the code, or explains why it cannot
//   POST /message   "Send me a message" (CSRF-checked): POST alias_messages_endpoint
//   POST /logout    forgets the person here (CSRF-checked)
//   GET  /app.css   the stylesheet
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRelyingParty, AuthorizationResponseError, ResponseBodyError } from './oidc.js';
import { createSessions } from './sessions.js';
import { errorPage, signedInPage, signedOutPage } from './pages.js';

const CSS = readFileSync(new URL('./app.css', import.meta.url), 'utf8');
/** Enough for the relay's largest message (64 KiB of UTF-8) once form-encoded. */
const MAX_FORM_BYTES = 256 * 1024;
const SUBJECT_MAX = 200;
const BODY_MAX_BYTES = 64 * 1024;

/**
 * @typedef {object} DemoAppOptions
 * @property {URL} issuer Alias's issuer URL
 * @property {string} clientId
 * @property {string} clientSecret
 * @property {URL} baseUrl where this app is reached, e.g. http://localhost:8080 (the redirect URI is its /callback)
 * @property {string} name shown on every page
 * @property {string} [scope] default: openid nickname contact offline_access
 * @property {string[]} [channels] relay channels to ask for; the first is used for messages
 * @property {{ name: string, url: string }[]} [others] other demo apps to compare alias IDs with
 */

/** @param {DemoAppOptions} opts @returns {import('node:http').RequestListener} */
export function createDemoApp(opts) {
  const scope = opts.scope ?? 'openid nickname contact offline_access';
  const channels = opts.channels ?? [];
  const issuer = opts.issuer.href.replace(/\/$/, '');
  const app = { name: opts.name, issuer, others: opts.others ?? [] };
  const redirectUri = new URL('/callback', opts.baseUrl).href;
  const rp = createRelyingParty({ issuer: opts.issuer, clientId: opts.clientId, clientSecret: opts.clientSecret,
    redirectUri, scope, channels });
  // The two demo apps share `localhost` (cookies ignore ports): one cookie name per app.
  const sessions = createSessions({ cookieName: `app_${opts.clientId.replace(/[^A-Za-z0-9_-]/g, '_')}`,
    secure: opts.baseUrl.protocol === 'https:' });

  /** @type {Record<string, Record<string, (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, url: URL) => Promise<void>>>} */
  const routes = {
    '/': { GET: home },
    '/login': { GET: login },
    '/callback': { GET: callback },
    '/message': { POST: message },
    '/logout': { POST: logout },
    '/app.css': { GET: async (_req, res) => { res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600' }).end(CSS); } },
  };

  async function home(/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) {
    const session = sessions.get(req);
    if (!session?.user) return page(res, 200, signedOutPage(app, { scopes: scope.split(' '), channels }));
    const flash = session.flash;
    session.flash = undefined;
    return page(res, 200, signedInPage(app, { user: session.user, csrf: session.csrf, idempotencyKey: newKey(), flash }));
  }

  async function login(/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) {
    const session = sessions.get(req) ?? sessions.create(res);
    const { url, pending } = await rp.start();
    sessions.addPending(session, pending);
    res.writeHead(302, { location: url.href, 'cache-control': 'no-store' }).end();
  }

  async function callback(/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res,
    /** @type {URL} */ url) {
    const session = sessions.get(req);
    const pending = sessions.takePending(session, url.searchParams.get('state'));
    if (!session || !pending) {
      return page(res, 400, errorPage(app, 'This sign-in is not one we started',
        'This answer from Alias does not belong to a sign-in started by this app in this browser, or it was already used. ' +
        'If you started the sign-in by hand (docs/demo.md), the code is in the address bar: exchange it within 60 seconds.', { retry: true }));
    }
    try {
      session.user = await rp.finish(url, pending);
    } catch (err) {
      if (err instanceof AuthorizationResponseError && err.error === 'access_denied') {
        return page(res, 403, errorPage(app, 'You did not sign in',
          `You chose not to let ${app.name} sign you in, so it knows nothing about you. You can change your mind at any time.`, { retry: true }));
      }
      if (err instanceof AuthorizationResponseError) {
        return page(res, 400, errorPage(app, 'Alias could not sign you in', `Alias answered: ${err.error_description ?? err.error}.`, { retry: true }));
      }
      if (err instanceof ResponseBodyError && err.error === 'invalid_grant') {
        return page(res, 400, errorPage(app, 'The sign-in took too long',
          'The code Alias gave this app has expired or was already used (a code works once, within 60 seconds). Please sign in again.', { retry: true }));
      }
      throw err;
    }
    // A new session id once signed in (session fixation), then away from the URL with the code.
    sessions.renew(req, res, session);
    res.writeHead(303, { location: '/', 'cache-control': 'no-store' }).end();
  }

  async function message(/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) {
    const form = await readForm(req);
    const session = sessions.get(req);
    if (!form) return page(res, 413, errorPage(app, 'Message too long', `A message may have at most ${BODY_MAX_BYTES / 1024} KiB.`));
    if (!sessions.csrfOk(session, form.get('csrf')) || !session?.user) {
      return page(res, 403, errorPage(app, 'This form has expired',
        'The form was not sent from this app’s page in this browser, or your session here ended. Nothing was sent.', { retry: !session?.user }));
    }
    const draft = { subject: form.get('subject') ?? '', body: form.get('body') ?? '' };
    const key = form.get('idempotency_key') ?? '';
    const again = (/** @type {number} */ status, /** @type {string} */ text) =>
      page(res, status, signedInPage(app, { user: /** @type {import('./oidc.js').SignedIn} */ (session.user), csrf: session.csrf,
        idempotencyKey: key, flash: { kind: 'error', text }, draft }));
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(key)) return again(400, 'The form is incomplete; please send it again.');
    if (!draft.subject.trim() || !draft.body.trim()) return again(400, 'Please write a subject and a message.');
    if ([...draft.subject].length > SUBJECT_MAX) return again(400, `The subject may have at most ${SUBJECT_MAX} characters.`);
    if (Buffer.byteLength(draft.body) > BODY_MAX_BYTES) return again(400, `The message may have at most ${BODY_MAX_BYTES / 1024} KiB.`);
    const channel = session.user.channels[0];
    if (!session.user.scopes.includes('contact') || !channel) return again(403, 'You did not allow this app to send you messages.');

    let sent;
    try {
      sent = await rp.sendMessage(session.user, { channel, subject: draft.subject, body: draft.body.replace(/\r\n/g, '\n') }, key);
    } catch (err) {
      if (err instanceof ResponseBodyError && err.error === 'invalid_grant') {
        // The refresh token was refused: the person disconnected the app on Alias.
        session.user = undefined;
        session.flash = undefined;
        return page(res, 401, errorPage(app, 'Alias no longer lets this app act for you',
          'You disconnected this app on Alias (or its access ended), so it signed you out. Sign in again to reconnect it.', { retry: true }));
      }
      throw err;
    }
    session.user = sent.user;
    if (!sent.result.ok) return again(sent.result.kind === 'rate_limited' ? 429 : sent.result.kind === 'invalid' ? 400 : 403, sent.result.message);
    session.flash = { kind: 'notice', text: 'Sent. Alias accepted the message: it is in your inbox on Alias now.' };
    res.writeHead(303, { location: '/#send', 'cache-control': 'no-store' }).end();
  }

  async function logout(/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) {
    const form = await readForm(req);
    const session = sessions.get(req);
    if (!form || !sessions.csrfOk(session, form.get('csrf'))) {
      return page(res, 403, errorPage(app, 'This form has expired', 'The form was not sent from this app’s page in this browser. You are still signed in here.'));
    }
    sessions.destroy(req, res);
    res.writeHead(303, { location: '/', 'cache-control': 'no-store' }).end();
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', opts.baseUrl);
    const route = routes[url.pathname];
    const handler = route?.[req.method ?? 'GET'];
    if (!route) return void page(res, 404, errorPage(app, 'Not found', 'There is no such page in this app.'));
    if (!handler) {
      res.setHeader('allow', Object.keys(route).join(', '));
      return void page(res, 405, errorPage(app, 'Not allowed', 'This page cannot be used that way.'));
    }
    handler(req, res, url).catch((err) => {
      // Alias unreachable, a broken answer: say so, never a stack trace.
      console.error(`${app.name}: ${req.method} ${url.pathname}: ${err instanceof Error ? err.message : String(err)}`);
      if (res.headersSent) return void res.end();
      page(res, 502, errorPage(app, 'Alias did not answer as expected',
        `${app.name} could not complete this step with Alias at ${issuer}. Is it running? Please try again.`, { retry: true }));
    });
  };
}

const newKey = () => randomBytes(18).toString('base64url');

/**
 * @param {import('node:http').ServerResponse} res @param {number} status @param {string} body
 */
function page(res, status, body) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    // Pages show tokens' claims and carry CSRF tokens: never cached.
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
    // The callback URL carries the code: it must not leak to the next site in a Referer.
    'referrer-policy': 'no-referrer',
  }).end(body);
}

/**
 * An application/x-www-form-urlencoded body, or undefined past the size limit.
 * @param {import('node:http').IncomingMessage} req @returns {Promise<URLSearchParams | undefined>}
 */
async function readForm(req) {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  let size = 0;
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      req.resume(); // read and drop the rest, so the answer reaches the browser
      return undefined;
    }
    chunks.push(chunk);
  }
  return type === 'application/x-www-form-urlencoded' ? new URLSearchParams(Buffer.concat(chunks).toString('utf8')) : new URLSearchParams();
}
