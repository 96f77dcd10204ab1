// `aliasid`: runs the command line defined in program.ts.
import { program } from './program.js';

await program.parseAsync(process.argv);
