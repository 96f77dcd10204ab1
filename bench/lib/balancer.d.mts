// Types for balancer.mjs, so TypeScript tests can use it.
import type { IncomingMessage } from 'node:http';

export interface Balancer {
  port: number;
  url: string;
  served(): number[];
  failures(): string[];
  close(): Promise<void>;
}

export function startBalancer(opts: {
  nodes: { name: string; port: number }[];
  pick?: (req: IncomingMessage, n: number) => number;
  port?: number;
}): Promise<Balancer>;
