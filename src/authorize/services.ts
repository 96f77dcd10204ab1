// What the authorization pipeline uses of the service set: services.ts builds it, and
// authorize/ names only the layers below it (docs/ARCHITECTURE.md).
import type { Accounts } from '../accounts/users.js';
import type { Audit } from '../audit/audit.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { Consent } from '../consent/grants.js';
import type { Store } from '../store/store.js';
import type { KeyService } from '../tokens/keys.js';
import type { PairwiseSubject } from '../tokens/pairwise.js';

export interface AuthorizeServices {
  /** requirePar: RFC 9126 §6 for every client (serve --require-par). */
  config: { issuer: string; requirePar: boolean };
  store: Store;
  now: () => number;
  keys: KeyService;
  pairwise: PairwiseSubject;
  clients: ClientRegistry;
  consent: Consent;
  audit: Audit;
  accounts: Pick<Accounts, 'get'>;
}
