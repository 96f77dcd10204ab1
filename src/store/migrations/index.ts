import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_initial.js';

/** The one migration set, applied in name order on SQLite and PostgreSQL. */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { '001_initial': m001 };
  },
};
