// The password check behind every sign-in form: throttled answers come at once with
// 429 and Retry-After; failures re-show the form with a message.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { User } from '../store/types.js';
import type { LoginContext } from '../accounts/users.js';
import { sourceOf } from './context.js';

export interface LoginFormError {
  status: number;
  error: string;
  email: string;
}

export async function checkLoginForm(s: Services, request: FastifyRequest, reply: FastifyReply,
  body: Record<string, unknown>, ctx: LoginContext): Promise<{ user: User } | { failed: LoginFormError }> {
  const email = typeof body.email === 'string' ? body.email : '';
  const password = typeof body.password === 'string' ? body.password : '';
  // NUL never belongs in an address (and PostgreSQL cannot even look it up: a 500).
  if (!email || !password || email.includes('\u0000')) {
    return { failed: { status: 400, error: 'Enter your e-mail address and password.', email: email.replace(/\u0000/g, '') } };
  }
  const result = await s.accounts.login(email, password, sourceOf(request), ctx);
  if (result.ok) return { user: result.user };
  if (result.reason === 'throttled') {
    reply.header('retry-after', String(result.retryAfter));
    return { failed: { status: 429, email,
      error: `Too many failed attempts. Try again in ${result.retryAfter} second${result.retryAfter === 1 ? '' : 's'}.` } };
  }
  return { failed: { status: 401, email, error: 'The e-mail address or password is wrong.' } };
}
