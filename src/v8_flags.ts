// V8 settings for a long-running `aliasid serve` (not for admin commands or tests).
//
// Allocation-site pretenuring: when most objects from one allocation site are still alive
// at a young-generation collection, V8 starts allocating that site's objects straight in
// the old generation. A server under load has many requests in flight at every
// collection, so their objects look long-lived although each dies within milliseconds:
// on PostgreSQL (requests wait on round trips) the old generation then grew by 4–6 KB per
// request to ~117 MB between full collections, peak RSS passed 200 MB, and each young
// collection took ~5 ms instead of ~0.6 ms (bench/README.md, "V8's pretenuring"). Off,
// the heap stays flat (36 MB after every young collection, no full collection in the
// measured window) and userinfo on PostgreSQL serves more, not less.
import { setFlagsFromString } from 'node:v8';

/** Applied before the server's modules load, so no allocation site was judged yet. */
export function tuneV8ForServing(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
