// Types for report.mjs, so TypeScript tests can use it.
export interface BenchRun {
  round: number;
  scenario: string;
  conns: number;
  target: string;
  rps: number;
  p50?: number | null;
  p99?: number | null;
  errors?: number;
  rssMb?: number | null;
  cpuMs?: number | null;
}

export interface ArgonRate { round: number; conns: number; rate: number }

export interface SummaryRow {
  scenario: string;
  conns: number;
  target: string;
  rounds: number;
  rps: number | null;
  p50: number | null;
  p99: number | null;
  errors: number;
  rssMb: number | null;
  cpuMs: number | null;
  perRound: number[];
  /** Alias rows: the median of the per-round ratios (or null when no round pairs). */
  ratio?: number | null;
  /** Alias rows: each round's ratio, rounded to 3 decimals. */
  pairedRatios?: number[];
  /** Alias rows but sign-ins: Alias's median rate ÷ the peer's median rate. */
  ratioOfMedians?: number | null;
  cpuRatio?: number | null;
  required?: number;
  misses?: string[];
  met?: boolean;
}

export const SCENARIOS: { id: string; n: number; label: string; short: string; unit: string; noTarget?: boolean }[];
export function median(xs: readonly unknown[]): number | null;
export function requiredRatio(scenario: string, target: string): number;
export function summarise(runs: readonly BenchRun[], argonRates: readonly ArgonRate[]): { rows: SummaryRow[]; rawArgon: number | null };
