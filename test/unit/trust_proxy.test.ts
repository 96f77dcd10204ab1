// ALIAS_TRUST_PROXY (issue 16, item 3): the client's address is the right-most
// X-Forwarded-For entry not added by a trusted proxy (RFC 7239 §8), never the left-most,
// which the client writes itself and would let it dodge every per-address limit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { ConfigError, loadConfig, parseTrustProxy } from '../../src/config/config.js';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { IP_PURPOSE } from '../../src/audit/audit.js';
import { fastifyTrustProxy } from '../../src/http/trust_proxy.js';

/** The address fastify reports for a request from 127.0.0.1 with this X-Forwarded-For. */
async function ipSeen(setting: string | undefined, xff?: string): Promise<string> {
  const config = loadConfig({}, setting === undefined ? {} : { ALIAS_TRUST_PROXY: setting });
  const app = Fastify({ trustProxy: fastifyTrustProxy(config.trustProxy) });
  app.get('/', async (request) => request.ip);
  const res = await app.inject({ url: '/', remoteAddress: '127.0.0.1', headers: xff ? { 'x-forwarded-for': xff } : {} });
  await app.close();
  return res.body;
}

describe('ALIAS_TRUST_PROXY', () => {
  it('parses the documented forms and refuses anything else, naming the variable', () => {
    assert.equal(parseTrustProxy(undefined), false);
    for (const off of ['', '0', 'false']) assert.equal(parseTrustProxy(off), false, off);
    assert.equal(parseTrustProxy('1'), 1);
    assert.equal(parseTrustProxy('true'), 1, 'true means one hop, not "trust every hop"');
    assert.equal(parseTrustProxy('2'), 2);
    assert.deepEqual(parseTrustProxy('10.0.0.0/8, fd00::/8,192.0.2.1'), ['10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
    assert.deepEqual(parseTrustProxy('loopback'), ['loopback']);
    for (const bad of ['17', 'yes please', '10.0.0.0/33', '300.1.1.1', 'lb.example', '::1/129', '10.0.0.1/8/8']) {
      assert.throws(() => loadConfig({}, { ALIAS_TRUST_PROXY: bad }), (e: unknown) => e instanceof ConfigError && /ALIAS_TRUST_PROXY/.test(e.message), bad);
    }
  });

  it('one hop: the right-most entry, whatever the client put on the left', async () => {
    assert.equal(await ipSeen('1', '1.1.1.1, 9.9.9.9'), '9.9.9.9');
    assert.equal(await ipSeen('true', '1.1.1.1, 9.9.9.9'), '9.9.9.9');
    assert.equal(await ipSeen('1', '9.9.9.9'), '9.9.9.9');
    assert.equal(await ipSeen('1'), '127.0.0.1', 'no header: the socket');
  });

  it('N hops, and a list of proxy addresses: the right-most untrusted entry', async () => {
    assert.equal(await ipSeen('2', '1.1.1.1, 8.8.8.8, 9.9.9.9'), '8.8.8.8');
    assert.equal(await ipSeen('127.0.0.1, 10.0.0.0/8', '1.1.1.1, 9.9.9.9, 10.1.2.3'), '9.9.9.9');
    assert.equal(await ipSeen('loopback', '1.1.1.1, 9.9.9.9'), '9.9.9.9');
    // A request that did not come through a listed proxy: its header is ignored.
    assert.equal(await ipSeen('10.0.0.0/8', '1.1.1.1, 9.9.9.9'), '127.0.0.1');
  });

  it('off by default: X-Forwarded-For is ignored', async () => {
    assert.equal(await ipSeen(undefined, '1.1.1.1, 9.9.9.9'), '127.0.0.1');
  });
});

// Through the real application: the address a failure is recorded against.
const sqlite = databaseKinds().find((k) => k.name === 'sqlite')!;
describe('ALIAS_TRUST_PROXY=1 in the application', () => {
  let alias: Alias;
  before(async () => { alias = await startAlias(sqlite, { env: { ALIAS_TRUST_PROXY: '1' } }); });
  after(() => alias?.close());

  it('a forged left-most X-Forwarded-For entry is not the recorded address', async () => {
    const { client, secret } = await alias.client({ grantTypes: ['password'] });
    const user = await alias.user();
    const res = await fetch(alias.issuer + '/api/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '1.1.1.1, 9.9.9.9',
        authorization: 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64') },
      body: new URLSearchParams({ grant_type: 'password', username: user.email, password: 'wrong password, surely', scope: 'openid' }),
    });
    assert.equal(res.status, 400);
    const events = await alias.s.store.audit.query({ clientId: client.id, limit: 10 });
    const login = events.find((e) => e.type === 'login');
    assert.ok(login, 'the failure is in the audit log');
    assert.equal(login.ipDigest, alias.s.secrets.mac(IP_PURPOSE, '9.9.9.9'), 'recorded against the proxy-added entry');
    assert.notEqual(login.ipDigest, alias.s.secrets.mac(IP_PURPOSE, '1.1.1.1'));
  });
});
