// OIDC Core §8.1: pairwise subject identifiers. One user has a different, stable alias
// ID at every client; nobody can link two of them without the salt.
import { createHmac, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

export type PairwiseSubject = (clientId: string, userId: string) => string;

export async function createPairwise(store: Store): Promise<PairwiseSubject> {
  // The salt lives in the database so every node derives the same IDs, and changing
  // ALIAS_SECRET never changes anybody's alias ID.
  const salt = await store.settings.putIfAbsent('pairwise_salt', randomBytes(32).toString('base64url'));
  return (clientId, userId) =>
    createHmac('sha256', salt).update(`${clientId}\u0000${userId}`).digest('base64url');
}
