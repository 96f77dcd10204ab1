// What a person may choose as a new password (sign-up, reset, change): NIST SP 800-63B
// §3.1.1.2 — at least 8 and at most 256 characters, and not one that is common or easy to
// guess (zxcvbn-ts with its common-password and keyboard-pattern dictionaries). The
// answer says why, so the person can pick better.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { MIN_PASSWORD_LENGTH } from './passwords.js';

/** New passwords (NIST SP 800-63B allows a cap of at least 64); sign-in still checks older, longer ones. */
export const MAX_NEW_PASSWORD_LENGTH = 256;

/** zxcvbn score 0–1 (fewer than 10^6 guesses) is refused; 2 and above is accepted. */
export const MIN_PASSWORD_SCORE = 2;

let zxcvbn: ZxcvbnFactory | undefined;
const estimator = () => (zxcvbn ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, maxLength: MAX_NEW_PASSWORD_LENGTH }));

const WHY: Record<string, string> = {
  topTen: 'it is one of the ten most common passwords',
  topHundred: 'it is one of the hundred most common passwords',
  common: 'it is a very common password',
  similarToCommon: 'it is too close to a common password',
  straightRow: 'it is a straight row of keys',
  keyPattern: 'it is a keyboard pattern',
  simpleRepeat: 'it repeats characters',
  extendedRepeat: 'it repeats a pattern',
  sequences: 'it is a sequence such as abc or 1234',
  recentYears: 'it is a recent year',
  dates: 'it is a date',
  userInputs: 'it contains your e-mail address or nickname',
};

/**
 * Why `password` may not be used, or undefined when it may. `personal` are words of the
 * account (its e-mail address, nickname) that make a password easy to guess.
 */
export function passwordProblem(password: string, personal: string[] = []): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `the password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_NEW_PASSWORD_LENGTH) return `the password is longer than ${MAX_NEW_PASSWORD_LENGTH} characters`;
  const words = personal.flatMap((p) => [p, ...p.split(/[@.+_-]/)]).filter((w) => w.length >= 3);
  const result = estimator().check(password, words);
  if (result.score >= MIN_PASSWORD_SCORE) return undefined;
  const why = result.feedback.warning ? WHY[result.feedback.warning] : undefined;
  return `this password is too easy to guess${why ? ` (${why})` : ''}: add more words or characters`;
}
