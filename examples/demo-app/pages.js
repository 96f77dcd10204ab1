// @ts-check
// The demo app's pages. Every value is escaped where it is put into the HTML (the `html`
// tag below); nothing comes from the person unescaped, not even the nickname Alias sends.

/** A piece of HTML that is already safe (the result of `html`). */
class Safe {
  /** @param {string} value */
  constructor(value) { this.value = value; }
  toString() { return this.value; }
}

/** @param {unknown} v */
export function escape(v) {
  return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** @param {unknown} v @returns {string} */
const part = (v) => v instanceof Safe ? v.value : Array.isArray(v) ? v.map(part).join('')
  : v === undefined || v === null || v === false ? '' : escape(v);

/**
 * Template tag: interpolations are escaped unless they are `html` results themselves.
 * @param {TemplateStringsArray} strings @param {...unknown} values
 */
export function html(strings, ...values) {
  return new Safe(strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ''), ''));
}

/**
 * @typedef {object} AppInfo
 * @property {string} name
 * @property {string} issuer Alias's issuer URL.
 * @property {{ name: string, url: string }[]} others the other demo apps, to compare alias IDs
 */

/** @param {AppInfo} app @param {string} title @param {Safe} body */
export function layout(app, title, body) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${app.name}</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header><p class="app-name"><a href="/">${app.name}</a></p><p class="tagline">A sample app that signs people in with Alias</p></header>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** @param {{ kind: 'notice' | 'error', text: string } | undefined} flash */
const flashOf = (flash) => !flash ? '' : flash.kind === 'notice'
  ? html`<p class="notice" role="status">${flash.text}</p>`
  : html`<p class="error" role="alert">${flash.text}</p>`;

const SCOPE_TEXT = /** @type {Record<string, string>} */ ({
  openid: 'sign you in with an alias ID made for this app',
  nickname: 'see your nickname',
  contact: 'send you messages through Alias (your e-mail address stays private)',
  offline_access: 'keep that access while you are not using the app',
});

/** @param {AppInfo} app @param {{ scopes: string[], channels: string[] }} asks */
export function signedOutPage(app, asks) {
  return layout(app, 'Welcome', html`
<h1>Welcome to ${app.name}</h1>
<p>This app keeps no accounts of its own: you sign in with Alias. Alias asks you first
whether ${app.name} may:</p>
<ul>${asks.scopes.map((s) => html`<li>${SCOPE_TEXT[s] ?? s}</li>`)}</ul>
${asks.channels.length ? html`<p>Messages would come on the channel${asks.channels.length > 1 ? 's' : ''}
${asks.channels.map((c, i) => html`${i ? ', ' : ''}<code>${c}</code>`)}. You can untick anything you do not want to give.</p>` : ''}
<p><a class="button" href="/login">Sign in with Alias</a></p>
`);
}

const CLAIM_TEXT = /** @type {Record<string, string>} */ ({
  iss: 'who issued the token (Alias)',
  sub: 'your alias ID at this app',
  aud: 'who the token is for (this app’s client ID)',
  exp: 'when the token expires',
  iat: 'when it was issued',
  auth_time: 'when you signed in to Alias',
  nonce: 'the random value this app sent, echoed back',
  at_hash: 'binds the token to the access token',
  nickname: 'your nickname, because you allowed it',
  jti: 'the token’s unique ID',
});
const TIME_CLAIMS = ['exp', 'iat', 'auth_time'];

