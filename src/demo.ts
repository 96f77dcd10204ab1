// `serve --demo`: a sample user and client, so a fresh clone can try a sign-in at once.
// Seeded by the composition root (main.ts), which the CLI's serve command calls.
import type { Services } from './services.js';
import { digest, mintOpaque } from './tokens/opaque.js';

export const DEMO = {
  email: 'demo@example.com',
  password: 'alias-demo-password',
  nickname: 'Demo',
  clientId: 'demo-client',
  redirectUri: 'http://localhost:8080/callback',
};

export async function seedDemo(s: Services) {
  if (!(await s.store.users.getByEmail(DEMO.email))) {
    await s.accounts.create({ email: DEMO.email, password: DEMO.password, nickname: DEMO.nickname });
  }
  const existing = await s.store.clients.get(DEMO.clientId);
  if (!existing) {
    const { secret } = await s.clients.create({
      id: DEMO.clientId, name: 'Demo app', redirectUris: [DEMO.redirectUri],
      grantTypes: ['authorization_code', 'refresh_token'], channels: ['news:Product news'],
    });
    return { ...DEMO, clientSecret: secret! };
  }
  // Only the digest is stored, so a restart issues a new secret to show.
  const secret = mintOpaque();
  await s.store.clients.update({ ...existing, secretDigest: digest(secret), updatedAt: s.now() });
  return { ...DEMO, clientSecret: secret };
}
