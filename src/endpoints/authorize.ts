// GET/POST /oauth2/authorize (RFC 6749 §3.1: GET MUST be supported; OIDC Core §3.1.2.1:
// POST too). Runs the authorization pipeline (authorize/pipeline.ts); when the user has
// to see a page, parks the request for the interaction pages (interaction.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { formBody } from '../http/api.js';
import { proceed, start } from '../authorize/pipeline.js';
import { park, reserveParking } from '../authorize/park.js';
import { sendErrorPage } from '../http/errors.js';
import { sendAuthorizationResponse, sendUntrustedPage } from '../http/authorization_response.js';
import type { RawParams } from '../oauth/params.js';

export function authorizeEndpoint(app: FastifyInstance, s: Services, page: PageContext) {
  async function handle(request: FastifyRequest, reply: FastifyReply, params: RawParams) {
    reply.header('cache-control', 'no-store');
    const validated = await start(s, params);
    if (validated.kind === 'untrusted') return sendUntrustedPage(reply, validated.error);
    if (validated.kind === 'respond') return sendAuthorizationResponse(reply, validated.response);
    const req = validated.request;
    const outcome = await proceed(s, req, { session: await page.session(request), authenticatedNow: false, source: request.ip });
    if (outcome.kind === 'respond') return sendAuthorizationResponse(reply, outcome.response);
    // The user has to see a page: park the request, bound to this browser, unless this
    // address parked too many already (park.ts, PARK_POLICY).
    const wait = await reserveParking(s.throttle, request.ip);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      return sendErrorPage(reply, 429, 'Too many sign-in requests',
        'Too many sign-in requests came from your network in the last few minutes.',
        `Please wait ${waitText(wait)} and try again.`);
    }
    const browserId = page.browserId(request, reply);
    const id = await park(s.store, s.now(), req, browserId);
    return reply.redirect(`/interaction/${id}`, 303);
  }

  app.get('/oauth2/authorize', (request, reply) => handle(request, reply, request.query as RawParams));
  // OIDC Core §3.1.2.1: POSTed requests use form serialization; anything else (JSON) is
  // refused as malformed instead of being read as parameters.
  app.post('/oauth2/authorize', (request, reply) => handle(request, reply, formBody(request)));
}

const waitText = (seconds: number): string =>
  seconds < 120 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
