// RFC 8707 §2 at the authorization endpoint: the `resource` values of a request, each a
// registered API. They come before the scopes, since they decide which scopes exist.
import type { Resource } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { readResources } from '../oauth/resource.js';
import type { RawParams } from '../oauth/params.js';

export type ResourceLookup = (uri: string) => Promise<Resource | undefined>;

/** RFC 8707 §2: each `resource` an absolute URI without fragment, registered; else invalid_target. */
export async function checkResources(params: RawParams, lookup: ResourceLookup): Promise<Resource[]> {
  const out: Resource[] = [];
  for (const uri of readResources(params)) {
    const r = await lookup(uri);
    if (!r) throw new OAuthError('invalid_target', 'the resource is not registered');
    out.push(r);
  }
  return out;
}
