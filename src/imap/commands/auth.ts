// STARTTLS (RFC 9051 §6.2.1), AUTHENTICATE PLAIN/LOGIN with SASL-IR (RFC 9051 §6.2.2, RFC 4959,
// RFC 4616) and LOGIN (RFC 9051 §6.2.3). Passwords are refused before TLS unless
// auth.allow_plaintext (LOGINDISABLED is advertised then); failures go through the shared
// Authenticator (progressive delay, lockout).
import { BadCommand, Refused } from '../../shared/errors.js';
import type { Account } from '../../store/store.js';
import { defineCommand, states, type Completion } from '../session/command.js';
import { passwordsAllowed } from '../session/capabilities.js';
import { parseSaslResponse } from '../wire/parser.js';
import type { Session } from '../session/session.js';

/** Longest SASL continuation line accepted (base64 of a 1 KB response, with room). */
const MAX_SASL_LINE = 8192;

export const starttls = defineCommand({
  names: ['STARTTLS'],
  states: states.notAuthenticated,
  async run(session) {
    if (session.transport.secure || !session.transport.canStartTls) throw new BadCommand('TLS is already active');
    return {
      text: 'Begin TLS negotiation now',
      noUpdates: true,
      after: async () => {
        try {
          await session.startTls();
        } catch (err) {
          session.logger.debug({ session: session.id, err: String(err) }, 'imap starttls failed');
          session.close();
        }
      },
    };
  },
});

function requirePrivacy(session: Session): void {
  if (!passwordsAllowed(session)) throw new Refused('Use STARTTLS (or port 993) before logging in', 'PRIVACYREQUIRED');
}

async function completeLogin(session: Session, username: string, password: string, authzid?: string): Promise<Completion> {
  const result = await session.deps.authenticator.authenticate({ username, password, remoteAddress: session.transport.remoteAddress, protocol: 'imap' });
  if (!result.ok) {
    if (result.reason === 'locked') throw new Refused('Too many failed logins; try again later', 'UNAVAILABLE');
    throw new Refused('Invalid credentials', 'AUTHENTICATIONFAILED');
  }
  const account: Account = result.account;
  if (authzid && authzid.toLowerCase() !== username.toLowerCase() && authzid.toLowerCase() !== account.email.toLowerCase()) {
    throw new Refused('Not authorised to act as that user', 'AUTHORIZATIONFAILED');
  }
  if (!session.login(account)) throw new Refused('Too many connections for this account', 'LIMIT');
  return { text: 'Logged in', code: { code: 'CAPABILITY', args: session.capabilities.map((atom) => ({ atom })) }, noUpdates: true };
}

export const login = defineCommand({
  names: ['LOGIN'],
  states: states.notAuthenticated,
  async run(session, command) {
    requirePrivacy(session);
    return completeLogin(session, command.username, command.password);
  },
});

function decodeBase64Line(line: string | null): Buffer {
  if (line === null) throw new BadCommand('Connection closed');
  if (line.length > MAX_SASL_LINE) throw new BadCommand('Invalid base64');
  const r = parseSaslResponse(line);
  if (r.kind === 'cancel') throw new BadCommand('AUTHENTICATE cancelled');
  if (r.kind === 'bad') throw new BadCommand('Invalid base64');
  return r.data;
}

async function challenge(session: Session, text: string): Promise<Buffer> {
  session.send({ kind: 'continuation', text });
  return decodeBase64Line(await session.readLine());
}

/** RFC 4616: [authzid] NUL authcid NUL passwd. */
function parsePlain(data: Buffer): { authzid: string; authcid: string; password: string } {
  const first = data.indexOf(0);
  const second = first < 0 ? -1 : data.indexOf(0, first + 1);
  if (first < 0 || second < 0 || data.indexOf(0, second + 1) >= 0) throw new BadCommand('Malformed PLAIN response');
  return {
    authzid: data.subarray(0, first).toString('utf8'),
    authcid: data.subarray(first + 1, second).toString('utf8'),
    password: data.subarray(second + 1).toString('utf8'),
  };
}

export const authenticate = defineCommand({
  names: ['AUTHENTICATE'],
  states: states.notAuthenticated,
  async run(session, command) {
    const mechanism = command.mechanism.toUpperCase();
    if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') throw new Refused('Unsupported authentication mechanism', 'CANNOT');
    requirePrivacy(session);
    if (mechanism === 'PLAIN') {
      const data = command.initialResponse ?? (await challenge(session, ''));
      const { authzid, authcid, password } = parsePlain(data);
      return completeLogin(session, authcid, password, authzid);
    }
    // LOGIN (draft-murchison-sasl-login): "Username:" then "Password:", base64.
    const user = command.initialResponse && command.initialResponse.length ? command.initialResponse : await challenge(session, 'VXNlcm5hbWU6');
    const pass = await challenge(session, 'UGFzc3dvcmQ6');
    return completeLogin(session, user.toString('utf8'), pass.toString('utf8'));
  },
});
