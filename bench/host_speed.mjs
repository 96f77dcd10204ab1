// How fast this host is right now, on the core it runs on: the bench runs it pinned to the
// servers' core before every round and after the last, so a reader can tell a quiet run
// from one whose host slowed down part way (a VM's neighbours take its CPU time and its
// memory bandwidth, and nothing inside the VM shows it: steal time reads 0 on Firecracker).
// Three measures of `ms` milliseconds each, printed as one JSON line:
// - cpuMBs: SHA-256 over a 64 KiB buffer (compute only: the token paths' share);
// - freshMemMBs: 19 MiB buffers allocated and written, each new one from the kernel
//   (page faults and page clearing: argon2id's share, which maps its 19 MiB per hash);
// - rsaSignsPerS: RSA-2048 signatures (SHA-256, PKCS#1 v1.5: an RS256 ID token's). This
//   tells the host's CPU generation apart: with AVX-512 IFMA OpenSSL signs in about a third
//   of the time (bench/README.md), which moves code exchange and the round trip.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const ms = Math.min(Math.max(Number(process.argv[2] ?? 150), 50), 2000);

function rate(fn, bytesPerCall = 2 ** 20) {
  fn(); // first call: compiled and warm
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    fn();
    calls++;
  }
  return (calls * bytesPerCall) / 2 ** 20 / ((performance.now() - start) / 1000);
}

const block = Buffer.alloc(64 * 1024, 7);
const cpuMBs = rate(() => createHash('sha256').update(block).digest(), block.length);
const FRESH = 19 * 2 ** 20;
// allocUnsafeSlow: outside Node's pool, so every buffer is a new allocation the size of
// argon2id's (glibc maps it fresh: over its mmap threshold); fill() touches every page.
const freshMemMBs = rate(() => Buffer.allocUnsafeSlow(FRESH).fill(1), FRESH);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signed = Buffer.from('header.payload');
const rsaSignsPerS = rate(() => sign('sha256', signed, privateKey));
process.stdout.write(JSON.stringify({ cpuMBs: Math.round(cpuMBs), freshMemMBs: Math.round(freshMemMBs), rsaSignsPerS: Math.round(rsaSignsPerS), ms }) + '\n');
