// DKIM (RFC 6376): `aliasid dkim generate` makes a key and the DNS record; a relayed mail
// signed with that key verifies with mailauth (an independent verifier) against exactly
// the record the command printed, and fails once the body is changed in transit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { aliasid } from '../helpers/cli.js';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { basic } from '../helpers/bad_input.js';

const sqlite = databaseKinds().find((k) => k.name === 'sqlite')!;

describe('DKIM-signed mail', () => {
  let dir: string;
  let record: { name: string; value: string };
  let keyFile: string;
  let smtp: SmtpSink;
  let alias: Alias;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alias-dkim-'));
    keyFile = join(dir, 'alias1.mail.example.pem');
    const run = await aliasid(['dkim', 'generate', '--domain', 'mail.example', '--selector', 'alias1', '--out', keyFile]);
    assert.equal(run.code, 0, run.stderr);
    // The printed record: NAME. TTL IN TXT "part" "part" (RFC 1035 character-strings).
    const line = /^\s*(\S+)\. \d+ IN TXT ((?:"[^"]*" ?)+)$/m.exec(run.stdout);
    assert.ok(line, run.stdout);
    record = { name: line[1]!, value: [...line[2]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('') };
    assert.equal(record.name, 'alias1._domainkey.mail.example');
    assert.match(record.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
    assert.match(run.stdout, new RegExp(`ALIAS_DKIM_KEY=${keyFile}`));
    smtp = await startSmtpSink();
    alias = await startAlias(sqlite, { env: {
      ALIAS_SMTP_URL: smtp.url, ALIAS_SMTP_FROM: 'alias@mail.example',
      ALIAS_DKIM_DOMAIN: 'mail.example', ALIAS_DKIM_SELECTOR: 'alias1', ALIAS_DKIM_KEY: keyFile,
    } });
  });
  after(async () => {
    await alias?.close();
    await smtp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the private key with mode 0600 and refuses to overwrite it', async () => {
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    const again = await aliasid(['dkim', 'generate', '--domain', 'mail.example', '--selector', 'alias1', '--out', keyFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists/);
    const bad = await aliasid(['dkim', 'generate', '--domain', 'not a domain', '--selector', 's', '--out', join(dir, 'x.pem')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--domain must be a DNS name/);
  });

  it('a relayed mail carries a signature that verifies against the published record', async () => {
    const { client, secret } = await alias.client({ name: 'Acme', channels: ['news'] });
    const user = await alias.user();
    const grant = await alias.s.consent.record({ userId: user.id, clientId: client.id,
      requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
      approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
    const res = await fetch(`${alias.issuer}/api/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(client.id, secret!) },
      body: JSON.stringify({ to: grant.sub, channel: 'news', subject: 'Signed news', body: 'Hello, signed world.' }),
    });
    assert.equal(res.status, 202);
    assert.equal(await alias.s.relayWorker.runOnce(), 1);
    const [mail] = await smtp.waitFor(1);
    const resolver = async (name: string, type: string) => {
      if (type === 'TXT' && name === record.name) return [[record.value]];
      throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    };
    const ok = await dkimVerify(Buffer.from(mail!.raw), { resolver });
    assert.equal(ok.results.length, 1);
    assert.equal(ok.results[0]!.status.result, 'pass', JSON.stringify(ok.results[0]));
    assert.equal(ok.results[0]!.signingDomain, 'mail.example');
    // A body changed on the way no longer verifies (RFC 6376 §3.7 body hash).
    const tampered = mail!.raw.replace('Hello, signed world.', 'Hello, forged world.');
    assert.notEqual(tampered, mail!.raw);
    const bad = await dkimVerify(Buffer.from(tampered), { resolver });
    assert.notEqual(bad.results[0]!.status.result, 'pass');
  });
});
