// Grouped token sets (src/store/sql/token_sets.ts): the client_credentials token sets (an
// access token and its event, no transaction around them) that arrive in one event-loop
// turn are stored together (issue 17 §3): on PostgreSQL by one statement at the end of the
// turn (one round trip for concurrent requests), on SQLite as one batch of the turn's group
// commit (one INSERT per table instead of a transaction each). These tests count the grouped
// writes; the store contract (contract.ts) checks on both databases that every set is
// stored with its event and that a bad set fails alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { MAX_GROUPED_SETS, tokenSetGroupStats } from '../../src/store/sql/token_sets.js';
import type { TokenSet } from '../../src/store/store.js';

const NOW = Date.now();

for (const kind of databaseKinds()) describe(`${kind.name}: token sets grouped per event-loop turn`, { skip: kind.skip }, () => {
  let alias: Alias;
  let clientId: string;
  // SQLite: another handle on the file sees only committed rows (the store's own reads
  // run inside the open group). PostgreSQL's reads see only committed rows.
  let witness: SQLite.Database | undefined;
  before(async () => {
    alias = await startAlias(kind, { listen: false });
    clientId = (await alias.client({ grantTypes: ['client_credentials'], scopes: ['reports:read'] })).client.id;
    if (kind.name === 'sqlite') witness = new SQLite(alias.s.db.location, { readonly: true });
  });
  after(async () => {
    witness?.close();
    await alias?.close();
  });

  const id = (p: string) => `${p}-${randomBytes(8).toString('hex')}`;
  const ccSet = (over: Partial<TokenSet['access']> = {}): TokenSet => ({
    access: { digest: id('at'), clientId, userId: null, grantId: null, familyId: null, scopes: ['reports:read'], channels: [],
      createdAt: NOW, expiresAt: NOW + 60_000, revokedAt: null, ...over },
    event: { id: id('ev'), at: NOW, type: 'token.issued', outcome: 'success', clientId, sub: null, userRef: null,
      ipDigest: null, detail: 'grant_type=client_credentials' },
  });
  const stats = () => ({ ...tokenSetGroupStats(alias.s.db) ?? { statements: 0, sets: 0, fallbacks: 0 } });
  const stored = async (set: TokenSet) => witness
    ? witness.prepare('select 1 from access_tokens where digest = ?').get(set.access.digest) !== undefined
    : (await alias.s.store.accessTokens.get(set.access.digest))?.digest === set.access.digest;
  const eventStored = async (set: TokenSet) => witness
    ? witness.prepare('select 1 from audit_events where id = ?').get(set.event!.id) !== undefined
    : (await alias.s.store.audit.query({ clientId, limit: 500 })).some((e) => e.id === set.event!.id);

  it('twenty sets of one turn: one grouped write; each token and its event are committed when its insert resolves', async () => {
    const before = stats();
    const sets = Array.from({ length: 20 }, () => ccSet());
    const seen = await Promise.all(sets.map((x) => alias.s.store.tokenSets.insert(x).then(async () => await stored(x) && await eventStored(x))));
    assert.deepEqual(seen, sets.map(() => true));
    const after = stats();
    assert.equal(after.statements - before.statements, 1);
    assert.equal(after.sets - before.sets, 20);
  });

  it(`more than ${MAX_GROUPED_SETS} in one turn are split; a set alone, or in a transaction, is not grouped`, async () => {
    const before = stats();
    const many = Array.from({ length: MAX_GROUPED_SETS + 8 }, () => ccSet());
    await Promise.all(many.map((x) => alias.s.store.tokenSets.insert(x)));
    const split = stats();
    assert.equal(split.statements - before.statements, 2, `${MAX_GROUPED_SETS} and 8`);
    assert.equal(split.sets - before.sets, MAX_GROUPED_SETS + 8);

    await alias.s.store.tokenSets.insert(ccSet());
    const inTx = [ccSet(), ccSet()];
    await alias.s.store.transaction(async (tx) => {
      for (const x of inTx) await tx.tokenSets.insert(x);
    });
    assert.deepEqual(stats(), split, 'one set alone and sets in a transaction take the single-set statement');
    for (const x of inTx) assert.ok(await stored(x));
  });

  it('a grouped statement that fails stores each set on its own: only the bad one fails, with its own error', async () => {
    const taken = ccSet();
    await alias.s.store.tokenSets.insert(taken);
    const before = stats();
    const good = Array.from({ length: 6 }, () => ccSet());
    // A digest already stored (a unique violation) and a client that does not exist (a foreign key).
    const dup = { ...ccSet(), access: { ...ccSet().access, digest: taken.access.digest } };
    const orphan = ccSet({ clientId: id('no-such-client') });
    const outcomes = await Promise.allSettled([...good.slice(0, 3), dup, orphan, ...good.slice(3)].map((x) => alias.s.store.tokenSets.insert(x)));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    const after = stats();
    assert.equal(after.fallbacks - before.fallbacks, 1);
    assert.equal(after.statements, before.statements, 'the failed statement is not counted as stored');
    for (const x of good) assert.ok(await stored(x));
    assert.equal(await stored(orphan), false);
    for (const x of good) assert.ok(await eventStored(x));
    assert.ok(!await eventStored(dup) && !await eventStored(orphan), 'no event of a set that failed');
  });
});
