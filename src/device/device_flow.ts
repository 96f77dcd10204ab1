// The device authorization grant's user side (RFC 8628): a device asks for a pair of
// codes (§3.1–3.2), the user enters the user code on Alias's pages and approves or
// denies (§3.3). Polling the token endpoint is grants/device_code.ts.
import type { Store } from '../store/store.js';
import type { DeviceCode } from '../store/types.js';
import { UniqueViolation } from '../store/store.js';
import type { Consent } from '../consent/grants.js';
import type { AuditSource } from '../audit/audit.js';
import { newUserCode, normaliseUserCode } from '../oauth/user_code.js';
import { POLICIES, type Throttler } from '../throttle/throttle.js';
import { digest, mintOpaque } from '../tokens/opaque.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const DEVICE_CODE_TTL_S = 600;
/** RFC 8628 §3.2: the minimum polling interval; DESIGN: 5 s. */
export const DEVICE_INTERVAL_S = 5;

export interface StartedDeviceRequest {
  /** The device's secret (stored only as a digest). */
  deviceCode: string;
  /** Normalised: upper case, no dash (formatUserCode shows it to people). */
  userCode: string;
  expiresIn: number;
  interval: number;
}

export type FindResult =
  | { ok: true; request: DeviceCode }
  | { ok: false; reason: 'throttled'; retryAfter: number }
  | { ok: false; reason: 'unknown' };

/** Who decided, and when and how they authenticated (the tokens' auth_time and amr). */
export interface DeviceDecider {
  userId: string;
  authTime: number;
  amr: string[];
}

export interface DeviceFlow {
  /** RFC 8628 §3.1–3.2: a new pending request for what the client asked (already validated). */
  start(clientId: string, scopes: string[], channels: string[]): Promise<StartedDeviceRequest>;
  /**
   * The pending, unexpired request a typed user code names. Wrong codes count per source
   * address; past the limit no code is looked up until the wait is over.
   */
  find(userCode: string | undefined, source: string): Promise<FindResult>;
  /** The user denied: the device's next poll gets access_denied. */
  deny(request: DeviceCode, by: DeviceDecider): Promise<void>;
  /**
   * The user approved what they ticked: the consent is recorded and the request approved
   * in one transaction; the device's next poll gets tokens for what was approved.
   */
  approve(request: DeviceCode, by: DeviceDecider & { approvedScopes: string[]; approvedChannels: string[]; source?: AuditSource }): Promise<void>;
}

export function createDeviceFlow(deps: { store: Store; consent: Consent; throttle: Throttler; now: () => number }): DeviceFlow {
  const { store, consent, throttle, now } = deps;
  return {
    async start(clientId, scopes, channels) {
      const deviceCode = mintOpaque();
      const t = now();
      // A user code collision is vanishingly rare; try again rather than fail.
      for (let attempt = 0; ; attempt++) {
        const userCode = newUserCode();
        try {
          await store.deviceCodes.insert({
            deviceDigest: digest(deviceCode), userCode, clientId, scopes, channels, status: 'pending',
            userId: null, grantId: null, approvedScopes: null, approvedChannels: null, authTime: null, amr: null,
            intervalS: DEVICE_INTERVAL_S, lastPolledAt: null, createdAt: t, expiresAt: t + DEVICE_CODE_TTL_S * 1000, consumedAt: null,
          });
          return { deviceCode, userCode, expiresIn: DEVICE_CODE_TTL_S, interval: DEVICE_INTERVAL_S };
        } catch (err) {
          if (!(err instanceof UniqueViolation) || attempt >= 3) throw err;
        }
      }
    },
    async find(userCode, source) {
      const key = `device-source:${digest(source)}`;
      // Reserved before the lookup (issue 16 item 1): parallel guesses are counted one by one.
      const reserved = await throttle.reserve(key, POLICIES.source);
      if (!reserved.ok) return { ok: false, reason: 'throttled', retryAfter: reserved.retryAfter };
      const code = userCode !== undefined ? normaliseUserCode(userCode) : undefined;
      const request = code ? await store.deviceCodes.getPendingByUserCode(code, now()) : undefined;
      if (!request) return { ok: false, reason: 'unknown' };
      await reserved.release();
      return { ok: true, request };
    },
    async deny(request, by) {
      await store.deviceCodes.decide(request.deviceDigest, { status: 'denied', userId: by.userId, grantId: null,
        scopes: [], channels: [], authTime: by.authTime, amr: by.amr });
    },
    async approve(request, by) {
      const { approvedScopes, approvedChannels } = by;
      await store.transaction(async (tx) => {
        const grant = await consent.record({
          userId: by.userId, clientId: request.clientId, requestedScopes: request.scopes,
          requestedChannels: request.scopes.includes('contact') ? request.channels : [], approvedScopes, approvedChannels,
          source: by.source,
        }, tx);
        await tx.deviceCodes.decide(request.deviceDigest, { status: 'approved', userId: by.userId, grantId: grant.id,
          scopes: approvedScopes, channels: approvedChannels, authTime: by.authTime, amr: by.amr });
      });
    },
  };
}
