// What the account flows (sign-up, recovery, e-mail change, credential changes, export,
// deletion) use of the service set: services.ts builds it, and accounts/ names only the
// layers below it (docs/ARCHITECTURE.md).
import type { Audit } from '../audit/audit.js';
import type { Backchannel } from '../logout/backchannel.js';
import type { AccountMailer } from '../mail/outbox.js';
import type { Store } from '../store/store.js';
import type { Throttler } from '../throttle/throttle.js';
import type { PairwiseSubject } from '../tokens/pairwise.js';
import type { LinkTokens } from './link_tokens.js';
import type { Sessions } from './sessions.js';
import type { Accounts } from './users.js';

export interface AccountServices {
  config: { issuer: string };
  store: Store;
  now: () => number;
  accounts: Accounts;
  sessions: Sessions;
  accountMail: AccountMailer;
  links: LinkTokens;
  throttle: Throttler;
  audit: Audit;
  backchannel: Backchannel;
  pairwise: PairwiseSubject;
}
