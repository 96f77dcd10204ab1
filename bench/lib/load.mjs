// One measured run: autocannon against one target, with our own counting. Every
// response is checked (status and body), so a fast error never passes for throughput;
// latencies are kept exactly (autocannon's histogram has 1 ms resolution); the rate is
// successful units over the time from the first request to the last response.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { basic, codeExchangeBody, cpuSeconds, CLIENT_SCOPE, authorizeQuery, peakRssMb, resetPeakRss, ROUND_TRIP_SCOPE } from './targets.mjs';

const FORM = 'application/x-www-form-urlencoded';

/** The `p`th percentile (nearest rank) of an ascending list; null when it is empty. */
export function percentile(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Runs `steps` (a request sequence each connection repeats) for `duration` seconds, or
 * `amount` requests in all. A step: { method, path, headers, body?, setup?(ctx) → body,
 * check(status, body, headers, ctx) → boolean, final?: true }. The final step's
 * successes are the units counted; a sequence's latency runs from its first request
 * to its final response. `timeline`: the result also says when the slow answers came
 * (timelineOf).
 */
export function runLoad(t, { connections, duration, amount, steps, maxSeconds = 60, timeline = false }) {
  const lat = [];
  /** With `timeline`: [ms since the start, latency ms] of every counted unit. */
  const stamps = [];
  let units = 0;
  let failures = 0;
  let lastAt = 0;
  const samples = [];
  const sequence = steps.length > 1;
  const requests = steps.map((step, i) => {
    const last = i === steps.length - 1;
    const r = { method: step.method, path: step.path, headers: step.headers ?? {} };
    if (step.body !== undefined) r.body = step.body;
    if (step.setup || (sequence && i === 0)) {
      r.setupRequest = (req, ctx) => {
        if (i === 0) ctx.t0 = performance.now();
        if (step.setup) {
          // A setup returns the body, or sets a header on `req` (a per-request copy) and returns nothing.
          const body = step.setup(ctx, req);
          if (body !== undefined) req.body = body;
        }
        return req;
      };
    }
    r.onResponse = (status, body, ctx, headers) => {
      const ok = step.check(status, body, headers, ctx);
      lastAt = performance.now();
      if (!ok) {
        failures++;
        if (samples.length < 3) samples.push(`${status} ${String(body).slice(0, 160)}`);
        return;
      }
      if (last) {
        units++;
        if (sequence) lat.push(lastAt - ctx.t0);
        if (timeline && sequence) stamps.push([lastAt - startAt, lastAt - ctx.t0]);
      }
    };
    return r;
  });

  const startAt = performance.now();
  return new Promise((resolve, reject) => {
    let guard;
    const instance = autocannon({
      url: t.url,
      connections,
      ...(amount ? { amount } : { duration }),
      sampleInt: 100,
      timeout: 10,
      requests,
    }, (err, result) => {
      clearTimeout(guard);
      if (err) return reject(err);
      const elapsedS = ((lastAt || performance.now()) - startAt) / 1000;
      lat.sort((a, b) => a - b);
      const p99 = percentile(lat, 99);
      resolve({
        units,
        rps: elapsedS > 0 ? units / elapsedS : 0,
        p50: percentile(lat, 50),
        p99,
        // Failed checks, connection errors and timeouts.
        errors: failures + result.errors,
        errorSamples: samples,
        elapsedS,
        ...(timeline ? { timeline: timelineOf(stamps, p99) } : {}),
      });
    });
    if (!sequence) {
      instance.on('response', (_client, _status, _bytes, ms) => {
        lat.push(ms);
        if (timeline) stamps.push([performance.now() - startAt, ms]);
      });
    }
    // Bounded whatever happens: autocannon stops at the next tick.
    guard = setTimeout(() => instance.stop(), maxSeconds * 1000);
  });
}

/** Width of a timeline bucket. */
export const TIMELINE_BUCKET_MS = 50;

/**
 * When a run's slow answers came (bench:profile --timeline): per 50 ms of the run, the
 * answers, how many took at least the run's p99, and the longest. A `dip` is a bucket
 * (not the first two or last two: connections opening and closing) with fewer than 60 %
 * of the median bucket's answers: the server slowed for that moment (a checkpoint, a
 * collection, the host), as against latency spread evenly over the run.
 */
function timelineOf(stamps, p99) {
  const buckets = [];
  for (const [at, ms] of stamps) {
    const i = Math.floor(at / TIMELINE_BUCKET_MS);
    while (buckets.length <= i) buckets.push({ answers: 0, slow: 0, maxMs: 0 });
    const b = buckets[i];
    b.answers++;
    if (p99 !== null && ms >= p99) b.slow++;
    if (ms > b.maxMs) b.maxMs = ms;
  }
  const inner = buckets.slice(2, -2);
  const sorted = inner.map((b) => b.answers).sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1] ?? 0;
  const dips = inner.filter((b) => b.answers < median * 0.6).length;
  const slowInFirst100Ms = buckets.slice(0, 100 / TIMELINE_BUCKET_MS).reduce((n, b) => n + b.slow, 0);
  const slow = buckets.reduce((n, b) => n + b.slow, 0);
  return { bucketMs: TIMELINE_BUCKET_MS, buckets, medianAnswers: median, dips, slow, slowInFirst100Ms };
}

