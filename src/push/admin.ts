// What the admin sees of push (PUSH.md "Admin side"): the per-domain Subscribe URL and SMTP server
// value to hand a relay, and the Integrated Accounts list. Shared by the CLI and the console.
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { PushState, PushSubscription } from '../store/push-store.js';
import { serverSwitchSetting } from './service.js';

function portOf(address: string): number | null {
  const m = /:(\d+)$/.exec(address);
  return address === '' || !m ? null : Number(m[1]);
}

export interface PushDomainInfo {
  /** `https://<hostname>/push/v1/<domain>/subscriptions` (with the port when it is not 443). */
  subscribeUrl: string;
  /** The submission endpoint a relay hands the device: `<hostname>:465`, or null when off. */
  smtpServer: string | null;
}

export function pushDomainInfo(config: Config, domain: string): PushDomainInfo {
  const https = portOf(config.listen.https);
  const port = https === null || https === 443 || https === 0 ? '' : `:${https}`;
  const submissions = portOf(config.listen.submissions);
  const submission = portOf(config.listen.submission);
  const smtpPort = submissions || submission || null;
  return {
    subscribeUrl: `https://${config.hostname}${port}/push/v1/${encodeURIComponent(domain.toLowerCase())}/subscriptions`,
    smtpServer: smtpPort ? `${config.hostname}:${smtpPort}` : null,
  };
}

/** One row of the Integrated Accounts screen. */
export interface IntegratedAccount {
  id: string;
  account: string;
  device: string;
  deviceId: string;
  relayHost: string;
  webPush: boolean;
  state: PushState;
  createdAt: string;
  expiresAt: string;
  lastNotification: string | null;
  lastError: string | null;
}

export function integratedAccount(sub: PushSubscription): IntegratedAccount {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: sub.id, account: sub.account, device: sub.deviceName, deviceId: sub.deviceId, relayHost: sub.relayHost, webPush: sub.keys !== null,
    state: sub.state, createdAt: iso(sub.createdAt)!, expiresAt: iso(sub.expiresAt)!, lastNotification: iso(sub.lastNotifiedAt), lastError: sub.lastError,
  };
}

export async function listIntegratedAccounts(store: Store, filter: { domain?: string } = {}): Promise<IntegratedAccount[]> {
  return (await store.push.listSubscriptions(filter.domain !== undefined ? { domain: filter.domain } : {})).map(integratedAccount);
}

/** The admin's server-wide switch (config `[push] enabled` must also be true). */
export async function setPushServerEnabled(store: Store, enabled: boolean): Promise<void> {
  await store.push.setSetting(serverSwitchSetting, enabled ? 'on' : 'off');
}

export async function pushServerEnabled(config: Config, store: Store): Promise<boolean> {
  return config.push.enabled && (await store.push.getSetting(serverSwitchSetting)) !== 'off';
}
