// Aggregation across rounds, the targets of issue 17 (§2), the printed table and the SVG chart.

export const SCENARIOS = [
  { id: 'client_credentials', n: 1, label: 'client_credentials token', short: 'client creds', unit: 'req/s' },
  { id: 'introspection', n: 2, label: 'token introspection', short: 'introspection', unit: 'req/s' },
  { id: 'code_exchange', n: 3, label: 'authorization code exchange', short: 'code exchange', unit: 'req/s' },
  { id: 'refresh', n: 4, label: 'refresh token rotation', short: 'refresh', unit: 'req/s' },
  { id: 'userinfo', n: 5, label: 'userinfo', short: 'userinfo', unit: 'req/s' },
  { id: 'round_trip', n: 6, label: 'round trip authorize→code→token', short: 'round trip', unit: 'trips/s' },
  { id: 'login', n: 7, label: 'password login (login form)', short: 'logins', unit: 'logins/s' },
  // Issue 19: key-based clients. No target yet (the issue asks for the ratio).
  { id: 'dpop_client_credentials', n: 8, label: 'client_credentials, DPoP-bound', short: 'DPoP cc', unit: 'req/s', noTarget: true },
  { id: 'private_key_jwt_client_credentials', n: 9, label: 'client_credentials, private_key_jwt', short: 'pk_jwt cc', unit: 'req/s', noTarget: true },
];

export const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/**
 * The ratio a scenario must reach for an Alias target (issue 17 §2): vs the in-memory
 * peer, or for logins vs raw argon2id on the same core.
 */
export function requiredRatio(scenario, target) {
  const pg = target === 'alias-pg';
  if (scenario === 'login') return pg ? 0.9 : 0.95;
  if (scenario === 'code_exchange' || scenario === 'round_trip') return pg ? 0.8 : 1.5;
  // client_credentials, introspection, userinfo, refresh (no ID token).
  return pg ? 1 : 2;
}

/** p99 ≤ 10 ms at 20 connections: these scenarios, on SQLite only (issue 17 §2). */
export const P99_SCENARIOS = new Set(['client_credentials', 'introspection', 'userinfo', 'refresh']);
export const P99_TARGETS = new Set(['alias-sqlite']);
export const P99_LIMIT_MS = 10;
export const RSS_LIMIT_MB = 200;

/**
 * runs: [{scenario, conns, target, round, rps, p50, p99, errors, rssMb}] → rows with medians, ratios, checks.
 * argonRates: [{round, conns, rate}], the raw argon2id reference measured right before each
 * round's sign-ins at those connections.
 *
 * Every ratio is paired: each Alias run is compared with the peer's run (or, for sign-ins,
 * the raw argon2id reference) of the same round, scenario and connections, measured seconds
 * apart, and the ratio reported is the median of those per-round ratios. The host's speed
 * moves between rounds, and every target moves with it: in the run of 2026-12-07 18:21 UTC
 * both Alias and the peer served 1.7–1.8 times as many client-credentials requests in round
 * 2 as in round 3. The ratio of the medians would divide one round's Alias by another
 * round's peer (bench/README.md, "Ratios paired by round"). It is kept as `ratioOfMedians`.
 */
