// The raw argon2id rate the login scenario is compared with: @node-rs/argon2 `verify`
// of a hash made by Alias's own hashPassword (so the same parameters), `concurrency`
// verifies in flight for `seconds`. Run by bench/run.mjs pinned to the servers' core.
// Prints one JSON line: { rate, count, seconds, params }.
import { verify } from '@node-rs/argon2';
import { performance } from 'node:perf_hooks';

const seconds = Math.min(Number(process.argv[2] ?? 2), 30);
const concurrency = Math.min(Number(process.argv[3] ?? 20), 200);
const { hashPassword } = await import(new URL('../dist/accounts/passwords.js', import.meta.url).href);

const password = 'bench-password-0123';
const stored = await hashPassword(password);
const params = /\$argon2id\$v=\d+\$([^$]+)\$/.exec(stored)?.[1];
// One verify first: the thread pool is warm and the parameters are checked.
if (!(await verify(stored, password))) throw new Error('argon2 verify failed');

let count = 0;
const start = performance.now();
const end = start + seconds * 1000;
let last = start;
async function worker() {
  while (performance.now() < end) {
    if (!(await verify(stored, password))) throw new Error('argon2 verify failed');
    count++;
    last = performance.now();
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const elapsed = (last - start) / 1000;
process.stdout.write(JSON.stringify({ rate: count / elapsed, count, seconds: elapsed, params, threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }) + '\n');
