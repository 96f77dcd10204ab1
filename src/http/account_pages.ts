// Pieces the sign-in, sign-up, verification and device pages share: the sign-up link
// (none when sign-up is closed), this browser's pending authorization request, and the
// "confirm your address" page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from './context.js';
import { renderPage } from './render.js';
import type { Interaction } from '../store/types.js';
import { digest, safeEqual } from '../tokens/opaque.js';

/** The link the sign-in pages show, or undefined when sign-up is closed. */
export const signupUrl = (s: Services, interactionId?: string): string | undefined =>
  s.config.signup !== 'open' ? undefined : interactionId ? `/signup?interaction=${interactionId}` : '/signup';

const INTERACTION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The pending authorization request `id` names, if it is still there and belongs to this browser. */
export async function ownInteraction(s: Services, page: PageContext, request: FastifyRequest, id: unknown): Promise<Interaction | undefined> {
  if (typeof id !== 'string' || !INTERACTION_ID.test(id)) return undefined;
  const browser = page.existingBrowserId(request);
  if (!browser) return undefined;
  const interaction = await s.store.interactions.get(id, s.now());
  return interaction && safeEqual(digest(browser), interaction.browserDigest) ? interaction : undefined;
}

/** The "confirm your address" page a signed-in, unverified person sees instead of finishing a request. */
export async function confirmAddressPage(reply: FastifyReply, data: { email: string; csrf: string; clientName?: string;
  interaction?: string; notice?: string; error?: string; status?: number }) {
  reply.code(data.status ?? 200).header('cache-control', 'no-store');
  return renderPage(reply, 'confirm_address', { title: 'Confirm your address', ...data });
}

