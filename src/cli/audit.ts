// `aliasid audit`: reads the audit log, newest first. `--user` finds a user's events by
// the alias IDs they have at each client in the log (and the keyed digest that stands for
// them in events without a client), since the log never stores a user id or address.
import type { Command } from 'commander';
import type { AuditEvent } from '../store/types.js';
import type { Services } from '../services.js';
import { parseSince } from '../audit/since.js';
import { fail, print, UsageError, withServices } from './context.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100_000;
/** Digests are shown shortened in the table (in full with --json). */
const SHORT = 12;

interface AuditOptions { since?: string; user?: string; client?: string; limit?: string; json?: boolean; db?: string }

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}, not '${text}'`);
  }
  return Number(text);
}

/** The alias IDs and user digest that stand for one user in the log. */
async function userFilter(s: Services, who: string, clientId: string | undefined) {
  if (!who || who.includes('\u0000')) throw new UsageError('--user needs an e-mail address or a user id');
  const user = (await s.store.users.get(who)) ?? (who.length <= 320 ? await s.store.users.getByEmail(who) : undefined);
  if (!user) throw new UsageError(`no user with e-mail address or id '${who}'`);
  // Clients in the log (deleted ones too) and every current client.
  const clients = clientId ? [clientId] : [...new Set([...await s.store.audit.clientIds(), ...(await s.store.clients.list()).map((c) => c.id)])];
  return { subs: clients.map((c) => s.audit.subOf(c, user.id)), userRef: s.audit.userRef(user.id) };
}

export const toJson = (e: AuditEvent) => ({
  time: new Date(e.at).toISOString(), event: e.type, outcome: e.outcome, client_id: e.clientId, sub: e.sub,
  user_ref: e.userRef, ip_digest: e.ipDigest, detail: e.detail, id: e.id,
});

function table(events: AuditEvent[]): string[] {
  const rows = events.map((e) => [
    new Date(e.at).toISOString().replace('T', ' ').slice(0, 19),
    e.type, e.outcome, e.clientId ?? '-',
    e.sub ?? (e.userRef ? `user:${e.userRef.slice(0, SHORT)}` : '-'),
    e.ipDigest ? e.ipDigest.slice(0, SHORT) : '-',
    e.detail ?? '',
  ]);
  const head = ['TIME (UTC)', 'EVENT', 'OUTCOME', 'CLIENT', 'ALIAS ID', 'IP DIGEST', 'DETAIL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function auditCommand(program: Command) {
  program.command('audit')
    .description('show the audit log of security events, newest first')
    .option('--since <when>', 'only events since a duration ago (90s, 30m, 12h, 7d, 2w) or an ISO date (2026-01-31, 2026-01-31T08:00:00Z)')
    .option('--user <email-or-id>', "only this user's events (found by their alias ID at each client)")
    .option('--client <client-id>', "only this client's events")
    .option('--limit <n>', `at most this many events (default ${DEFAULT_LIMIT})`)
    .option('--json', 'print JSON Lines: one JSON object per event, newest first')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: AuditOptions) => {
      try {
        // Bad input is refused before any database is opened (or found missing).
        const limit = parseLimit(opts.limit);
        let since: number | undefined;
        if (opts.since !== undefined) {
          const parsed = parseSince(opts.since, Date.now());
          if (typeof parsed !== 'number') throw new UsageError(parsed.error);
          since = parsed;
        }
        const events = await withServices(opts, async (s) => {
          const user = opts.user !== undefined ? await userFilter(s, opts.user, opts.client) : undefined;
          return s.store.audit.query({ since, clientId: opts.client, user, limit });
        });
        if (opts.json) {
          for (const e of events) print(JSON.stringify(toJson(e)));
          return;
        }
        if (!events.length) return print('no events');
        for (const line of table(events)) print(line);
      } catch (err) {
        fail(err);
      }
    });
}