/**
 * A run of `runLoad` with what it cost the server: peak RSS (VmHWM, reset first) and
 * server CPU time (user + system) per unit, which leaves out PostgreSQL's own processes
 * and is steadier than the rate on a busy machine.
 */
export async function measuredRun(t, opts) {
  resetPeakRss(t.proc.pid);
  const cpu0 = cpuSeconds(t.proc.pid);
  const main0 = mainThreadOnCpuMs(t.proc.pid);
  const res = await runLoad(t, opts);
  const rssMb = peakRssMb(t.proc.pid);
  const cpu1 = cpuSeconds(t.proc.pid);
  const main1 = mainThreadOnCpuMs(t.proc.pid);
  const cpuMs = cpu0 !== null && cpu1 !== null && res.units ? ((cpu1 - cpu0) * 1000) / res.units : null;
  const mainCpuMs = main0 !== null && main1 !== null && res.units ? (main1 - main0) / res.units : null;
  await drained(t.proc.pid);
  return { ...res, rssMb, cpuMs, mainCpuMs };
}

/**
 * The main thread's time on a CPU so far (ms), from /proc's schedstat (nanoseconds, exact,
 * not sampled): a sign-in's own work without the argon2id hash, which runs on the
 * thread pool and whose cost would hide a change of a few per cent in the rest.
 */
function mainThreadOnCpuMs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

/**
 * Waits (at most `maxMs`) until the server `pid` has used no more than a tick of CPU in
 * 100 ms. A run ends with requests still in the server (50 sign-ins queued for argon2id
 * are half a second of hashing); every server is pinned to the same core, so without
 * this the next target's run shared it with that backlog (sign-ins at 50 connections
 * measured 58–62/s after another target's run and 87/s after none, 2026-12-06).
 */
export async function drained(pid, maxMs = 5_000) {
  const end = Date.now() + maxMs;
  let before = cpuSeconds(pid);
  while (before !== null && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpuSeconds(pid);
    if (now === null || now - before <= 0.01) return;
    before = now;
  }
}

const ok200 = (needle) => (status, body) => status === 200 && body.includes(needle);

export function clientCredentialsSteps(t) {
  return [{
    method: 'POST', path: t.endpoints.token,
    headers: { authorization: basic(t), 'content-type': FORM },
    body: `grant_type=client_credentials&scope=${encodeURIComponent(CLIENT_SCOPE)}`,
    check: ok200('"access_token"'),
  }];
}

/** `tokens`: one token, or a list the requests go through in turn (the scaling mode's samples). */
function eachToken(tokens) {
  const list = Array.isArray(tokens) ? tokens : [tokens];
  let i = 0;
  return () => list[i++ % list.length];
}

export function introspectionSteps(t, accessTokens) {
  const next = eachToken(accessTokens);
  return [{
    method: 'POST', path: t.endpoints.introspect,
    headers: { authorization: basic(t), 'content-type': FORM },
    setup: () => `token=${encodeURIComponent(next())}`,
    check: ok200('"active":true'),
  }];
}

export function userinfoSteps(t, accessTokens) {
  const next = eachToken(accessTokens);
  return [{
    method: 'GET', path: t.endpoints.userinfo,
    setup: (_ctx, req) => { req.headers.authorization = `Bearer ${next()}`; },
    check: ok200('"sub"'),
  }];
}

