import type { Client } from '../store/types.js';
import type { Services } from '../services.js';
import type { RawParams } from '../oauth/params.js';

export interface GrantContext {
  s: Services;
  client: Client;
  params: RawParams;
  /** The caller's address, for counting failures (password grant). */
  source: string;
}

/** One grant type: RFC 6749 §4 / §6 and extensions, one file each. */
export interface GrantHandler {
  grantType: string;
  handle(ctx: GrantContext): Promise<Record<string, unknown>>;
}
