// A software WebAuthn authenticator for app-level tests: an ES256 key pair per credential,
// "none" attestation, user presence and verification flags, and a signature counter the
// test can move (backwards too, for the clone check). It builds the JSON a browser's
// @simplewebauthn/browser hands Alias, from the options Alias sent. The Chromium tests
// use the DevTools virtual authenticator instead.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  cose: Uint8Array;
  userHandle: string;
  counter: number;
}

export interface Overrides {
  origin?: string;
  rpId?: string;
  type?: string;
  challenge?: string;
  /** Flags to clear (user presence 0x01, user verified 0x04). */
  clearFlags?: number;
  /** The counter to report (defaults to the credential's, incremented). */
  counter?: number;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  /** Backup eligible and backed up (a synced passkey: amr swk) or not (hwk). */
  constructor(readonly origin: string, readonly opts: { synced?: boolean; counting?: boolean } = {}) {}

  get rpId(): string {
    return new URL(this.origin).hostname;
  }

  private flags(extra: number, clear = 0): number {
    const backup = this.opts.synced ? 0x08 | 0x10 : 0;
    return (0x01 | 0x04 | backup | extra) & ~clear;
  }

  private clientData(type: string, challenge: string, o: Overrides): string {
    return b64u(JSON.stringify({ type: o.type ?? type, challenge: o.challenge ?? challenge, origin: o.origin ?? this.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create: a new discoverable credential for `options` (JSON from Alias). */
  register(options: { challenge: string; user: { id: string } }, o: Overrides = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')],
    ]));
    const rawId = randomBytes(32);
    const cred: SoftCredential = { id: b64u(rawId), privateKey, cose, userHandle: options.user.id, counter: 0 };
    const counter = Buffer.alloc(4);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const authData = Buffer.concat([sha256(o.rpId ?? this.rpId), Buffer.from([this.flags(0x40, o.clearFlags)]), counter,
      Buffer.alloc(16), idLength, rawId, Buffer.from(cose)]);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    this.credentials.push(cred);
    return {
      id: cred.id, rawId: cred.id, type: 'public-key', authenticatorAttachment: 'platform', clientExtensionResults: {},
      response: { clientDataJSON: this.clientData('webauthn.create', options.challenge, o), attestationObject: b64u(attestationObject),
        transports: ['internal'] },
    };
  }

  /** navigator.credentials.get: an assertion by `cred` (the last registered one by default). */
  assert(options: { challenge: string }, o: Overrides = {}, cred = this.credentials.at(-1)!) {
    if (o.counter === undefined && this.opts.counting !== false) cred.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(o.counter ?? (this.opts.counting === false ? 0 : cred.counter));
    const authData = Buffer.concat([sha256(o.rpId ?? this.rpId), Buffer.from([this.flags(0, o.clearFlags)]), counter]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, o);
    const signature = sign('sha256', Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]), cred.privateKey);
    return {
      id: cred.id, rawId: cred.id, type: 'public-key', authenticatorAttachment: 'platform', clientExtensionResults: {},
      response: { clientDataJSON, authenticatorData: b64u(authData), signature: b64u(signature), userHandle: cred.userHandle },
    };
  }
}
