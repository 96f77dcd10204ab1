// argon2id with the OWASP Password Storage Cheat Sheet parameters (m=19 MiB, t=2, p=1).
// @node-rs/argon2 hashes on its own threads, never on the event loop.
import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';

const PARAMS = { algorithm: 2 /* Argon2id */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

// Each running hash holds 19 MiB; more hashes at once than cores only adds memory, not
// speed. Extra callers wait their turn (in arrival order) off the event loop.
const MAX_CONCURRENT = Math.max(1, availableParallelism());
let active = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  // A finishing call hands its slot straight to the next waiter, so `active` never
  // exceeds the limit.
  if (active >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  else active++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }
}

export const hashPassword = (password: string): Promise<string> => limited(() => hash(password, PARAMS));

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await limited(() => verify(stored, password));
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** A hash to verify against when the account does not exist, so timing reveals nothing. */
export const dummyHash = (): Promise<string> => (dummy ??= hashPassword('not-a-real-password-' + Math.random()));
