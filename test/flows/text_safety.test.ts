// Issue 16 items 8 and 9: text people read carries no controls, bidi overrides, line or
// paragraph separators or invisible characters (PRECIS RFC 8264 §9, UTS #39), and a relayed
// subject that looks like an RFC 2047 encoded word reaches the recipient as those literal
// characters. Through the relay's HTTP API with a real SMTP sink, the account services and
// the aliasid command line, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { aliasid } from '../helpers/cli.js';
import { UserInputError } from '../../src/accounts/users.js';
import { ClientInputError } from '../../src/clients/registry.js';

const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

for (const kind of databaseKinds()) {
  describe(`text safety (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      await alias.s.relayWorker.stop();
    });
    after(async () => {
      await alias?.close();
      await smtp?.close();
    });

    async function sender() {
      const { client, secret } = await alias.client({ redirectUris: [], grantTypes: ['client_credentials'], channels: ['news:News'] });
      const user = await alias.user();
      const grant = await alias.s.consent.record({ userId: user.id, clientId: client.id,
        requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
        approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
      const send = (subject: string, body = 'A message body.') => fetch(`${alias.issuer}/api/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(client.id, secret!) },
        body: JSON.stringify({ to: grant.sub, channel: 'news', subject, body }),
      });
      return { user, send };
    }

    // Rule (item 8): nicknames refuse bidi overrides, zero-width and separator characters.
    it('a nickname with U+202E, U+200B or U+2028 is refused, at creation and when changed', async () => {
      await assert.rejects(alias.user({ nickname: 'admin\u202e\u200b\u2028x' }), UserInputError);
      const user = await alias.user({ nickname: 'Zoë' });
      for (const bad of ['admin\u202ex', 'ad\u200bmin', 'a\u2028b', 'a\u0085b', 'a\u2066b']) {
        await assert.rejects(alias.s.accounts.setNickname(user.id, bad), UserInputError, JSON.stringify(bad));
      }
      assert.equal((await alias.s.accounts.get(user.id))!.nickname, 'Zoë', 'nothing stored');
      await alias.s.accounts.setNickname(user.id, '山田 👨\u200d👩\u200d👧');
      assert.equal((await alias.s.accounts.get(user.id))!.nickname, '山田 👨\u200d👩\u200d👧', 'real text in any script passes');
    });

    // Rule (item 8): relay subjects and bodies refuse C1 controls, bidi overrides and separators.
    it('a relay subject with U+0085 or U+202E, or a body with U+202E or U+2028, is refused with 400', async () => {
      const { send } = await sender();
      for (const subject of ['Hi\u0085there', 'Invoice \u202etxt.exe', 'a\u2029b', 'a\u200bb']) {
        const r = await send(subject);
        assert.equal(r.status, 400, JSON.stringify(subject));
        assert.equal((await r.json()).error, 'invalid_request');
      }
      for (const body of ['Pay \u202eto this', 'line\u2028break', 'x\u0085y']) assert.equal((await send('Hello', body)).status, 400, JSON.stringify(body));
      assert.equal((await send('Hello', 'Lines\r\nand\ttabs\nare fine.')).status, 202);
    });

    // Rule (item 8, RFC 2047 §5: encoded words are for non-ASCII text; a typed one is text).
    it('a subject that looks like an encoded word reaches the recipient as those literal characters', async () => {
      const { send, user } = await sender();
      const subject = '=?utf-8?q?You_won_=E2=82=AC1000?=';
      const r = await send(subject);
      assert.equal(r.status, 202, await r.clone().text());
      const before = smtp.received.length;
      await alias.s.relayWorker.runOnce();
      const [mail] = (await smtp.waitFor(before + 1)).slice(before).filter((m) => m.envelope.to.includes(user.email));
      assert.ok(mail, 'the message was mailed');
      assert.equal(mail.mail.subject, subject);
      assert.ok(!/^Subject: =\?utf-8\?q\?You_won/mi.test(mail.raw), 'not passed through as an encoded word');
    });

    // Rule (item 9): every client field refuses control characters (no fake header lines in the mail footer).
    it('client names, channel descriptions, URIs and scopes with CR/LF or other controls are refused', async () => {
      const bad: Parameters<Alias['client']>[0][] = [
        { name: 'Evil\r\nBcc: victim@example.com' },
        { name: 'Evil\u202e' },
        { channels: ['news:News\r\nBcc: x@example.com'] },
        { channels: [{ name: 'news', description: 'a\u0085b' }] },
        { redirectUris: ['https://app.example/cb\n'] },
        { scopes: ['reports\u0007'] },
      ];
      for (const input of bad) await assert.rejects(alias.client(input), ClientInputError, JSON.stringify(input));
    });

    // Rule (item 9): the CLI refuses control characters in every field: exit 1, a clear stderr line.
    if (kind.name === 'sqlite') it('aliasid client create --name with CR/LF, and user create --nickname with U+202E: exit 1', async () => {
      const env = { ALIAS_DB: alias.db.location, ALIAS_SECRET: 'x'.repeat(40) };
      const evil = await aliasid(['client', 'create', '--name', 'Evil\r\nBcc: victim@example.com', '--redirect-uri', 'https://app.example/cb'], env);
      assert.equal(evil.code, 1, evil.stdout + evil.stderr);
      assert.match(evil.stderr, /--name contains the control character U\+000D/);
      const channel = await aliasid(['client', 'create', '--name', 'Fine', '--redirect-uri', 'https://app.example/cb',
        '--channel', 'news:News\nFrom: ceo@example.com'], env);
      assert.equal(channel.code, 1);
      assert.match(channel.stderr, /--channel contains the control character U\+000A/);
      const nick = await aliasid(['user', 'create', '--email', `n${Date.now()}@example.com`, '--password', 'a long password here',
        '--nickname', 'admin\u202ex'], env);
      assert.equal(nick.code, 1);
      assert.match(nick.stderr, /nickname contains the invisible or direction-changing character U\+202E/);
    });
  });
}
