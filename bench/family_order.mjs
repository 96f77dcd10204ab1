// What the order of token-family ids costs a token insert on SQLite, in isolation from
// HTTP and the peer (a host whose speed moves hides a 10 % change in the full bench).
//
//   node bench/family_order.mjs [--stored N] [--inserts N] [--rounds N]
//
// Alias's own migrations make the table (`aliasid migrate`, then access_tokens as it is);
// token keys are formed as Alias forms them (src/tokens/opaque.ts: the issue time, then a
// SHA-256), so they are time-ordered already. dist/ is built first when src/ is newer. Two
// kinds of family id are compared, alternating, each on a fresh copy of the database:
// - random: 32 random hex digits (before 2026-12-06);
// - time-ordered: newFamilyId (src/tokens/issuer.ts), the family's start then 80 random bits.
// Each run stores `--stored` tokens first (families of 1–6 tokens, oldest first), then
// times `--inserts` more in transactions of 20, as group commit writes them, in two mixes:
// - sign-ins: every token starts a new family (a code exchange, a device or password grant);
// - refreshes: every token joins a stored family of any age, drawn uniformly (a refresh
//   token lives 30 days, so a refresh may continue a family started weeks ago).
// Foreign keys are off (both kinds check the same parents). Prints CPU µs per insert and
// the pages each transaction wrote to the WAL.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { ROOT, aliasidOk, ensureBuilt } from './lib/nodes.mjs';
import { median } from './lib/report.mjs';

const arg = (name, d) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const STORED = arg('--stored', 200_000);
const INSERTS = arg('--inserts', 40_000);
const ROUNDS = arg('--rounds', 3);
const GROUP = 20;

await ensureBuilt({ log: (line) => process.stdout.write(`${line}\n`) });
const { newFamilyId } = await import(join(ROOT, 'dist/tokens/issuer.js'));
const { digest, timePrefix } = await import(join(ROOT, 'dist/tokens/opaque.js'));
const KINDS = {
  random: () => randomBytes(16).toString('hex'),
  'time-ordered': (ms) => newFamilyId(ms),
};

const dir = mkdtempSync(join(tmpdir(), 'alias-family-order-'));
const empty = join(dir, 'empty.db');
await aliasidOk(['migrate', '--db', empty]);

function run(kind, mix) {
  const file = join(dir, `${kind}.db`);
  for (const s of ['', '-wal', '-shm']) rmSync(file + s, { force: true });
  copyFileSync(empty, file);
  const db = new Database(file);
  // As the server opens it (src/store/sqlite/dialect.ts), foreign keys aside.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -8192');
  db.pragma('foreign_keys = OFF');
  // The server checkpoints on a worker thread (checkpointer.ts), never inside a commit.
  db.pragma('wal_autocheckpoint = 0');
  const insert = db.prepare(`insert into access_tokens (digest, client_id, user_id, grant_id, family_id, scopes, channels,
    created_at, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const users = Array.from({ length: 1_000 }, () => randomBytes(16).toString('hex'));
  const family = KINDS[kind];
  // Time runs one millisecond per token, the way a busy server's clock does for its keys.
  const start = Date.now() - STORED - 10_000;
  let clock = start;
  const families = [];
  const row = (fam) => {
    const ms = clock++;
    // A keyed token's key: its issue time, then a SHA-256 (of anything random here).
    return [timePrefix(ms) + digest(randomBytes(16).toString('hex')), 'client', fam.user, fam.user, fam.id,
      'openid nickname offline_access', '[]', ms, ms + 3_600_000];
  };
  const newFamily = () => {
    const user = users[Math.floor(Math.random() * users.length)];
    const fam = { id: family(clock), user };
    families.push(fam);
    return fam;
  };
  db.transaction(() => {
    while (clock < start + STORED) {
      const fam = newFamily();
      for (let k = 1 + Math.floor(Math.random() ** 2 * 6); k > 0; k--) insert.run(...row(fam));
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  // Frames a checkpoint finds in the WAL: the pages the timed transactions wrote.
  // (PASSIVE reports them; TRUNCATE then starts the WAL over, as the worker's RESTART would.)
  const checkpoint = () => {
    const { log } = db.pragma('wal_checkpoint(PASSIVE)')[0];
    db.pragma('wal_checkpoint(TRUNCATE)');
    return log;
  };
  let frames = 0;
  const cpu = process.cpuUsage();
  for (let done = 0; done < INSERTS; done += GROUP) {
    db.transaction(() => {
      for (let j = 0; j < GROUP; j++) {
        const fam = mix === 'sign-ins' ? newFamily() : families[Math.floor(Math.random() * families.length)];
        insert.run(...row(fam));
      }
    })();
    // The checkpoint worker copies the WAL back about once a second; here every 50 groups.
    if ((done / GROUP) % 50 === 49) frames += checkpoint();
  }
  const used = process.cpuUsage(cpu);
  frames += checkpoint();
  db.close();
  for (const s of ['', '-wal', '-shm']) rmSync(file + s, { force: true });
  return { cpuUs: (used.user + used.system) / INSERTS, pages: frames / INSERTS * GROUP };
}

const MIXES = ['sign-ins', 'refreshes'];
const results = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const mix of MIXES) {
    for (const kind of Object.keys(KINDS)) {
      const x = run(kind, mix);
      (results[`${mix}, ${kind}`] ??= []).push(x);
      process.stdout.write(`round ${r + 1} ${mix.padEnd(9)} ${kind.padEnd(12)} ${x.cpuUs.toFixed(1)} µs CPU/insert, ` +
        `${x.pages.toFixed(1)} pages written per transaction of ${GROUP}\n`);
    }
  }
}
rmSync(dir, { recursive: true, force: true });
const summary = Object.fromEntries(Object.entries(results).map(([k, xs]) => [k, {
  cpuUs: Math.round(median(xs.map((x) => x.cpuUs)) * 10) / 10,
  pagesPerTransaction: Math.round(median(xs.map((x) => x.pages)) * 10) / 10,
}]));
process.stdout.write(`${JSON.stringify({ stored: STORED, inserts: INSERTS, rounds: ROUNDS, median: summary })}\n`);
