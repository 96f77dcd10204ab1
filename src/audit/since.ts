// `aliasid audit --since`: a duration back from now (90s, 30m, 12h, 7d, 2w) or an ISO
// 8601 date (UTC midnight) or date-time with a zone (Z or ±hh:mm).
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d{1,9})([smhdw])$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds, or an error message saying what is accepted. */
export function parseSince(text: string, now: number): number | { error: string } {
  const d = DURATION.exec(text);
  if (d) return now - Number(d[1]) * UNITS[d[2]!]!;
  if ((DATE.test(text) || DATE_TIME.test(text)) && realDay(text.slice(0, 10))) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  return { error: `--since takes a duration (90s, 30m, 12h, 7d, 2w) or an ISO date (2026-01-31, 2026-01-31T08:00:00Z), not '${text}'` };
}

/** Date.parse rolls impossible days over (2026-02-30 is 2 March); refuse them. */
function realDay(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}
