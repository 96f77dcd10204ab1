// How `aliasid` treats the person at the terminal (issue 18 items 5, 8 and 9), run as
// child processes the way an operator runs them:
// - a usage mistake is one line on stderr that says where to read more, not the whole help;
// - help shows a repeatable option's real default, never "(default: [])";
// - a command that reads or changes existing data refuses a database that is not there
//   (a mistyped --db) and creates nothing; serve, migrate and the create commands create;
// - `user create` takes the password from standard input or a prompt without echo, so it
//   need not sit in the shell's history; --password still works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { databaseKinds, PG_URL, TEST_SECRET } from '../helpers/databases.js';
import { aliasid, aliasidIn, aliasidOnTerminal, HAVE_SCRIPT, json, ok, refused } from '../helpers/cli.js';

/** One line on stderr naming the mistake and the help to read; no help text after it. */
function usageError(r: { code: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }, mistake: RegExp, help: string) {
  refused(r, mistake);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.ok(lines[0]!.includes(`see \`${help} --help\``), `points to ${help} --help: ${lines[0]}`);
  assert.doesNotMatch(r.stderr, /Usage:|Options:/, 'the help is not printed after the error');
}

describe('aliasid usage errors and help', { concurrency: true }, () => {
  const cases: [string[], RegExp, string][] = [
    [['client', 'create', '--redirect-uri', 'https://app.example/cb'], /required option '--name <name>' not specified/, 'aliasid client create'],
    [['client', 'list', '--nmae', 'x'], /unknown option '--nmae'/, 'aliasid client list'],
    [['client', 'show'], /missing required argument 'id'/, 'aliasid client show'],
    [['client', 'frobnicate'], /unknown command 'frobnicate'/, 'aliasid client'],
    [['frobnicate'], /unknown command 'frobnicate'/, 'aliasid'],
    [['user', 'create', '--email'], /option '--email <email>' argument missing/, 'aliasid user create'],
  ];
  for (const [args, mistake, help] of cases) {
    it(`aliasid ${args.join(' ')}: one line, "see \`${help} --help\`", exit 1`, async () => {
      const r = await aliasid(args);
      usageError(r, mistake, help);
      assert.equal(r.code, 1);
    });
  }

  it('a mistyped option gets the suggestion on the same line', async () => {
    const r = await aliasid(['client', 'list', '--jsno']);
    usageError(r, /unknown option '--jsno'.*Did you mean --json\?/, 'aliasid client list');
  });

  it('client create --help: repeatable options show their real default, never "(default: [])"', async () => {
    const r = ok(await aliasid(['client', 'create', '--help']));
    assert.doesNotMatch(r.stdout, /default: \[\]/);
    // Help wraps long descriptions: compare with the line breaks taken out.
    const text = r.stdout.replace(/\s+/g, ' ');
    assert.match(text, /--grant-type <type> grant type \(repeatable; default authorization_code\)/);
    assert.match(text, /--redirect-uri <uri> redirect URI \(repeatable\)/);
  });

  it('user create --help: --password-stdin, the prompt, and that --password stays in the shell history', async () => {
    const text = ok(await aliasid(['user', 'create', '--help'])).stdout.replace(/\s+/g, ' ');
    assert.match(text, /--password-stdin read the password from the first line of standard input/);
    assert.match(text, /asked for on the terminal \(not shown as you type\)/);
    assert.match(text, /--password <password> .*stays in the shell history/);
  });
});

