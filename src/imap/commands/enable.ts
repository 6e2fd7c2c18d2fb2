// ENABLE (RFC 5161): IMAP4rev2 (RFC 9051 §6.3.1), UTF8=ACCEPT (RFC 6855 §3), CONDSTORE and QRESYNC
// (RFC 7162 §3.1, §3.2.3: QRESYNC implies CONDSTORE), UIDONLY (RFC 9586 §3: no message sequence
// numbers from now on, see session/uidonly.ts). Capabilities not advertised are ignored, as
// RFC 5161 §3.1 says.
import { defineCommand } from '../session/command.js';

const ENABLEABLE = new Map([
  ['IMAP4REV2', 'IMAP4rev2'],
  ['UTF8=ACCEPT', 'UTF8=ACCEPT'],
  ['CONDSTORE', 'CONDSTORE'],
  ['QRESYNC', 'QRESYNC'],
  ['UIDONLY', 'UIDONLY'],
]);

export const enable = defineCommand({
  names: ['ENABLE'],
  // RFC 5161 §3.1 / RFC 9051 §6.3.1: only in the authenticated state.
  states: ['authenticated'],
  async run(session, command) {
    const newly: string[] = [];
    for (const cap of command.capabilities) {
      const name = ENABLEABLE.get(cap.toUpperCase());
      if (!name || session.enabled.has(cap.toUpperCase())) continue;
      if (name === 'UTF8=ACCEPT') session.enableUtf8();
      else session.enabled.add(cap.toUpperCase());
      if (name === 'QRESYNC') session.enabled.add('CONDSTORE');
      newly.push(name);
    }
    session.data([{ atom: 'ENABLED' }, ...newly.map((atom) => ({ atom }))]);
  },
});
