// Bad input at the one-click unsubscribe endpoint (RFC 8058), found by the fuzz test
// (test/fuzz/endpoints.test.ts). SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { expectUnchanged, snapshot } from '../helpers/bad_input.js';
import { unsubscribeToken } from '../../src/relay/unsubscribe_token.js';
import type { Client, User } from '../../src/store/types.js';

for (const kind of databaseKinds()) {
  describe(`bad input: one-click unsubscribe (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let user: User;
    let client: Client;
    let token: string;

    before(async () => {
      alias = await startAlias(kind, { listen: false });
      user = await alias.user();
      ({ client } = await alias.client({ channels: ['news:News', 'tips:Tips'] }));
      await alias.s.consent.record({ userId: user.id, clientId: client.id, requestedScopes: ['openid', 'contact'],
        requestedChannels: ['news', 'tips'], approvedScopes: ['openid', 'contact'], approvedChannels: ['news', 'tips'] });
      token = unsubscribeToken(alias.s.secrets, { userId: user.id, clientId: client.id, channel: 'news' });
    });
    after(() => alias.close());

    const post = (body: string) => alias.app.inject({ method: 'POST', url: `/unsubscribe/${token}`,
      headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: body });
    const channels = async () => (await alias.s.consent.find(user.id, client.id))!.channels;

    // DESIGN: never a 500, and nothing that stalls the server, for bad input. The
    // multipart body was matched with a backtracking regular expression: a List-Unsubscribe
    // part followed by a long run of " \n" (no One-Click) took seconds at 80 KB and minutes
    // at the 1 MiB body limit, holding the event loop for every other request.
    it('a crafted multipart body (a long run of " \\n" after the part header) is refused at once', async () => {
      for (const size of [80_000, 1_000_000]) {
        const body = '--x\r\ncontent-disposition: form-data; name="List-Unsubscribe"' + ' \n'.repeat(size / 2) + '\r\n--x--\r\n';
        const before = await snapshot(alias);
        const started = performance.now();
        const res = await post(body);
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 1000, `${Math.round(elapsed)} ms for a ${body.length}-byte body`);
        // Not a one-click request, and no CSRF token: the confirmation form's refusal.
        assert.equal(res.statusCode, 403);
        await expectUnchanged(alias, before, 'a refused unsubscribe');
      }
    });

    it('many part headers without a value are read in one pass', async () => {
      const body = 'content-disposition: form-data; name="List-Unsubscribe"\r\nx: y\r\n'.repeat(15_000);
      const started = performance.now();
      const res = await post(body);
      assert.ok(performance.now() - started < 1000);
      assert.equal(res.statusCode, 403);
    });

    // RFC 8058 §3.1 + RFC 7578: the one-click POST may come as multipart/form-data, the
    // part possibly with other headers, lines ending in CRLF (or LF from lax senders).
    it('a multipart one-click request still unsubscribes', async () => {
      const forged = await post('--x\r\ncontent-disposition: form-data; name="List-Unsubscribe"\r\n\r\nNot-One-Click\r\n--x--\r\n');
      assert.equal(forged.statusCode, 403);
      assert.deepEqual(await channels(), ['_meta', 'news', 'tips']);
      const res = await post('--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n' +
        'Content-Type: text/plain\r\n\r\nOne-Click\r\n--x--\r\n');
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(await channels(), ['_meta', 'tips']);
      const tips = unsubscribeToken(alias.s.secrets, { userId: user.id, clientId: client.id, channel: 'tips' });
      const lf = await alias.app.inject({ method: 'POST', url: `/unsubscribe/${tips}`,
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
        payload: '--x\ncontent-disposition: form-data; name=List-Unsubscribe\n\nOne-Click\n--x--\n' });
      assert.equal(lf.statusCode, 200, lf.body);
      assert.deepEqual(await channels(), ['_meta']);
    });
  });
}
