// A real client's commands: imapflow talks to a minimal responder built on our parser and
// encoder; every command it sends must parse to the expected typed command, none may be BAD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ImapFlow } from 'imapflow';

import { CommandParser } from '../../../src/imap/wire/parser.js';
import { encodeResponse } from '../../../src/imap/wire/encoder.js';
import type { Command, ParseResult, Response } from '../../../src/imap/wire/types.js';

function startResponder(seen: ParseResult[]): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const parser = new CommandParser();
    const send = (...responses: Response[]): void => {
      for (const r of responses) socket.write(encodeResponse(r, { utf8: false }));
    };
    send({ kind: 'status', status: 'OK', code: { code: 'CAPABILITY', args: ['IMAP4rev1', 'LITERAL+', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'SPECIAL-USE', 'ID', 'ENABLE', 'UNSELECT'].map((atom) => ({ atom })) }, text: 'ready' });
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      for (let r = parser.next(); r.kind !== 'need-more'; r = parser.next()) {
        if (r.kind === 'need-literal') {
          send({ kind: 'continuation', text: 'Ready for literal data' });
          continue;
        }
        seen.push(r);
        if (r.kind !== 'command') {
          send({ kind: 'tagged', tag: r.kind === 'bad' && r.tag ? r.tag : '*', status: 'BAD', text: r.kind === 'bad' ? r.message : 'unexpected' });
          continue;
        }
        const c = r.command;
        if (c.name === 'SELECT' || c.name === 'EXAMINE') {
          send({ kind: 'data', values: [1, { atom: 'EXISTS' }] }, { kind: 'status', status: 'OK', code: { code: 'UIDVALIDITY', args: [7] }, text: 'ok' }, { kind: 'status', status: 'OK', code: { code: 'UIDNEXT', args: [2] }, text: 'ok' });
        }
        if (c.name === 'LOGOUT') {
          send({ kind: 'status', status: 'BYE', text: 'bye' }, { kind: 'tagged', tag: c.tag, status: 'OK', text: 'done' });
          socket.end();
          return;
        }
        send({ kind: 'tagged', tag: c.tag, status: 'OK', text: `${c.name} done` });
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('every command imapflow sends parses to the typed command it means', async () => {
  const seen: ParseResult[] = [];
  const server = await startResponder(seen);
  const client = new ImapFlow({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, secure: false, logger: false, auth: { user: 'jo\u00eb@example.com', pass: 'p "w\\d' } });
  try {
    await client.connect();
    await client.mailboxCreate('Entw\u00fcrfe/Stra\u00dfe & Co');
    await client.append('Entw\u00fcrfe', Buffer.from('Subject: hi\r\n\r\nhello\r\n'), ['\\Seen', '$Label1'], new Date(Date.UTC(2024, 4, 6, 7, 8, 9)));
    const lock = await client.getMailboxLock('INBOX');
    try {
      await client.search({ or: [{ from: 'ann' }, { subject: 'caf\u00e9' }], since: new Date(Date.UTC(2024, 0, 2)), seen: false }, { uid: true });
      await client.messageFlagsAdd({ uid: '1:5' }, ['\\Flagged'], { uid: true });
      await client.messageMove('1', 'Archive', { uid: true });
    } finally {
      lock.release();
    }
    await client.logout();
  } finally {
    server.close();
  }
  const bad = seen.filter((r) => r.kind !== 'command');
  assert.deepEqual(bad, [], 'no command was refused');
  const commands = seen.map((r) => (r as Extract<ParseResult, { kind: 'command' }>).command);
  const byName = (name: Command['name']): Command[] => commands.filter((c) => c.name === name);

  const [login] = byName('LOGIN');
  assert.deepEqual(login && { ...login, tag: '' }, { tag: '', name: 'LOGIN', username: 'jo\u00eb@example.com', password: 'p "w\\d' });
  const [create] = byName('CREATE');
  assert.deepEqual(create && { ...create, tag: '' }, { tag: '', name: 'CREATE', mailbox: 'Entw\u00fcrfe/Stra\u00dfe & Co' });
  const [append] = byName('APPEND');
  assert.ok(append?.name === 'APPEND');
  assert.equal(append.mailbox, 'Entw\u00fcrfe');
  assert.deepEqual(append.messages.map((m) => ({ ...m, internalDate: m.internalDate?.time })), [
    { flags: ['\\Seen', '$Label1'], internalDate: Date.UTC(2024, 4, 6, 7, 8, 9), content: { kind: 'literal', data: Buffer.from('Subject: hi\r\n\r\nhello\r\n'), binary: false, utf8: false } },
  ]);
  const [search] = byName('SEARCH');
  assert.ok(search?.name === 'SEARCH' && search.uid);
  const keys = JSON.stringify(search.program.key);
  for (const part of ['"value":"ann"', '"value":"café"', '"key":"SINCE"', '"key":"UNSEEN"']) assert.ok(keys.includes(part), `${part} in ${keys}`);
  const [store] = byName('STORE');
  assert.deepEqual(store && { ...store, tag: '' }, { tag: '', name: 'STORE', uid: true, set: { ranges: [{ start: 1, end: 5 }] }, operation: 'add', silent: false, flags: ['\\Flagged'] });
  const [move] = byName('MOVE');
  assert.deepEqual(move && { ...move, tag: '' }, { tag: '', name: 'MOVE', uid: true, set: { ranges: [{ start: 1, end: 1 }] }, mailbox: 'Archive' });
  assert.equal(byName('LOGOUT').length, 1);
});