export function summarise(runs, argonRates) {
  const key = (r) => `${r.scenario}|${r.conns}|${r.target}`;
  const groups = new Map();
  for (const r of runs) {
    if (!groups.has(key(r))) groups.set(key(r), []);
    groups.get(key(r)).push(r);
  }
  const rows = [];
  for (const [, rs] of groups) {
    const { scenario, conns, target } = rs[0];
    rows.push({
      scenario, conns, target, rounds: rs.length,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      rssMb: Math.max(...rs.map((r) => r.rssMb ?? 0)) || null,
      cpuMs: median(rs.map((r) => r.cpuMs)),
      perRound: rs.map((r) => Math.round(r.rps)),
    });
  }
  const rawArgon = median(argonRates.map((a) => a.rate));
  const referenceOf = (run) => argonRates.find((a) => a.round === run.round && a.conns === run.conns)?.rate;
  const peerRunOf = (run) => groups.get(`${run.scenario}|${run.conns}|oidc-provider`)?.find((p) => p.round === run.round);
  /** The median of f(run, its round's peer run) over the rounds where both are numbers. */
  const pairedMedian = (own, f) => {
    const paired = own.map((run) => f(run, peerRunOf(run))).filter(Number.isFinite);
    return paired.length ? { value: median(paired), each: paired.map((x) => Math.round(x * 1000) / 1000) } : null;
  };
  for (const row of rows) {
    if (row.target === 'oidc-provider') continue;
    const own = groups.get(key(row));
    // Sign-ins against their round's raw argon2id; every other scenario against its round's peer run.
    const login = row.scenario === 'login';
    const paired = pairedMedian(own, login ? (run) => run.rps / (referenceOf(run) ?? NaN)
      : (run, p) => (p && p.rps > 0 ? run.rps / p.rps : NaN));
    row.ratio = paired?.value ?? null;
    row.pairedRatios = paired?.each ?? [];
    row.cpuRatio = null;
    if (!login) {
      const peer = rows.find((x) => x.scenario === row.scenario && x.conns === row.conns && x.target === 'oidc-provider');
      row.ratioOfMedians = peer?.rps ? row.rps / peer.rps : null;
      // Capacity per core from server CPU time per unit: steadier than req/s on a busy machine.
      row.cpuRatio = pairedMedian(own, (run, p) => (p?.cpuMs && run.cpuMs ? p.cpuMs / run.cpuMs : NaN))?.value ?? null;
    }
    const noTarget = SCENARIOS.find((s) => s.id === row.scenario)?.noTarget;
    row.required = noTarget ? undefined : requiredRatio(row.scenario, row.target);
    const misses = [];
    if (!noTarget && (row.ratio === null || row.ratio < row.required)) misses.push('ratio');
    if (row.errors > 0) misses.push('errors');
    if (row.rssMb !== null && row.rssMb > RSS_LIMIT_MB) misses.push('rss');
    if (P99_SCENARIOS.has(row.scenario) && P99_TARGETS.has(row.target) && row.conns === 20 && row.p99 !== null && row.p99 > P99_LIMIT_MS) {
      misses.push('p99');
    }
    row.misses = misses;
    row.met = misses.length === 0;
  }
  for (const row of rows) if (row.target === 'oidc-provider' && row.errors > 0) row.misses = ['errors'];
  const order = ['alias-sqlite', 'alias-pg', 'oidc-provider'];
  rows.sort((a, b) => SCENARIOS.findIndex((s) => s.id === a.scenario) - SCENARIOS.findIndex((s) => s.id === b.scenario) ||
    a.conns - b.conns || order.indexOf(a.target) - order.indexOf(b.target));
  return { rows, rawArgon };
}

const fmt = (x, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
const fmtInt = (x) => (x === null || x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));

