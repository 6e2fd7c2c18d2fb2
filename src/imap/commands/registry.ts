// Every command handler, by command name. dispatch.ts looks commands up here; adding a command
// is adding its file and one line below.
import type { CommandName } from '../wire/types.js';
import type { CommandHandler } from '../session/command.js';
import { capability, id, logout, noop } from './any-state.js';
import { authenticate, login, starttls } from './auth.js';
import { enable } from './enable.js';
import { check, close, select, unselect } from './select.js';
import { create, remove, rename, subscribe } from './mailboxes.js';
import { list, lsub, namespace } from './list.js';
import { status } from './status.js';
import { append } from './append.js';
import { expunge } from './expunge.js';
import { search } from './search.js';
import { sort, thread } from './sort-thread.js';
import { fetch } from './fetch.js';
import { store } from './store.js';
import { copyMove } from './copy-move.js';
import { idle } from './idle.js';
import { compress } from './compress.js';
import { notify } from './notify.js';
import { getQuota, getQuotaRoot, setQuota } from './quota.js';
import { genUrlAuth, resetKey, urlFetch } from './urlauth.js';
import { getMetadata, setMetadata } from './metadata.js';

const all: CommandHandler[] = [
  capability, noop, logout, id, starttls, login, authenticate, enable, select, close, unselect, check,
  create, remove, rename, subscribe, list, lsub, namespace, status, append, expunge, search, fetch,
  store, copyMove, idle, sort, thread, compress, notify, getQuota, getQuotaRoot, setQuota,
  genUrlAuth, urlFetch, resetKey, getMetadata, setMetadata,
] as unknown as CommandHandler[];

export const handlers = new Map<CommandName, CommandHandler>();
for (const h of all) for (const name of h.names) handlers.set(name, h);
