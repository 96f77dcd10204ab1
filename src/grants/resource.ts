// RFC 8707 §2.2 at the token endpoint: which registered resource a token request's access
// token is for, shared by the grants that accept `resource`.
import { OAuthError } from '../oauth/errors.js';
import { pickResource } from '../oauth/resource.js';
import type { Store } from '../store/store.js';
import type { Resource } from '../store/types.js';

/**
 * The resource named (or the only one granted), as registered now: one deleted since the
 * grant is unknown (invalid_target). Undefined when no resource applies.
 */
export async function grantedResource(store: Store, requested: string | undefined,
  granted: readonly string[]): Promise<Resource | undefined> {
  const uri = pickResource(requested, granted);
  if (uri === undefined) return undefined;
  const resource = await store.resources.get(uri);
  if (!resource) throw new OAuthError('invalid_target', 'the resource is not registered');
  return resource;
}

/** A registered resource by URI, or invalid_target (RFC 8707 §2: unknown resource). */
export async function registeredResource(store: Store, uri: string): Promise<Resource> {
  const resource = await store.resources.get(uri);
  if (!resource) throw new OAuthError('invalid_target', 'the resource is not registered');
  return resource;
}
