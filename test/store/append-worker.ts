// Child process for the cross-process test: appends N messages to one mailbox of the store in
// DATA_DIR, all at once, and prints the UIDs it got as JSON.
import { openStore } from '../../src/store/open.js';
import { indexMessage } from '../../src/mail/parse.js';

const [dataDir, mailboxId, count] = process.argv.slice(2);
const store = await openStore({ driver: 'sqlite', url: '', dataDir: dataDir!, });
const uids = await Promise.all(Array.from({ length: Number(count) }, (_, i) => {
  const raw = Buffer.from(`Subject: child ${i}\r\n\r\nfrom the child process\r\n`);
  return store.appendMessage(Number(mailboxId), { raw, index: indexMessage(raw) }).then((r) => r.uid);
}));
await store.close();
process.stdout.write(JSON.stringify(uids));