describe('a database that is not there (issue 18 item 5)', { concurrency: true }, () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'alias-cli-manners-'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  /** Nothing was made in the working directory. */
  const nothingCreated = (dir: string) => assert.deepEqual(readdirSync(dir), [], `nothing created in ${dir}`);

  // Each run costs seconds of CPU: the lists and shows, a change of each kind, and the worker.
  const readers = [
    ['client', 'list'], ['client', 'show', 'some-client'], ['client', 'update', 'some-client', '--name', 'X'],
    ['user', 'list'], ['user', 'show', 'ann@example.com'], ['user', 'delete', 'ann@example.com'],
    ['keys', 'rotate'], ['audit'], ['worker'],
  ];
  for (const args of readers) {
    it(`aliasid ${args.join(' ')} --db ./dta/alias.db: refused, naming it; no ./dta, no database, no secret`, async () => {
      const dir = mkdtempSync(join(cwd, 'run-'));
      const r = await aliasidIn({ cwd: dir }, [...args, '--db', './dta/alias.db']);
      refused(r, new RegExp(`no database at ${join(dir, 'dta', 'alias.db').replaceAll('/', '\\/')} \\(check --db or ALIAS_DB\\)`));
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
      assert.equal(existsSync(join(dir, 'dta')), false, './dta was not created');
      nothingCreated(dir);
    });
  }

  it('ALIAS_DB naming a missing file is refused the same way (client list prints no "no clients")', async () => {
    const dir = mkdtempSync(join(cwd, 'run-'));
    const r = await aliasidIn({ cwd: dir, env: { ALIAS_DB: join(dir, 'dta', 'alias.db') } }, ['client', 'list']);
    refused(r, /no database at .*dta\/alias\.db/);
    nothingCreated(dir);
  });

  it('the default ./data/alias.db, when there is none, is refused too', async () => {
    const dir = mkdtempSync(join(cwd, 'run-'));
    refused(await aliasidIn({ cwd: dir }, ['user', 'list']), /no database at .*\/data\/alias\.db/);
    nothingCreated(dir);
  });

  it('client create makes a new database (directory 0700, file and secret); then client list reads it', async () => {
    const dir = mkdtempSync(join(cwd, 'run-'));
    const created = json(await aliasidIn({ cwd: dir }, ['client', 'create', '--name', 'First app',
      '--redirect-uri', 'https://app.example/cb', '--json', '--db', './new/alias.db']));
    assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o700);
    assert.ok(existsSync(join(dir, 'new', 'alias.db')));
    assert.ok(existsSync(join(dir, 'new', 'secret')));
    const listed = ok(await aliasidIn({ cwd: dir }, ['client', 'list', '--db', './new/alias.db']));
    assert.match(listed.stdout, new RegExp(`^${created.client_id as string}  confidential  First app$`, 'm'));
  });

  it('migrate and user create make a new database too', async () => {
    const dir = mkdtempSync(join(cwd, 'run-'));
    assert.match(ok(await aliasidIn({ cwd: dir }, ['migrate', '--db', './m/alias.db'])).stdout, /applied/);
    assert.ok(existsSync(join(dir, 'm', 'alias.db')));
    ok(await aliasidIn({ cwd: dir, input: 'a long password 1\n' },
      ['user', 'create', '--email', 'new@example.com', '--password-stdin', '--db', './u/alias.db']));
    assert.ok(existsSync(join(dir, 'u', 'alias.db')));
  });

  it('bad input is refused before any database is looked for (audit --since)', async () => {
    const dir = mkdtempSync(join(cwd, 'run-'));
    refused(await aliasidIn({ cwd: dir }, ['audit', '--since', 'last tuesday', '--db', './dta/alias.db']), /--since/);
    nothingCreated(dir);
  });

  for (const kind of databaseKinds().filter((k) => k.name === 'postgres')) {
    it('a PostgreSQL database that does not exist: refused, naming it; nothing is created', { skip: kind.skip }, async () => {
      const missing = new URL(PG_URL);
      missing.pathname = `/alias_missing_${process.pid}`;
      const dir = mkdtempSync(join(cwd, 'run-'));
      const r = await aliasidIn({ cwd: dir, env: { ALIAS_SECRET: TEST_SECRET } }, ['client', 'list', '--db', missing.href]);
      refused(r, new RegExp(`alias_missing_${process.pid}`));
      nothingCreated(dir);
    });
  }
});

