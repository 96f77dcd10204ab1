// GET /: the start page, for people who open Alias's address: what Alias is, sign in or
// go to your account, and for developers the discovery document.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { renderPage } from '../http/render.js';
import { signupUrl } from '../http/account_pages.js';

export function homeEndpoint(app: FastifyInstance, s: Services, page: PageContext) {
  app.get('/', async (request, reply) => {
    const session = await page.session(request);
    const user = session && await s.accounts.get(session.userId);
    // It names the signed-in person: never cached.
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'home', { title: 'Welcome', email: user?.email, signupUrl: signupUrl(s), issuer: s.config.issuer });
  });
}
