// `aliasid`: the command line. One file per command.
import { Command } from 'commander';
import { serveCommand } from './serve.js';
import { migrateCommand } from './migrate.js';
import { userCommand } from './user.js';
import { clientCommand } from './client.js';
import { keysCommand } from './keys.js';
import { workerCommand } from './worker.js';
import { auditCommand } from './audit.js';
import { dkimCommand } from './dkim.js';
import { registrationTokenCommand } from './registration_token.js';

const program = new Command('aliasid')
  .description('Alias: a privacy-first OAuth 2.0 and OpenID Connect provider')
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

serveCommand(program);
migrateCommand(program);
userCommand(program);
clientCommand(program);
keysCommand(program);
workerCommand(program);
auditCommand(program);
dkimCommand(program);
registrationTokenCommand(program);

await program.parseAsync(process.argv);
