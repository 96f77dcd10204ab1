// DeviceCodeRepo: device authorization requests (RFC 8628) and the user's decision.
import type { Selectable } from 'kysely';
import type { DeviceCodesTable } from '../schema.js';
import type { DeviceCodeRepo } from '../store.js';
import type { DeviceCode } from '../types.js';
import { insertOrConflict, json, list, type Sql } from './context.js';
import { PASSWORD_AMR } from '../../oauth/acr.js';

const toDevice = (r: Selectable<DeviceCodesTable>): DeviceCode => ({
  deviceDigest: r.device_digest,
  userCode: r.user_code,
  clientId: r.client_id,
  scopes: list(r.scopes),
  channels: list(r.channels),
  status: r.status === 'approved' ? 'approved' : r.status === 'denied' ? 'denied' : 'pending',
  userId: r.user_id,
  grantId: r.grant_id,
  approvedScopes: r.approved_scopes === null ? null : list(r.approved_scopes),
  approvedChannels: r.approved_channels === null ? null : list(r.approved_channels),
  authTime: r.auth_time,
  // Approved before migration 010: a password sign-in.
  amr: r.amr === null ? (r.auth_time === null ? null : [...PASSWORD_AMR]) : list(r.amr),
  intervalS: r.interval_s,
  lastPolledAt: r.last_polled_at,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at,
});

export function createDeviceCodeRepo(s: Sql): DeviceCodeRepo {
  const { k } = s;
  return {
    async insert(d) {
      await insertOrConflict('device code', () => k.insertInto('device_codes').values({
        device_digest: d.deviceDigest, user_code: d.userCode, client_id: d.clientId, scopes: json(d.scopes),
        channels: json(d.channels), status: d.status, user_id: d.userId, grant_id: d.grantId,
        approved_scopes: d.approvedScopes && json(d.approvedScopes), approved_channels: d.approvedChannels && json(d.approvedChannels),
        auth_time: d.authTime, amr: d.amr && json(d.amr), interval_s: d.intervalS, last_polled_at: d.lastPolledAt, created_at: d.createdAt,
        expires_at: d.expiresAt, consumed_at: d.consumedAt,
      }).execute());
    },
    async get(deviceDigest) {
      const r = await k.selectFrom('device_codes').selectAll().where('device_digest', '=', deviceDigest).executeTakeFirst();
      return r && toDevice(r);
    },
    async getPendingByUserCode(userCode, now) {
      const r = await k.selectFrom('device_codes').selectAll().where('user_code', '=', userCode)
        .where('status', '=', 'pending').where('expires_at', '>', now).executeTakeFirst();
      return r && toDevice(r);
    },
    async decide(deviceDigest, d) {
      const r = await k.updateTable('device_codes').set({
        status: d.status, user_id: d.userId, grant_id: d.grantId, approved_scopes: json(d.scopes),
        approved_channels: json(d.channels), auth_time: d.authTime, amr: json(d.amr),
      }).where('device_digest', '=', deviceDigest).where('status', '=', 'pending').executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async polled(deviceDigest, now, intervalS) {
      await k.updateTable('device_codes').set({ last_polled_at: now, interval_s: intervalS })
        .where('device_digest', '=', deviceDigest).execute();
    },
    async consume(deviceDigest, now) {
      const r = await k.updateTable('device_codes').set({ consumed_at: now }).where('device_digest', '=', deviceDigest)
        .where('status', '=', 'approved').where('consumed_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
  };
}
