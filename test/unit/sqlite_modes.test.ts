// Issue 16 item 10: the SQLite database (argon2 hashes, e-mail addresses, the pairwise salt)
// is readable by its owner only: the data directory Alias creates is 0700, the file and its
// -wal and -shm files 0600, whatever the umask; an existing file open to others is tightened.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase } from '../../src/store/db.js';

const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);

describe('SQLite file permissions', () => {
  it('a new data directory is 0700 and alias.db, -wal and -shm are 0600 under umask 022', async () => {
    const root = mkdtempSync(join(tmpdir(), 'alias-modes-'));
    const old = process.umask(0o022);
    try {
      const file = join(root, 'data', 'alias.db');
      const db = openDatabase(file);
      await migrate(db);
      assert.equal(mode(join(root, 'data')), '700');
      assert.equal(mode(file), '600');
      assert.equal(mode(`${file}-wal`), '600');
      assert.equal(mode(`${file}-shm`), '600');
      await db.close();
    } finally {
      process.umask(old);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('an existing database file left 0644 (and its -wal) is tightened to 0600; nothing is loosened', async () => {
    const root = mkdtempSync(join(tmpdir(), 'alias-modes-'));
    try {
      const file = join(root, 'alias.db');
      const first = openDatabase(file);
      await migrate(first);
      await first.close();
      chmodSync(file, 0o644);
      writeFileSync(`${file}-wal`, '');
      chmodSync(`${file}-wal`, 0o664);
      const again = openDatabase(file);
      await migrate(again);
      assert.equal(mode(file), '600');
      assert.equal(mode(`${file}-wal`), '600');
      await again.close();
      chmodSync(file, 0o400);
      const readOnly = openDatabase(file);
      assert.equal(mode(file), '400', 'a tighter mode is kept');
      await readOnly.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
