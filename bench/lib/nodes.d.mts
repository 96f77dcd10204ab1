// Types for nodes.mjs, so TypeScript tests can use it.
export const ROOT: string;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Node {
  name: string;
  port: number;
  pid: number;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function ensureBuilt(opts?: { log?: (line: string) => void }): Promise<boolean>;
export function aliasid(args: string[], env?: Record<string, string>, timeoutMs?: number): Promise<Run>;
export function aliasidOk(args: string[], env?: Record<string, string>): Promise<any>;
export function startNode(opts: {
  name: string; port: number; issuer: string; db: string; env?: Record<string, string>; nodeArgs?: string[];
}): Promise<Node>;
export function rssMb(pid: number): number | null;
export function newest(dir: string, ext: string): number;
export function pgSchema(url: string, prefix?: string): Promise<{ schema: string; location: string; drop(): Promise<void> }>;