export function table(rows, rawArgon) {
  const head = ['#', 'scenario', 'conns', 'target', 'rate (median)', 'p50 ms', 'p99 ms', 'errors', 'peak RSS MB', 'CPU ms/unit', 'ratio', 'CPU ratio', 'needs', 'ok'];
  const lines = [];
  for (const r of rows) {
    const sc = SCENARIOS.find((s) => s.id === r.scenario);
    lines.push([
      String(sc.n), sc.label, String(r.conns), r.target, `${fmtInt(r.rps)} ${sc.unit}`, fmt(r.p50, r.p50 >= 100 ? 0 : 1), fmt(r.p99, r.p99 >= 100 ? 0 : 1),
      String(r.errors), fmt(r.rssMb, 0), fmt(r.cpuMs, 2),
      r.ratio === undefined ? '' : r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
      r.cpuRatio === undefined || r.cpuRatio === null ? '' : `${r.cpuRatio.toFixed(2)}×`,
      r.required === undefined ? '' : `≥${r.required}×${r.scenario === 'login' ? ' argon2' : ''}`,
      r.target === 'oidc-provider' ? (r.misses?.length ? 'ERR' : '') : r.met ? 'yes' : `MISS (${r.misses.join(', ')})`,
    ]);
  }
  if (rawArgon !== null) lines.push(['7', 'raw argon2id verify (same core)', '', '@node-rs/argon2', `${fmtInt(rawArgon)} verify/s`, '', '', '', '', '', '', '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const right = new Set([2, 4, 5, 6, 7, 8, 9, 10, 11]);
  const pad = (cells) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [pad(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  let prev = '';
  for (const l of lines) {
    if (prev && l[1] !== prev) out.push('');
    prev = l[1];
    out.push(pad(l));
  }
  return out.join('\n');
}

/** Markdown version of the table (for the README). */
export function markdown(rows, rawArgon) {
  const out = ['| # | scenario | conns | target | rate (median) | p50 ms | p99 ms | errors | peak RSS MB | CPU ms/unit | ratio | CPU ratio | target |', '|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|'];
  for (const r of rows) {
    const sc = SCENARIOS.find((s) => s.id === r.scenario);
    out.push(`| ${sc.n} | ${sc.label} | ${r.conns} | ${r.target} | ${fmtInt(r.rps)} ${sc.unit} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.errors} | ${fmt(r.rssMb, 0)} | ${fmt(r.cpuMs, 2)} | ` +
      `${r.ratio === undefined ? '' : r.ratio === null ? '—' : r.ratio.toFixed(2) + '×'} | ${r.cpuRatio ? r.cpuRatio.toFixed(2) + '×' : ''} | ` +
      `${r.required === undefined ? '' : `≥${r.required}× ${r.met ? 'met' : `**missed** (${r.misses.join(', ')})`}`} |`);
  }
  if (rawArgon !== null) out.push(`| 7 | raw argon2id verify, same core | | @node-rs/argon2 | ${fmtInt(rawArgon)} verify/s | | | | | | | | |`);
  return out.join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A small bar chart of the ratios (Alias / peer; logins: Alias / raw argon2) with the targets. */
export function svg(rows, meta) {
  const series = [
    { target: 'alias-sqlite', conns: 20, color: '#1f6feb', label: 'SQLite, 20 conns' },
    { target: 'alias-sqlite', conns: 50, color: '#79a8f5', label: 'SQLite, 50 conns' },
    { target: 'alias-pg', conns: 20, color: '#2da44e', label: 'PostgreSQL, 20 conns' },
    { target: 'alias-pg', conns: 50, color: '#8dd5a0', label: 'PostgreSQL, 50 conns' },
  ];
  const W = 760;
  const H = 330;
  const left = 44;
  const top = 46;
  const bottom = 64;
  const plotH = H - top - bottom;
  // Only the scenarios this run measured (run.mjs --scenario).
  const shown = SCENARIOS.filter((sc) => rows.some((r) => r.scenario === sc.id));
  const groupW = (W - left - 10) / Math.max(1, shown.length);
  const barW = (groupW - 18) / series.length;
  const ratios = rows.filter((r) => r.ratio !== undefined && r.ratio !== null).map((r) => r.ratio);
  const maxY = Math.max(2.5, Math.ceil((Math.max(0, ...ratios) + 0.25) * 2) / 2);
  const y = (v) => top + plotH - (Math.min(v, maxY) / maxY) * plotH;
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${left}" y="16" font-size="13" font-weight="bold">${esc(meta.title)}</text>`);
  parts.push(`<text x="${left}" y="31" fill="#555">${esc(meta.subtitle)}</text>`);
  for (let v = 0; v <= maxY + 1e-9; v += 0.5) {
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${v === 1 ? '#999' : '#eee'}"/>`);
    parts.push(`<text x="${left - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v.toFixed(1)}×</text>`);
  }
  shown.forEach((sc, g) => {
    const gx = left + g * groupW + 9;
    series.forEach((s, i) => {
      const row = rows.find((r) => r.scenario === sc.id && r.target === s.target && r.conns === s.conns);
      if (!row || row.ratio === null || row.ratio === undefined) return;
      const x = gx + i * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(row.ratio).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(row.ratio)).toFixed(1)}" fill="${s.color}"><title>${esc(`${sc.label}, ${s.label}: ${row.ratio.toFixed(2)}×`)}</title></rect>`);
      const req = row.required;
      if (req !== undefined) parts.push(`<line x1="${x.toFixed(1)}" x2="${(x + barW - 2).toFixed(1)}" y1="${y(req).toFixed(1)}" y2="${y(req).toFixed(1)}" stroke="#d1242f" stroke-width="2"/>`);
    });
    parts.push(`<text x="${(gx + (groupW - 18) / 2).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle">${esc(`${sc.n}. ${sc.short}`)}</text>`);
  });
  parts.push(`<text x="${left}" y="${H - 26}" fill="#555">Bars: Alias ÷ oidc-provider requests/s (7: Alias logins ÷ raw argon2id verifies/s). Red ticks: the target of issue 17 for each bar.</text>`);
  series.forEach((s, i) => {
    const x = left + i * 170;
    parts.push(`<rect x="${x}" y="${H - 14}" width="10" height="10" fill="${s.color}"/><text x="${x + 14}" y="${H - 5}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
