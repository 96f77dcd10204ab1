// Bulk fill of Alias's token tables for the scaling mode (`npm run bench -- --scaling`,
// bench/README.md "Scaling"): grows a target's database to a given number of stored
// tokens (access tokens + refresh tokens + authorization codes) with rows as a month of
// an operator's traffic leaves them, written straight into the tables the running
// server uses (a million HTTP requests would take longer than the whole mode may).
//
// Every row is a copy of a real row the server wrote for the bench's own sign-in (the
// template: all its columns, so a column added by a later migration gets a real value),
// with what differs from row to row replaced: keys, owners and times. Keys are formed
// as src/tokens/opaque.ts forms them: 12 hex digits of the issue time in milliseconds,
// then a base64url SHA-256 (mintKeyed/digest), so bulk keys sort by age like real ones
// and today's inserts still land on the last index pages. Foreign keys are checked on
// both databases while filling (PostgreSQL always; SQLite with foreign_keys = ON).
//
// The mix, per stage (the numbers are the design, the real counts are read back):
// - client_credentials access tokens: 25 %, of 20 clients, issued in the last 29 minutes
//   (the access token lifetime is 30: older ones the janitor has deleted);
// - user access tokens: 8 %, of random families, also in the last 29 minutes;
// - the rest: sign-in families spread over the last 30 days, each one consumed
//   authorization code (expired, kept while its family has tokens, as the janitor
//   does) and a chain of 1–6 refresh tokens, all but the last rotated (linked to the
//   next as migration 018 records); 3 % of the families are revoked;
// - 1 new user per 100 tokens (at least 100), each with a grant to the bench client
//   and up to two of the 19 others. Bulk users share the bench user's password hash.
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import SQLite from 'better-sqlite3';

const DAY = 24 * 3600_000;
const MONTH = 30 * DAY;
const ACCESS_WINDOW = 29 * 60_000;
const CLIENTS = 20;
const BATCH = 10_000;
const SAMPLE_LIFE = 15 * 60_000;

/** Random bytes drawn from one large buffer (millions of keys). */
function randomPool(size = 1 << 20) {
  let buf = randomBytes(size);
  let at = 0;
  return (n) => {
    if (at + n > buf.length) {
      buf = randomBytes(size);
      at = 0;
    }
    at += n;
    return buf.subarray(at - n, at);
  };
}
const rnd = randomPool();
const hex = (bytes) => rnd(bytes).toString('hex');
const b64 = (bytes) => rnd(bytes).toString('base64url');
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
function shuffle(xs) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
const prefix = (ms) => Math.floor(ms).toString(16).padStart(12, '0');

/** A mintKeyed-shaped token issued at `ms` and its store key (src/tokens/opaque.ts). */
function keyedToken(ms) {
  const p = prefix(ms);
  const token = p + b64(32);
  return { token, digest: p + createHash('sha256').update(token).digest('base64url') };
}
/** A key of the same shape whose token nobody will present (most bulk rows). */
const keyedDigest = (ms) => prefix(ms) + b64(32);

/** The database of one target: template rows, column lists, bulk inserts, counts. */
async function openDb(target) {
  if (target.dbKind === 'sqlite') {
    const db = new SQLite(target.dbLocation);
    db.pragma('busy_timeout = 10000');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = OFF');
    return {
      async one(sql, params = []) { return db.prepare(sql).get(...params); },
      async columns(table) { return db.pragma(`table_info(${table})`).map((c) => ({ name: c.name })); },
      async insert(table, cols, rows) {
        const stmt = db.prepare(`insert into ${table} (${cols.map((c) => `"${c.name}"`).join(', ')}) values (${cols.map(() => '?').join(', ')})`);
        const many = db.transaction((rs) => { for (const r of rs) stmt.run(r); });
        for (let i = 0; i < rows.length; i += BATCH) {
          many(rows.slice(i, i + BATCH));
          // Lets the bench's own timers run between batches.
          await new Promise((r) => setImmediate(r));
        }
      },
      async count(table) { return db.prepare(`select count(*) as n from ${table}`).get().n; },
      // The server's WAL is copied back now, not on a request of the first measured run.
      async settle() { db.pragma('wal_checkpoint(TRUNCATE)'); },
      async close() { db.close(); },
    };
  }
  const c = new pg.Client({ connectionString: target.dbLocation, connectionTimeoutMillis: 5000 });
  await c.connect();
  const types = new Map();
  return {
    async one(sql, params = []) {
      let i = 0;
      return (await c.query(sql.replace(/\?/g, () => `$${++i}`), params)).rows[0];
    },
    async columns(table) {
      if (!types.has(table)) {
        const r = await c.query('select column_name, udt_name from information_schema.columns where table_schema = current_schema() and table_name = $1 order by ordinal_position', [table]);
        types.set(table, r.rows.map((x) => ({ name: x.column_name, type: x.udt_name })));
      }
      return types.get(table);
    },
    async insert(table, cols, rows) {
      // One statement per batch: column arrays unnested into rows.
      const text = `insert into ${table} (${cols.map((x) => `"${x.name}"`).join(', ')}) ` +
        `select * from unnest(${cols.map((x, i) => `$${i + 1}::${x.type}[]`).join(', ')})`;
      for (let i = 0; i < rows.length; i += BATCH) {
        const batch = rows.slice(i, i + BATCH);
        await c.query(text, cols.map((_, j) => batch.map((r) => r[j])));
      }
    },
    async count(table) { return Number((await c.query(`select count(*) as n from ${table}`)).rows[0].n); },
    // What autovacuum would do within a minute of such growth: fresh planner statistics.
    async settle() { await c.query('analyze users, grants, clients, authorization_codes, access_tokens, refresh_tokens'); },
    async close() { await c.end(); },
  };
}

