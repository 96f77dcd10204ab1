// `aliasid dkim generate`: a DKIM key pair for ALIAS_DKIM_KEY and the DNS record that
// publishes its public half (RFC 6376 §3.6.1), with the SPF and DMARC records beside it.
import type { Command } from 'commander';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DkimConfigError, generateDkim, txtStrings } from '../mail/dkim.js';
import { fail, print, UsageError } from './context.js';

export function dkimCommand(program: Command) {
  const dkim = program.command('dkim').description('DKIM signing of the mail Alias sends');
  dkim.command('generate')
    .description('write a new DKIM private key (RSA 2048, mode 0600) and print the DNS TXT record to publish')
    .requiredOption('--domain <domain>', 'the domain of the From address (d=), e.g. example.com')
    .requiredOption('--selector <selector>', 'the selector (s=), e.g. alias2026')
    .option('--out <file>', 'where to write the private key (default ./data/dkim/SELECTOR.DOMAIN.pem)')
    .action((opts: { domain: string; selector: string; out?: string }) => {
      try {
        let made;
        try {
          made = generateDkim(opts.domain, opts.selector);
        } catch (err) {
          if (err instanceof DkimConfigError) throw new UsageError(err.message);
          throw err;
        }
        const [selector, domain] = made.recordName.split('._domainkey.') as [string, string];
        const file = resolve(opts.out ?? `./data/dkim/${selector}.${domain}.pem`);
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        try {
          // Never replaces a key: the old one may still be published and in use.
          writeFileSync(file, made.privateKeyPem, { mode: 0o600, flag: 'wx' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${file} exists; choose another --out or --selector`);
          throw err;
        }
        chmodSync(file, 0o600);
        const strings = txtStrings(made.recordValue).map((s) => `"${s}"`).join(' ');
        print(`wrote the private key to ${file} (mode 0600: keep it secret)`);
        print('');
        print('1. Publish this DNS TXT record (one record; the value is split into strings of at most 255 characters):');
        print(`   ${made.recordName}. 3600 IN TXT ${strings}`);
        print('');
        print('2. Set on every node that sends mail (serve and worker):');
        print(`   ALIAS_DKIM_DOMAIN=${domain} ALIAS_DKIM_SELECTOR=${selector} ALIAS_DKIM_KEY=${file}`);
        print('');
        print('3. With it publish SPF and DMARC for the From domain, if it has none yet (adapt the SPF to your mail server):');
        print(`   ${domain}. 3600 IN TXT "v=spf1 mx -all"`);
        print(`   _dmarc.${domain}. 3600 IN TXT "v=DMARC1; p=quarantine; adkim=s; aspf=r"`);
      } catch (err) {
        fail(err);
      }
    });
}
