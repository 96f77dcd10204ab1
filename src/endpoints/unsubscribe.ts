// One-click unsubscribe (RFC 8058) from relayed mail: POST /unsubscribe/:token takes back
// one channel of one app for one user. The mail provider posts
// `List-Unsubscribe=One-Click`; a person who opens the link gets GET, a confirmation page
// whose form is CSRF-protected. GET never changes anything.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import type { UnsubscribeRef } from '../relay/unsubscribe_token.js';
import { channelLabel } from '../relay/mail.js';
import type { Client } from '../store/types.js';

/** RFC 8058 §3.1: the body carries List-Unsubscribe=One-Click, url-encoded or as multipart/form-data. */
function isOneClick(request: FastifyRequest): boolean {
  const body = request.body;
  if (body && typeof body === 'object') return (body as Record<string, unknown>)['List-Unsubscribe'] === 'One-Click';
  if (typeof body === 'string' && /^multipart\/form-data/i.test(request.headers['content-type'] ?? '')) return multipartOneClick(body);
  return false;
}

const ONE_CLICK_PART = /^content-disposition:[ \t]*form-data;[ \t]*name="?List-Unsubscribe"?[ \t]*$/i;

/**
 * A part named List-Unsubscribe whose value is the line One-Click, read line by line in
 * one pass: a backtracking regular expression over the whole body took minutes on a
 * crafted 1 MiB body (one unauthenticated request held the event loop).
 */
function multipartOneClick(body: string): boolean {
  const lines = body.split(/\r?\n/);
  for (let i = 0; i < lines.length - 1; i++) {
    if (!ONE_CLICK_PART.test(lines[i]!)) continue;
    // The part's other headers, then a blank line, then the value on a line of its own.
    let j = i + 1;
    while (j < lines.length && lines[j] !== '') j++;
    if (j + 2 < lines.length && lines[j + 1]!.toLowerCase() === 'one-click') return true;
    i = j;
  }
  return false;
}

export function unsubscribeEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  /** The link's reference and app, or an error page already sent. */
  async function load(request: FastifyRequest, reply: FastifyReply): Promise<{ ref: UnsubscribeRef; client?: Client } | undefined> {
    reply.header('cache-control', 'no-store');
    const { token } = request.params as { token: string };
    const link = s.unsubscribe.read(token);
    if (!link.ok && link.reason === 'invalid') {
      await sendErrorPage(reply, 400, 'This unsubscribe link is not valid',
        'The link is incomplete or was changed. Use the link from the message, or manage your apps on your Alias account page.');
      return undefined;
    }
    const client = await s.clients.get(link.ref.clientId);
    if (!link.ok) {
      await sendErrorPage(reply, 400, 'These notices cannot be unsubscribed on their own',
        `Notices about your connection with ${client?.name ?? 'an app'} come with the permission to contact you.`,
        'To stop them, take back the contact permission (or disconnect the app) on your Alias account page.');
      return undefined;
    }
    return { ref: link.ref, client };
  }

  const label = (ref: UnsubscribeRef, client?: Client) => ({
    app: client?.name ?? 'The app',
    channel: client ? channelLabel(client, ref.channel) : ref.channel,
  });

  app.get('/unsubscribe/:token', async (request, reply) => {
    const loaded = await load(request, reply);
    if (!loaded) return reply;
    const { token } = request.params as { token: string };
    return renderPage(reply, 'unsubscribe', {
      title: 'Unsubscribe', ...label(loaded.ref, loaded.client),
      action: `/unsubscribe/${token}`, csrf: page.csrfToken(page.browserId(request, reply)),
    });
  });

  app.post('/unsubscribe/:token', async (request, reply) => {
    const loaded = await load(request, reply);
    if (!loaded) return reply;
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
    // The mail provider's one-click POST has no cookie; the signed link is its authority.
    // The confirmation form must come from this browser's page.
    if (!isOneClick(request) && !page.checkCsrf(request, body.csrf)) {
      return sendErrorPage(reply, 403, 'This form has expired',
        'The form was not sent from this browser’s Alias page, so nothing was changed.', 'Open the unsubscribe link again.');
    }
    const { ref, client } = loaded;
    await s.unsubscribe.take(ref, { ip: request.ip, via: 'unsubscribe' });
    return renderPage(reply, 'unsubscribed', { title: 'Unsubscribed', ...label(ref, client) });
  });
}
