// `aliasid`: the command line, one file per command. index.ts runs it; the tests read it
// (test/unit/docs.test.ts: every command and option is documented in docs/cli.md).
import { AliasCommand } from './command.js';
import { allowDatabaseCreation } from './context.js';
import { serveCommand } from './serve.js';
import { migrateCommand } from './migrate.js';
import { userCommand } from './user.js';
import { clientCommand } from './client.js';
import { keysCommand } from './keys.js';
import { workerCommand } from './worker.js';
import { auditCommand } from './audit.js';
import { dkimCommand } from './dkim.js';
import { registrationTokenCommand } from './registration_token.js';
import { resourceCommand } from './resource.js';

export const program = new AliasCommand('aliasid')
  .description('Alias: a privacy-first OAuth 2.0 and OpenID Connect provider')
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  // Only serve, migrate and the create commands may make a new database (context.ts).
  .hook('preAction', (_program, command) => allowDatabaseCreation(command));

serveCommand(program);
migrateCommand(program);
userCommand(program);
clientCommand(program);
keysCommand(program);
workerCommand(program);
auditCommand(program);
dkimCommand(program);
registrationTokenCommand(program);
resourceCommand(program);
