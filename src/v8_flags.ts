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
//
// Sparkplug for every function on its first call: V8 otherwise interprets a function
// (Ignition) until it has run often enough to be compiled. The hot token paths are
// compiled within seconds either way, but paths that run tens of times a second, such as a
// sign-in (its form, throttles, session and the PostgreSQL driver's less used branches),
// stay interpreted for a long time. Sparkplug's baseline code is compiled from the bytecode
// in one pass, without optimisation, and runs faster than the interpreter: sign-ins on
// PostgreSQL took 7–10 % less CPU each (bench/README.md, "Sparkplug for every function").
//
// A tighter old-generation growth factor (1.5): V8 sizes its heap limit from the machine's
// memory (4 GB on a host with more than 16 GB) and lets the old generation grow a long way
// past what is alive before a full collection. Under refresh load at 50 connections it grew
// to 75 MB with some 35 MB alive, and peak RSS reached 196–211 MB. At 1.5 it stays at
// 36–44 MB, peak RSS 155–163 MB, at no measurable CPU cost (bench/README.md, "The old
// generation's growth"). A growth factor, not a cap: a larger live heap is never refused
// (--max-old-space-size would also work, but only on the command line, and as a hard limit).
import { setFlagsFromString } from 'node:v8';

/** Applied before the server's modules load, so no allocation site was judged yet and no collection sized the heap. */
export function tuneV8ForServing(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
  setFlagsFromString('--always-sparkplug');
  setFlagsFromString('--heap-growing-percent=50');
}
