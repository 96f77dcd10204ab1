// JWT signing alone: jose's SignJWT (WebCrypto) against Alias's signJwt (node:crypto on a
// cached KeyObject, src/tokens/jws.ts), for each signing algorithm, one signature at a time.
// Run it pinned to one core, after `npm run build`:
//   taskset -c 1 node bench/sign_rate.mjs [seconds per measurement, default 2]
// Prints µs of wall time and of process CPU per signature; the two ways alternate, three times.
import { generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';

const seconds = Math.min(Number(process.argv[2] ?? 2), 30);
const { signJwt } = await import(new URL('../dist/tokens/jws.js', import.meta.url).href);

const claims = () => ({
  auth_time: 1_765_000_000, amr: ['pwd'], acr: '0', nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', nickname: 'bench',
  iss: 'http://localhost:3000', aud: 'client-0123456789', sub: 'alias-id-0123456789abcdef', jti: 'jti-0123456789abcdef',
  iat: 1_765_000_000, exp: 1_765_003_600,
});

const ways = {
  jose: (key) => new SignJWT(claims()).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey),
  'node:crypto': async (key) => signJwt(key, { typ: 'JWT' }, claims()),
  // The same signature as a libuv thread-pool job (crypto.sign with a callback), as WebCrypto runs it.
  'node:crypto async': (key) => new Promise((resolve, reject) => {
    const input = Buffer.from(`${Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`);
    const k = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey;
    sign('sha256', input, k, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString('base64url')}`)));
  }),
};

async function measure(fn, key) {
  const end = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < end) {
    await fn(key);
    n++;
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: (wall * 1000) / n, cpuUs: (cpu.user + cpu.system) / n };
}

for (const alg of ['RS256', 'ES256']) {
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = { kid: 'bench', alg, privateKey };
  for (const fn of Object.values(ways)) await measure(fn, key); // warm-up (JIT, jose's CryptoKey path)
  for (let round = 1; round <= 3; round++) {
    for (const [name, fn] of Object.entries(ways)) {
      const r = await measure(fn, key);
      process.stdout.write(`${alg} ${name.padEnd(17)} round ${round}: ${r.wallUs.toFixed(0).padStart(4)} µs wall, ${r.cpuUs.toFixed(0).padStart(4)} µs CPU per signature\n`);
    }
  }
}