/** Each request takes the next unused value of `values`; refresh tokens are collected. */
function takeEach(values) {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

export function codeExchangeSteps(t, codes, refreshOut) {
  const next = takeEach(codes);
  return [{
    method: 'POST', path: t.endpoints.token,
    headers: { authorization: basic(t), 'content-type': FORM },
    setup: () => codeExchangeBody(next()),
    check(status, body) {
      if (status !== 200) return false;
      const m = /"refresh_token":"([^"]+)"/.exec(body);
      if (m) refreshOut.push(m[1]);
      return m !== null && body.includes('"id_token"');
    },
  }];
}

export function refreshSteps(t, refreshTokens) {
  const next = takeEach(refreshTokens);
  return [{
    method: 'POST', path: t.endpoints.token,
    headers: { authorization: basic(t), 'content-type': FORM },
    setup: () => `grant_type=refresh_token&refresh_token=${encodeURIComponent(next())}`,
    check: ok200('"refresh_token"'),
  }];
}

/**
 * Refresh rotation that does not run dry (the scaling mode): spends `pool.tokens` in order
 * from `pool.next` and appends the refresh token each answer returns, so with at least one
 * token per connection to start with, a run lasts as long as it is told to; bulk tokens
 * (old keys, anywhere in the index) are spent first.
 */
export function refreshChainSteps(t, pool) {
  return [{
    method: 'POST', path: t.endpoints.token,
    headers: { authorization: basic(t), 'content-type': FORM },
    setup: () => `grant_type=refresh_token&refresh_token=${encodeURIComponent(pool.tokens[pool.next++])}`,
    check(status, body) {
      if (status !== 200) return false;
      const m = /"refresh_token":"([^"]+)"/.exec(body);
      if (m) pool.tokens.push(m[1]);
      return m !== null;
    },
  }];
}

/** Authorize with the session and remembered grant → code → token. */
export function roundTripSteps(t) {
  return [{
    method: 'GET', path: authorizeQuery(t, ROUND_TRIP_SCOPE),
    headers: { cookie: t.sessionCookie },
    check(status, _body, headers, ctx) {
      const location = headers.location ?? headers.Location;
      const m = typeof location === 'string' ? /[?&]code=([^&]+)/.exec(location) : null;
      ctx.code = m ? decodeURIComponent(m[1]) : 'missing';
      return (status === 302 || status === 303) && m !== null;
    },
  }, {
    method: 'POST', path: t.endpoints.token,
    headers: { authorization: basic(t), 'content-type': FORM },
    setup: (ctx) => codeExchangeBody(ctx.code),
    check: ok200('"id_token"'),
  }];
}

/** Alias's sign-in form, posted with the right password: 303 back to the interaction. */
export function loginSteps(form) {
  let i = 0;
  return [{
    method: 'POST', path: form.path,
    headers: { cookie: form.cookie, 'content-type': FORM },
    // Round robin over the login scenario's people (targets.mjs LOGIN_USERS).
    setup: () => form.bodies[i++ % form.bodies.length],
    check(status, _body, headers) {
      const location = headers.location ?? headers.Location;
      return status === 303 && typeof location === 'string' && location.startsWith('/interaction/');
    },
  }];
}

/**
 * client_credentials with a DPoP proof per request (RFC 9449 §5): `proofs` are made
 * before the run (bench/lib/proofs.mjs), one per request, each with its own jti; the
 * answer must be a DPoP-bound token (token_type DPoP, §5.1).
 */
export function dpopClientCredentialsSteps(t, proofs) {
  const next = takeEach(proofs);
  return [{
    method: 'POST', path: t.endpoints.token,
    headers: { authorization: t.dpopClient.basic, 'content-type': FORM },
    body: `grant_type=client_credentials&scope=${encodeURIComponent(CLIENT_SCOPE)}`,
    setup: (_ctx, req) => { req.headers.dpop = next(); },
    check: (status, body) => status === 200 && body.includes('"access_token"') && /"token_type":"DPoP"/i.test(body),
  }];
}

/** client_credentials authenticated with a client assertion per request (RFC 7523 §2.2, unique jti). */
export function privateKeyJwtClientCredentialsSteps(t, assertions) {
  const next = takeEach(assertions);
  const prefix = `grant_type=client_credentials&scope=${encodeURIComponent(CLIENT_SCOPE)}` +
    `&client_id=${encodeURIComponent(t.pkjwtClient.clientId)}` +
    `&client_assertion_type=${encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')}&client_assertion=`;
  return [{
    method: 'POST', path: t.endpoints.token,
    headers: { 'content-type': FORM },
    setup: () => prefix + next(),
    check: ok200('"access_token"'),
  }];
}
