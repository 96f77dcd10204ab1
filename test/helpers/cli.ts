// Runs the `aliasid` command line as a child process, the way an operator runs it, and
// checks the shape of its answers.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The newest modification time of any file under `dir`. */
function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * How to start the CLI: the compiled dist/ (what `npm start` and operators run; `npm test`
 * builds it first in `pretest`) when it is at least as new as every source file, else the
 * TypeScript through tsx (a single test file run straight after an edit). tsx costs about
 * twice the CPU per start, which the CLI-heavy tests pay hundreds of times.
 */
function cliCommand(): { args: string[]; compiled: boolean } {
  const buildInfo = join(ROOT, 'dist/.tsbuildinfo');
  let built = 0;
  try { built = statSync(buildInfo).mtimeMs; } catch { /* not built */ }
  if (built > 0 && built >= newestIn(join(ROOT, 'src'))) return { args: [join(ROOT, 'dist/cli/index.js')], compiled: true };
  return { args: ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/index.ts')], compiled: false };
}
const CLI = cliCommand();
if (!CLI.compiled && process.env.CI) {
  process.stderr.write('test/helpers/cli.ts: dist/ is missing or older than src/: the CLI runs through tsx (slower); `npm run build` fixes it\n');
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// Each run costs about a second of CPU (the module graph; twice that through tsx): run no more at once
// than there are cores, so a timeout measures the command and not the queue.
const slots = { free: Math.max(2, availableParallelism()), waiting: [] as (() => void)[] };
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (slots.free > 0) slots.free--;
  else await new Promise<void>((resolve) => slots.waiting.push(resolve));
  try {
    return await fn();
  } finally {
    const next = slots.waiting.shift();
    if (next) next();
    else slots.free++;
  }
}

/** Runs `aliasid ARGS…` from the source tree with the given extra environment. */
export function aliasid(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return withSlot(() => spawnAliasid(args, env, timeoutMs));
}

/** Starts `aliasid ARGS…` without waiting for it. Only the test's own settings reach it. */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [...CLI.args, ...args], {
    cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The environment of a CLI child: the test's own settings, none of the shell's ALIAS_*. */
function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const k of ['ALIAS_DB', 'ALIAS_SECRET', 'ALIAS_ISSUER', 'ALIAS_HOST', 'ALIAS_DEMO', 'ALIAS_SMTP_URL', 'ALIAS_REDIS_URL',
    'ALIAS_REDIS_PREFIX', 'PORT']) delete base[k];
  return { ...base, ...env };
}

function spawnAliasid(args: string[], env: Record<string, string>, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A refused command: a message on stderr, a non-zero exit, no success output. */
export function refused(r: Run, message?: RegExp): Run {
  assert.notEqual(r.code, 0, `expected failure\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.signal, null, 'exited by itself, not killed');
  assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
  assert.equal(r.stdout.trim(), '', `nothing on stdout, got: ${r.stdout}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  if (message) assert.match(r.stderr, message);
  return r;
}


/** A successful run that printed exactly one JSON object on stdout. */
export function json(r: Run): Record<string, unknown> {
  ok(r);
  let value: unknown;
  try {
    value = JSON.parse(r.stdout);
  } catch {
    assert.fail(`stdout is not one JSON value:\n${r.stdout}`);
  }
  assert.equal(typeof value, 'object');
  assert.ok(value && !Array.isArray(value), 'one JSON object');
  return value as Record<string, unknown>;
}

export interface RunIn {
  /** The working directory (relative --db paths are resolved from it). */
  cwd: string;
  /** Written to standard input, which then ends (by default standard input is empty). */
  input?: string;
  env?: Record<string, string>;
}

/** Runs `aliasid ARGS…` in a directory of the test's choosing, with text on standard input. */
export function aliasidIn(opts: RunIn, args: string[], timeoutMs = 60_000): Promise<Run> {
  return withSlot(() => new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI.args, ...args], {
      cwd: opts.cwd, env: cliEnv(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    // A command that exits before reading its input closes the pipe: not the test's failure.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  }));
}

/** Whether util-linux `script` (which runs a command on a pseudo-terminal) is installed. */
export const HAVE_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

const shellQuote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

/**
 * Runs `aliasid ARGS…` on a pseudo-terminal (util-linux `script`), as a person at a
 * terminal would, typing each reply once its prompt has appeared. `output` is everything
 * the terminal showed: the command's stdout and stderr, and anything it echoed back.
 */
export function aliasidOnTerminal(opts: { cwd: string; env?: Record<string, string> }, args: string[],
  replies: { prompt: RegExp; type: string }[], timeoutMs = 90_000): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, ...CLI.args, ...args].map(shellQuote).join(' ');
  return withSlot(() => new Promise((resolve, reject) => {
    // -q: no banner; -e: its exit status is the command's; the typescript goes nowhere.
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: opts.cwd, env: cliEnv(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let next = 0;
    let seen = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      // Type only once the prompt is there: typed earlier, the terminal (not yet without
      // echo) would show it, and the test would blame the command.
      while (next < replies.length && replies[next]!.prompt.test(output.slice(seen))) {
        seen = output.length;
        child.stdin.write(replies[next++]!.type);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  }));
}