/**
 * A row factory for `table` from a template row: `make({ column: value })` is the
 * template's values with those replaced, in the order of `cols`.
 */
function factory(cols, template) {
  const base = cols.map((c) => template[c.name] ?? null);
  const index = new Map(cols.map((c, i) => [c.name, i]));
  return (over) => {
    const row = base.slice();
    for (const k in over) {
      const i = index.get(k);
      if (i === undefined) throw new Error(`no column ${k}`);
      row[i] = over[k];
    }
    return row;
  };
}

const TABLES = ['access_tokens', 'refresh_tokens', 'authorization_codes'];

/** Stored tokens of a target now: { access_tokens, refresh_tokens, authorization_codes, grants, users, total }. */
export async function tableSizes(target) {
  const db = await openDb(target);
  try {
    const out = {};
    for (const t of [...TABLES, 'grants', 'users']) out[t] = await db.count(t);
    out.total = TABLES.reduce((a, t) => a + out[t], 0);
    return out;
  } finally {
    await db.close();
  }
}

/**
 * Grows `target`'s token tables to `size` stored tokens (nothing when they hold that many
 * already). `target`: { dbKind, dbLocation, clientId, userId } after the bench's sign-in,
 * one code exchange and one client_credentials request (the template rows). Returns the
 * sizes reached and, for the measured runs, tokens of the bench client that the server
 * will accept: live user access tokens and current refresh tokens, spread over the table.
 */
