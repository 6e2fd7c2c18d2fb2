// The CAPABILITY list (RFC 9051 §6.1.1, §7.2.2): only what fully works is advertised.
// Before TLS on a plain port: STARTTLS and LOGINDISABLED, no AUTH= mechanisms, unless the
// operator allowed plaintext passwords (auth.allow_plaintext) (RFC 9051 §6.2.3, RFC 8314 §3).
// Issue 7 (mobile profile) adds its extensions here as each one is finished and tested; CONTEXT=SEARCH
// and CONTEXT=SORT (RFC 5267 §4) are not offered.

export interface CapabilityContext {
  state: 'not-authenticated' | 'authenticated' | 'selected' | 'logout';
  transport: { secure: boolean; canStartTls: boolean };
  config: { auth: { allow_plaintext: boolean }; limits: { max_message_size: number } };
}

export function capabilities(session: CapabilityContext): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE'];
  caps.push('CHILDREN', 'LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE', 'ESEARCH', 'SEARCHRES', 'PARTIAL', 'SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'BINARY', 'UTF8=ACCEPT', 'STATUS=SIZE', 'SAVEDATE', 'WITHIN');
  caps.push('NOTIFY', 'QUOTA', 'QUOTA=RES-STORAGE', 'MULTIAPPEND', 'CREATE-SPECIAL-USE', 'CATENATE', 'URLAUTH', 'METADATA', 'METADATA-SERVER');
  caps.push('CONDSTORE', 'QRESYNC', 'OBJECTID', 'PREVIEW', 'UIDONLY');
  caps.push(`APPENDLIMIT=${session.config.limits.max_message_size}`);
  if (session.state === 'not-authenticated') {
    const plainOk = session.transport.secure || session.config.auth.allow_plaintext;
    if (!session.transport.secure && session.transport.canStartTls) caps.push('STARTTLS');
    if (plainOk) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
  } else caps.push('COMPRESS=DEFLATE'); // RFC 4978: after login only
  return caps;
}

/** Whether a password may be received now. */
export function passwordsAllowed(session: CapabilityContext): boolean {
  return session.transport.secure || session.config.auth.allow_plaintext;
}
