// Account mails (src/mail/outbox.ts): queued sealed inside a transaction, sent by the
// delivery worker over the relay's transport, deleted once sent, retried on a temporary
// SMTP failure, given up (content dropped) on a permanent one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { accountMail } from '../../src/mail/account_mail.js';

for (const kind of databaseKinds()) {
  describe(`account mail (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
    });
    after(async () => {
      await alias?.close();
      await smtp?.close();
    });

    const queue = async (userId: string, to: string, secretLink: string) => {
      const mail = accountMail({ to, subject: 'Confirm your address', lines: ['Hello <there> & welcome.'],
        link: { url: secretLink, label: 'Confirm' } }, alias.issuer);
      await alias.s.store.transaction((tx) => alias.s.accountMail.enqueue(tx.mailOutbox, { ...mail, userId, purpose: 'verify_email' }));
    };

    it('is sealed at rest, sent with a text and an HTML part from "Alias (HOST)", then deleted', async () => {
      const user = await alias.user();
      const link = `${alias.issuer}/verify-email/SECRET-LINK-${user.id}`;
      await queue(user.id, user.email, link);
      const [row] = await alias.s.store.mailOutbox.listByUser(user.id);
      assert.ok(row);
      assert.doesNotMatch(row.sealed, /SECRET-LINK|@/, 'neither the link nor the address is stored in the clear');
      const before = smtp.received.length;
      assert.equal(await alias.s.relayWorker.runOnce(), 1);
      const [got] = (await smtp.waitFor(before + 1)).slice(before);
      assert.equal(got!.mail.subject, 'Confirm your address');
      assert.deepEqual(got!.envelope.to, [user.email]);
      assert.equal(got!.mail.from?.value[0]?.name, `Alias (${new URL(alias.issuer).host})`);
      assert.ok(got!.mail.text?.includes(link));
      assert.ok(got!.mail.text?.includes('Hello <there> & welcome.'));
      assert.ok(typeof got!.mail.html === 'string' && got!.mail.html.includes('Hello &lt;there&gt; &amp; welcome.'), 'HTML is escaped');
      assert.match(got!.raw, /^Auto-Submitted: auto-generated$/mi);
      assert.deepEqual(await alias.s.store.mailOutbox.listByUser(user.id), [], 'deleted once sent');
    });

    it('a temporary SMTP failure is retried later; a permanent one gives up and drops the content', async () => {
      const user = await alias.user();
      await queue(user.id, user.email, `${alias.issuer}/verify-email/x`);
      smtp.refuseWith = 451;
      try {
        assert.equal(await alias.s.relayWorker.runOnce(), 1);
      } finally {
        smtp.refuseWith = undefined;
      }
      let [row] = await alias.s.store.mailOutbox.listByUser(user.id);
      assert.equal(row!.status, 'queued');
      assert.equal(row!.attempts, 1);
      assert.ok(row!.nextAttemptAt > alias.s.now(), 'backs off');
      assert.match(row!.lastError!, /^SMTP 451/);
      alias.advance(10_000);
      smtp.refuseWith = 550;
      try {
        assert.equal(await alias.s.relayWorker.runOnce(), 1);
      } finally {
        smtp.refuseWith = undefined;
      }
      [row] = await alias.s.store.mailOutbox.listByUser(user.id);
      assert.equal(row!.status, 'failed');
      assert.equal(row!.sealed, '');
      assert.match(row!.lastError!, /^SMTP 550/);
    });
  });
}
