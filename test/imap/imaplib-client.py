# Python's imaplib against a started Pigeon (driven by imaplib.test.ts). Prints one JSON object
# with what it observed; the Node test asserts on it. Usage: imaplib-client.py PORT TLSPORT FIXTURE
import imaplib, json, socket, ssl, sys, threading

port, tls_port, fixture = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
raw = open(fixture, 'rb').read()
out = {}
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

m = imaplib.IMAP4('127.0.0.1', port)
out['caps_before_tls'] = sorted(m.capabilities)
try:
    m.login('user@example.com', 'pass')
    out['login_before_tls'] = 'OK'
except imaplib.IMAP4.error as e:
    out['login_before_tls'] = str(e)
m.starttls(ssl_context=ctx)
out['caps_after_tls'] = sorted(m.capabilities)
typ, data = m.login('user@example.com', 'pass')
out['login'] = typ
typ, data = m.list()
out['list'] = [d.decode() for d in data]
typ, data = m.select('INBOX')
out['select'] = [typ, data[0].decode()]
typ, data = m.fetch('1', '(BODY.PEEK[HEADER])')
out['header'] = data[0][1].decode()
typ, data = m.fetch('1', '(BODY.PEEK[]<0.2048>)')
out['partial_len'] = len(data[0][1])
out['partial_same'] = data[0][1] == raw[:2048]
typ, data = m.fetch('1', '(RFC822.SIZE FLAGS)')
out['size_flags'] = data[0].decode()
typ, data = m.append('Sent', '(\\Seen)', None, raw)
out['append'] = [typ, data[0].decode()]
typ, data = m.uid('SEARCH', None, 'SINCE', '1-Jan-2020')
out['search'] = data[0].decode()
typ, data = m.uid('MOVE', '1', 'Archive')
out['move'] = typ
out['move_untagged'] = [d.decode() if isinstance(d, bytes) else str(d) for d in m.untagged_responses.get('OK', [])]
typ, data = m.status('Archive', '(MESSAGES)')
out['status'] = data[0].decode()
m.logout()

s = imaplib.IMAP4_SSL('127.0.0.1', tls_port, ssl_context=ctx)
typ, data = s.login('alias@example.com', 'pass')
out['alias_login_tls'] = typ
s.logout()
print(json.dumps(out))
