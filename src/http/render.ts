// Renders server-side pages: a template inside the layout (eta via @fastify/view, with
// auto-escaping). Used by every page, error pages included.
import type { FastifyReply } from 'fastify';
import '@fastify/view';

/** Renders a template inside the layout. */
export async function renderPage(reply: FastifyReply, template: string, data: Record<string, unknown>): Promise<FastifyReply> {
  const html = await reply.viewAsync(`${template}.eta`, data);
  return reply.type('text/html; charset=utf-8').send(html);
}
