import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_initial.js';
import * as m002 from './002_device_codes.js';
import * as m003 from './003_backchannel_logout.js';
import * as m004 from './004_messages.js';
import * as m005 from './005_audit.js';
import * as m006 from './006_token_indexes.js';
import * as m007 from './007_id_token_alg.js';
import * as m008 from './008_accounts.js';
import * as m009 from './009_session_device.js';
import * as m010 from './010_auth_context.js';
import * as m011 from './011_client_metadata.js';
import * as m012 from './012_passkeys.js';
import * as m013 from './013_second_factor.js';
import * as m014 from './014_client_registration.js';
import * as m015 from './015_dpop.js';
import * as m016 from './016_pushed_requests.js';
import * as m017 from './017_resources.js';
import * as m018 from './018_refresh_retry.js';
import * as m019 from './019_key_activation.js';
import * as m020 from './020_client_secret_jwt.js';
import * as m021 from './021_cache_notify.js';
import * as m022 from './022_cache_notify_table.js';

/** The one migration set, applied in name order on SQLite and PostgreSQL. */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '001_initial': m001,
      '002_device_codes': m002,
      '003_backchannel_logout': m003,
      '004_messages': m004,
      '005_audit': m005,
      '006_token_indexes': m006,
      '007_id_token_alg': m007,
      '008_accounts': m008,
      '009_session_device': m009,
      '010_auth_context': m010,
      '011_client_metadata': m011,
      '012_passkeys': m012,
      '013_second_factor': m013,
      '014_client_registration': m014,
      '015_dpop': m015,
      '016_pushed_requests': m016,
      '017_resources': m017,
      '018_refresh_retry': m018,
      '019_key_activation': m019,
      '020_client_secret_jwt': m020,
      '021_cache_notify': m021,
      '022_cache_notify_table': m022,
    };
  },
};