describe('user create: the password outside the shell history (issue 18 item 9)', { concurrency: true }, () => {
  let cwd: string;
  let location: string;
  let s: Services;
  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'alias-cli-password-'));
    location = join(cwd, 'alias.db');
    ok(await aliasid(['migrate', '--db', location]));
    s = await createServices(loadConfig({ db: location }, {}), { migrate: false });
  });
  after(async () => {
    await s?.close();
    rmSync(cwd, { recursive: true, force: true });
  });
  const create = (email: string, extra: string[], input?: string) =>
    aliasidIn({ cwd, input }, ['user', 'create', '--email', email, '--db', location, ...extra]);
  const signsIn = async (email: string, password: string) => (await s.accounts.login(email, password, '127.0.0.1')).ok;

  it('--password-stdin reads the first line (without its line ending); the rest is ignored', async () => {
    const u = json(await create('stdin@example.com', ['--password-stdin', '--json'], 'correct horse battery\r\nsecond line\n'));
    assert.equal(u.email, 'stdin@example.com');
    assert.ok(await signsIn('stdin@example.com', 'correct horse battery'));
    assert.equal(await signsIn('stdin@example.com', 'correct horse battery\r'), false);
  });

  it('--password-stdin: input without a final line break (a file written without one)', async () => {
    ok(await create('file@example.com', ['--password-stdin'], 'from a file 12345'));
    assert.ok(await signsIn('file@example.com', 'from a file 12345'));
  });

  it('--password-stdin with a short password is refused like any other; no user', async () => {
    refused(await create('short@example.com', ['--password-stdin'], 'short\n'), /password/i);
    assert.equal(await s.store.users.getByEmail('short@example.com'), undefined);
  });

  it('--password and --password-stdin together are refused; no user', async () => {
    refused(await create('both@example.com', ['--password', 'a long password 1', '--password-stdin'], 'a long password 1\n'),
      /--password or --password-stdin, not both/);
    assert.equal(await s.store.users.getByEmail('both@example.com'), undefined);
  });

  it('no password option and no terminal: refused, saying how to give one; no user', async () => {
    refused(await create('none@example.com', []), /no password: give --password-stdin/);
    assert.equal(await s.store.users.getByEmail('none@example.com'), undefined);
  });

  it('--password still works (scripts written against it)', async () => {
    ok(await create('legacy@example.com', ['--password', 'a long password 1']));
    assert.ok(await signsIn('legacy@example.com', 'a long password 1'));
  });

  it('on a terminal without a password option: asks twice, shows nothing typed, creates the user', { skip: !HAVE_SCRIPT && 'util-linux script is not installed' }, async () => {
    const password = 'typed at the terminal 7';
    const r = await aliasidOnTerminal({ cwd }, ['user', 'create', '--email', 'tty@example.com', '--db', location], [
      { prompt: /Password for tty@example\.com: $/, type: `${password}\r` },
      { prompt: /The same password again: $/, type: `${password}\r` },
    ]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /created user [0-9a-f]{32} <tty@example\.com>/);
    assert.ok(!r.output.includes('typed at the terminal'), `the password was not echoed:\n${r.output}`);
    assert.ok(await signsIn('tty@example.com', password));
  });

  it('on a terminal, two different answers: refused, nothing created', { skip: !HAVE_SCRIPT && 'util-linux script is not installed' }, async () => {
    const r = await aliasidOnTerminal({ cwd }, ['user', 'create', '--email', 'typo@example.com', '--db', location], [
      { prompt: /Password for typo@example\.com: $/, type: 'first long password\r' },
      { prompt: /The same password again: $/, type: 'first long passwrod\r' },
    ]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /the two passwords differ: no user created/);
    assert.equal(await s.store.users.getByEmail('typo@example.com'), undefined);
  });
});