/** @param {string} name @param {unknown} value */
function claimValue(name, value) {
  if (TIME_CLAIMS.includes(name) && typeof value === 'number') {
    return html`${value} <span class="hint">(${new Date(value * 1000).toISOString().replace('.000Z', 'Z')})</span>`;
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * @param {AppInfo} app
 * @param {object} data
 * @param {import('./oidc.js').SignedIn} data.user
 * @param {string} data.csrf
 * @param {string} data.idempotencyKey
 * @param {{ kind: 'notice' | 'error', text: string } | undefined} data.flash
 * @param {{ subject: string, body: string }} [data.draft] what the person typed, kept after an error
 */
export function signedInPage(app, { user, csrf, idempotencyKey, flash, draft }) {
  const nickname = typeof user.claims.nickname === 'string' ? user.claims.nickname : undefined;
  const channel = user.channels[0];
  const canMessage = user.scopes.includes('contact') && channel !== undefined;
  const inbox = `${app.issuer}/account`;
  return layout(app, 'Signed in', html`
<h1>You are signed in with Alias</h1>
${flashOf(flash)}
<h2>What ${app.name} knows about you</h2>
<dl class="facts">
  <dt>Alias ID (<code>sub</code>)</dt>
  <dd><code class="id" data-testid="alias-id">${user.sub}</code>
    <span class="hint">Made for this app only: every other app sees a different one, so apps cannot compare notes about you.</span></dd>
  <dt>Nickname</dt>
  <dd>${nickname ?? html`<span class="hint">not shared with this app</span>`}</dd>
  <dt>Granted scopes</dt>
  <dd>${user.scopes.map((s, i) => html`${i ? ' ' : ''}<code>${s}</code>`)}</dd>
  <dt>Granted channels</dt>
  <dd>${user.channels.length ? user.channels.map((c, i) => html`${i ? ' ' : ''}<code>${c}</code>`) : html`<span class="hint">none</span>`}</dd>
</dl>
${app.others.length ? html`<p>Compare: sign in to ${app.others.map((o, i) => html`${i ? ', ' : ''}<a href="${o.url}">${o.name}</a>`)} too, and see a different alias ID for the same you.</p>` : ''}

<h2 id="send">Send me a message</h2>
${canMessage ? html`
<p>${app.name} asks Alias to deliver a message to your alias ID on the <code>${channel}</code> channel. Alias puts it
in your inbox (and mails it to you when Alias has a mail server): this app never learns your e-mail address.</p>
<form method="post" action="/message">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="idempotency_key" value="${idempotencyKey}">
  <label for="subject">Subject</label>
  <input id="subject" name="subject" type="text" maxlength="200" required value="${draft?.subject ?? 'Hello from ' + app.name}">
  <label for="body">Message</label>
  <textarea id="body" name="body" rows="4" required>${draft?.body ?? 'This message came through Alias, addressed only to my alias ID.'}</textarea>
  <button type="submit">Send me a message</button>
</form>
<p><a href="${inbox}">Open your inbox on Alias</a> (your account page) to read it.</p>` : html`
<p>You did not allow ${app.name} to send you messages. To change that, <a href="/login">sign in again</a> and tick
“Send you messages through Alias”.</p>`}

<h2>The ID token’s claims</h2>
<p>openid-client checked the ID token (issuer, audience, expiry, nonce) before this page was shown.</p>
<table>
  <thead><tr><th scope="col">Claim</th><th scope="col">Value</th><th scope="col">Meaning</th></tr></thead>
  <tbody>
  ${Object.entries(user.claims).map(([name, value]) => html`<tr><th scope="row"><code>${name}</code></th><td class="value">${claimValue(name, value)}</td><td>${CLAIM_TEXT[name] ?? ''}</td></tr>`)}
  </tbody>
</table>

<h2>Done?</h2>
<form method="post" action="/logout">
  <input type="hidden" name="csrf" value="${csrf}">
  <button type="submit" class="secondary">Sign out of ${app.name}</button>
</form>
<p class="hint">This forgets you here only. To take back what you granted, use your <a href="${inbox}">account page on Alias</a>.</p>
`);
}

/**
 * A readable error page: what happened and what to do next.
 * @param {AppInfo} app @param {string} title @param {string} message @param {{ retry?: boolean }} [opts]
 */
export function errorPage(app, title, message, opts = {}) {
  return layout(app, title, html`
<h1>${title}</h1>
<p role="alert">${message}</p>
<p>${opts.retry ? html`<a class="button" href="/login">Try signing in again</a> ` : ''}<a href="/">Back to ${app.name}</a></p>
`);
}
