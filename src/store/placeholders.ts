import { param } from './compiled.js';

/** The same keys as `row`, each value the placeholder `prefix + key` (compiled.ts). */
export function placeholders<T extends object>(row: T, prefix = ''): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row)) out[key] = param(prefix + key);
  return out as T;
}