export async function fillTo(target, size, now = Date.now()) {
  const db = await openDb(target);
  try {
    const current = (await Promise.all(TABLES.map((t) => db.count(t)))).reduce((a, b) => a + b, 0);
    const add = size - current;
    if (add <= 0) return { added: 0, samples: { access: [], refresh: [] } };
    const q = (sql) => db.one(sql, [target.clientId]);
    const tpl = {
      client: await q('select * from clients where id = ?'),
      user: await db.one('select * from users where id = ?', [target.userId]),
      grant: await q('select * from grants where client_id = ?'),
      code: await q('select * from authorization_codes where client_id = ? and consumed_at is not null'),
      userAccess: await q('select * from access_tokens where client_id = ? and grant_id is not null'),
      ccAccess: await q('select * from access_tokens where client_id = ? and grant_id is null'),
      refresh: await q('select * from refresh_tokens where client_id = ?'),
    };
    for (const [k, v] of Object.entries(tpl)) if (!v) throw new Error(`fill: no template row for ${k} (sign in, exchange a code and make a client_credentials request first)`);
    const cols = {};
    const make = {};
    for (const [k, table] of [['client', 'clients'], ['user', 'users'], ['grant', 'grants'], ['code', 'authorization_codes'],
      ['userAccess', 'access_tokens'], ['ccAccess', 'access_tokens'], ['refresh', 'refresh_tokens']]) {
      cols[k] = await db.columns(table);
      make[k] = factory(cols[k], tpl[k]);
    }
    const accessTtl = Number(tpl.userAccess.expires_at) - Number(tpl.userAccess.created_at);
    const refreshTtl = Number(tpl.refresh.expires_at) - Number(tpl.refresh.created_at);
    const codeTtl = Number(tpl.code.expires_at) - Number(tpl.code.created_at);

    // Clients: the bench client and 19 copies of it (same secret), made once.
    const clientIds = [target.clientId];
    const bulkClients = [];
    const existing = await db.one("select count(*) as n from clients where name like 'Bench bulk %'");
    if (Number(existing.n) === 0) {
      for (let i = 1; i < CLIENTS; i++) {
        const id = hex(16);
        bulkClients.push(make.client({ id, name: `Bench bulk ${i}` }));
        clientIds.push(id);
      }
      await db.insert('clients', cols.client, bulkClients);
    } else {
      const rows = [];
      // Read back by name (the same ids as the first stage).
      for (let i = 1; i < CLIENTS; i++) rows.push((await db.one('select id from clients where name = ?', [`Bench bulk ${i}`])).id);
      clientIds.push(...rows);
    }

    // People and their grants: every one with the bench client, some with others too.
    const nUsers = Math.max(100, Math.round(add / 100));
    const users = [];
    const grants = [];
    const stage = hex(4);
    for (let i = 0; i < nUsers; i++) {
      const id = hex(16);
      const created = now - Math.random() * MONTH;
      users.push(make.user({ id, email: `bulk-${stage}-${i}@example.com`, created_at: Math.floor(created), updated_at: Math.floor(created) }));
      const others = shuffle(clientIds.slice(1)).slice(0, Math.floor(Math.random() * 3));
      for (const clientId of [target.clientId, ...others]) {
        grants.push({ id: hex(16), userId: id, clientId, created });
      }
    }
    await db.insert('users', cols.user, users);
    await db.insert('grants', cols.grant, grants.map((g) => make.grant({
      id: g.id, user_id: g.userId, client_id: g.clientId, sub: b64(32),
      created_at: Math.floor(g.created), updated_at: Math.floor(g.created), last_used_at: null,
    })));

    // Client-credentials tokens (no user, no grant), then families of sign-ins.
    const access = [];
    const refresh = [];
    const codes = [];
    const samples = { access: [], refresh: [] };
    const ccCount = Math.round(add * 0.25);
    for (let i = 0; i < ccCount; i++) {
      const at = now - Math.random() * ACCESS_WINDOW;
      access.push(make.ccAccess({ digest: keyedDigest(at), client_id: pick(clientIds), created_at: Math.floor(at), expires_at: Math.floor(at + accessTtl) }));
    }
    const familyBudget = add - ccCount - Math.round(add * 0.08);
    const families = [];
    let rows = 0;
    while (rows < familyBudget) {
      const g = pick(grants);
      const start = Math.max(g.created, now - Math.random() * MONTH);
      // As newFamilyId (src/tokens/issuer.ts): the family's start, then 80 random bits.
      const familyId = prefix(start) + hex(10);
      const revokedAt = Math.random() < 0.03 ? Math.floor(start + Math.random() * (now - start)) : null;
      const authTime = Math.floor(start - 5_000 - Math.random() * 60_000);
      codes.push(make.code({ digest: keyedDigest(start), client_id: g.clientId, user_id: g.userId, grant_id: g.id, family_id: familyId,
        auth_time: authTime, created_at: Math.floor(start), expires_at: Math.floor(start + codeTtl), consumed_at: Math.floor(start + 1_000 + Math.random() * 4_000) }));
      // A chain of refreshes from the sign-in until now, the last one current.
      const k = 1 + Math.floor(Math.random() ** 2 * 6);
      const times = [start + 2_000];
      for (let j = 1; j < k; j++) times.push(times[j - 1] + Math.random() * ((now - times[j - 1]) / (k - j)));
      const bench = g.clientId === target.clientId && revokedAt === null;
      const chain = times.map((t, j) => (bench && j === k - 1 ? keyedToken(t) : { digest: keyedDigest(t) }));
      chain.forEach((tok, j) => {
        const last = j === k - 1;
        refresh.push(make.refresh({ digest: tok.digest, client_id: g.clientId, user_id: g.userId, grant_id: g.id, family_id: familyId,
          auth_time: authTime, created_at: Math.floor(times[j]), expires_at: Math.floor(times[j] + refreshTtl),
          rotated_at: last ? null : Math.floor(times[j + 1]), revoked_at: revokedAt,
          next_digest: last ? null : chain[j + 1].digest, next_access_digest: last ? null : keyedDigest(times[j + 1]), retried_at: null }));
        if (last && tok.token) samples.refresh.push(tok.token);
      });
      families.push({ g, familyId, revokedAt, bench });
      rows += 1 + k;
    }
    // User access tokens of recently active families.
    for (let i = 0, n = add - ccCount - rows; i < n; i++) {
      const f = pick(families);
      const at = now - Math.random() * ACCESS_WINDOW;
      const tok = f.bench ? keyedToken(at) : { digest: keyedDigest(at) };
      access.push(make.userAccess({ digest: tok.digest, client_id: f.g.clientId, user_id: f.g.userId, grant_id: f.g.id, family_id: f.familyId,
        created_at: Math.floor(at), expires_at: Math.floor(at + accessTtl), revoked_at: f.revokedAt }));
      // Samples stay live for a quarter of an hour at least: the stage's runs use them.
      if (tok.token && at + accessTtl > now + SAMPLE_LIFE) samples.access.push(tok.token);
    }
    await db.insert('authorization_codes', cols.code, codes);
    await db.insert('refresh_tokens', cols.refresh, refresh);
    await db.insert('access_tokens', cols.userAccess, access);
    await db.settle();
    // Spread the samples over the table: shuffled, so runs read keys of every age.
    for (const list of Object.values(samples)) shuffle(list);
    return { added: access.length + refresh.length + codes.length, users: users.length, grants: grants.length, samples };
  } finally {
    await db.close();
  }
}
