// The Pigeon admin console: one ES module, no framework, no build step. It talks only to the
// admin API (/api/v1, described at /api/docs). Screens are routed by the URL hash. Every element
// is built with DOM calls (never innerHTML with data), so server data cannot inject markup; the
// page's CSP forbids inline scripts and styles.

const main = document.getElementById('main');
const flash = document.getElementById('flash');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

/** @type {{ email: string, scope: 'domain' | 'server', domain: string, csrfToken: string } | null} */
let session = null;

// ---------- small DOM helpers ----------

/** h('tag.class#id', { attr: value, onclick: fn }, ...children) */
function h(spec, attrs, ...children) {
  const [tagAndClasses, id] = spec.split('#');
  const [tag, ...classes] = tagAndClasses.split('.');
  const el = document.createElement(tag || 'div');
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function table(headers, rows, empty = 'Nothing here yet.') {
  if (rows.length === 0) return h('p.muted', { text: empty });
  return h('div.table-wrap', {}, h('table', {}, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { text: t })))), h('tbody', {}, rows)));
}

function field(label, input) {
  return h(input.type === 'checkbox' ? 'label.check' : 'label', {}, input.type === 'checkbox' ? [input, label] : [label, input]);
}

function show(message, kind = 'error') {
  flash.textContent = message;
  flash.className = kind;
  flash.hidden = false;
}

function clearFlash() {
  flash.hidden = true;
  flash.textContent = '';
}

function formatBytes(n) {
  if (n === 0) return '0';
  const units = [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
  for (const [u, f] of units) if (n >= f) return `${(n / f).toFixed(n % f === 0 ? 0 : 1)} ${u}`;
  return `${n} B`;
}

/** "500M", "2G", "0" → bytes; throws on nonsense. */
function parseSize(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  if (!m) throw new Error(`not a size: ${text} (use e.g. 500M, 2G or 0 for unlimited)`);
  const f = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2].toUpperCase()];
  return Math.round(Number(m[1]) * f);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

// ---------- API ----------

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrfToken;
  const res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const code = data?.error?.code ?? 'http_error';
    if (code === 'not_signed_in') {
      session = null;
      location.hash = '#/signin';
    }
    throw new ApiFailure(res.status, code, data?.error?.message ?? `HTTP ${res.status}`);
  }
  return data;
}

/** Runs an action from a button or form: shows its error, or the success message, then re-renders. */
async function act(fn, success) {
  clearFlash();
  try {
    await fn();
    await render();
    if (success) show(success, 'info');
  } catch (err) {
    show(err.message);
  }
}

function onSubmit(form, fn) {
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    fn(new FormData(form)).finally(() => {
      if (button) button.disabled = false;
    });
  });
  return form;
}

// ---------- screens ----------

function signInScreen() {
  nav.hidden = true;
  who.replaceChildren();
  const form = h('form.stack', { 'aria-label': 'Sign in' },
    field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', text: 'Sign in' }));
  onSubmit(form, async (data) => {
    clearFlash();
    try {
      session = await api('POST', '/session', { email: data.get('email'), password: data.get('password') });
      location.hash = '#/dashboard';
    } catch (err) {
      show(err.message);
    }
  });
  return h('section.card.signin', {}, h('h1', { text: 'Sign in to Pigeon' }), form);
}

async function dashboardScreen() {
  const d = await api('GET', '/dashboard');
  const cert = d.certificate;
  return [
    h('h1', { text: 'Dashboard' }),
    h('div.grid', {},
      stat(d.counts.domains, 'domains'), stat(d.counts.accounts, 'accounts'), stat(d.counts.messages, 'messages'),
      stat(d.queue.messages, 'queued'), stat(d.counts.pushSubscriptions, 'push subscriptions'),
      cert ? stat(`${cert.daysLeft} d`, 'certificate left') : null),
    h('h2', { text: 'Certificate' }),
    cert
      ? h('dl.facts', {}, h('dt', { text: 'Names' }), h('dd', { text: cert.altNames.join(', ') }), h('dt', { text: 'Expires' }),
        h('dd', { text: `${when(cert.notAfter)} (${cert.daysLeft} days)${cert.selfSigned ? ' — self-signed' : ''}` }))
      : h('p.muted', { text: 'No certificate information.' }),
    h('h2', { text: 'Listeners' }),
    table(['Service', 'Listener', 'Address', 'Security'], d.listeners.map((l) => h('tr', {}, h('td', { text: l.service }), h('td', { text: l.listener }), h('td.mono', { text: `${l.host}:${l.port}` }), h('td', { text: l.security === 'tls' ? 'TLS' : l.listener === 'http' ? 'plain' : 'STARTTLS' }))), 'No listener information.'),
    h('h2', { text: 'Queue' }),
    h('p', {}, `${d.queue.messages} message(s) waiting, ${d.queue.deferred} deferred, ${d.queue.failed} with failed recipients. `, h('a', { href: '#/queue', text: 'Open the queue' })),
    h('h2', { text: 'Recent failures' }),
    table(['When', 'Kind', 'What'], d.recentFailures.map((f) => h('tr', {}, h('td', { text: when(f.at) }), h('td', { text: f.kind }), h('td', { text: f.message }))), 'No recent failures.'),
  ];
}

function stat(value, label) {
  return h('div.stat', {}, h('b', { text: value }), h('span', { text: label }));
}

async function domainsScreen() {
  const domains = await api('GET', '/domains');
  const out = [h('h1', { text: 'Domains' })];
  if (session.scope === 'server') {
    const form = h('form.inline', { 'aria-label': 'Add a domain' },
      field('New domain', h('input', { name: 'name', placeholder: 'example.com', required: true })),
      h('button', { type: 'submit', text: 'Add domain' }));
    onSubmit(form, (data) => act(() => api('POST', '/domains', { name: data.get('name') }), `Domain ${data.get('name')} added.`));
    out.push(form);
  }
  out.push(table(['Domain', 'Accounts', 'Push', ''], domains.map((d) => h('tr', {},
    h('td', {}, h('a', { href: `#/domains/${encodeURIComponent(d.name)}`, text: d.name })),
    h('td', { text: d.accounts }),
    h('td', { text: d.settings.pushEnabled ? 'on' : 'off' }),
    h('td', {}, session.scope === 'server'
      ? h('button.danger', { type: 'button', text: 'Remove', 'aria-label': `Remove ${d.name}`, onclick: () => {
        const force = d.accounts > 0;
        if (!confirm(force ? `Remove ${d.name} AND its ${d.accounts} account(s) with all their mail?` : `Remove ${d.name}?`)) return;
        void act(() => api('DELETE', `/domains/${encodeURIComponent(d.name)}${force ? '?force=true' : ''}`), `Domain ${d.name} removed.`);
      } })
      : null)))));
  return out;
}

async function domainScreen(name) {
  const d = await api('GET', `/domains/${encodeURIComponent(name)}`);
  const s = d.settings;
  const form = h('form.stack', { 'aria-label': 'Push integration options' },
    field('Push integration enabled', h('input', { type: 'checkbox', name: 'pushEnabled', checked: s.pushEnabled })),
    field('Notifications may carry sender and subject', h('input', { type: 'checkbox', name: 'pushDetails', checked: s.pushDetails })),
    field('Authenticated users may send only as themselves', h('input', { type: 'checkbox', name: 'enforceSender', checked: s.enforceSender })),
    field('Callback hosts allowed on private addresses (comma separated)', h('input', { name: 'pushAllowedHosts', value: s.pushAllowedHosts.join(', ') })),
    h('button', { type: 'submit', text: 'Save options' }));
  onSubmit(form, (data) => act(() => api('PATCH', `/domains/${encodeURIComponent(d.name)}`, {
    pushEnabled: data.get('pushEnabled') !== null,
    pushDetails: data.get('pushDetails') !== null,
    enforceSender: data.get('enforceSender') !== null,
    pushAllowedHosts: String(data.get('pushAllowedHosts') ?? '').split(',').map((x) => x.trim()).filter(Boolean),
  }), 'Options saved.'));
  return [
    h('div.crumbs', {}, h('a', { href: '#/domains', text: 'Domains' }), ' / ', d.name),
    h('h1', { text: d.name }),
    h('section.card', {},
      h('h2', { text: 'Push integration' }),
      h('p.muted', { text: 'Give these two values to the push relay service (Integrated Accounts).' }),
      h('dl.facts', {},
        h('dt', { text: 'Subscribe URL' }), h('dd.mono#subscribe-url', { text: d.push.subscribeUrl }),
        h('dt', { text: 'SMTP server' }), h('dd.mono#smtp-server', { text: d.push.smtpServer ?? 'no submission listener' }))),
    h('section.card', {}, h('h2', { text: 'Options' }), form),
    h('p', {}, h('a', { href: `#/accounts?domain=${encodeURIComponent(d.name)}`, text: `Accounts of ${d.name}` }), ' · ',
      h('a', { href: `#/dns/${encodeURIComponent(d.name)}`, text: 'DNS records to publish' })),
  ];
}

async function accountsScreen(params) {
  const domain = params.get('domain') ?? '';
  const [accounts, domains] = await Promise.all([api('GET', `/accounts${domain ? `?domain=${encodeURIComponent(domain)}` : ''}`), api('GET', '/domains')]);
  const adminChoice = () => h('select', { name: 'admin' }, h('option', { value: 'none', text: 'not an admin' }), h('option', { value: 'domain', text: 'admin of the domain' }),
    session.scope === 'server' ? h('option', { value: 'server', text: 'server admin' }) : null);
  const form = h('form.inline', { 'aria-label': 'Add an account' },
    field('Address', h('input', { name: 'email', type: 'email', placeholder: `user@${domains[0]?.name ?? 'example.com'}`, required: true })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true })),
    field('Quota', h('input', { name: 'quota', placeholder: '0 = unlimited', size: 8 })),
    field('Rights', adminChoice()),
    h('button', { type: 'submit', text: 'Add account' }));
  onSubmit(form, (data) => act(async () => {
    const quota = String(data.get('quota') ?? '').trim();
    await api('POST', '/accounts', { email: data.get('email'), password: data.get('password'), admin: data.get('admin'), ...(quota ? { quota: parseSize(quota) } : {}) });
  }, `Account ${data.get('email')} added.`));
  return [
    h('h1', { text: domain ? `Accounts of ${domain}` : 'Accounts' }),
    domains.length === 0 ? h('p', {}, 'Add a domain first: ', h('a', { href: '#/domains', text: 'Domains' })) : form,
    table(['Account', 'Quota', 'Used', 'Admin'], accounts.map((a) => h('tr', {},
      h('td', {}, h('a', { href: `#/accounts/${encodeURIComponent(a.email)}`, text: a.email })),
      h('td', { text: a.quota ? formatBytes(a.quota) : 'unlimited' }),
      h('td', { text: formatBytes(a.usedBytes) }),
      h('td', { text: a.admin === 'none' ? '' : a.admin })))),
  ];
}

async function accountScreen(email) {
  const path = `/accounts/${encodeURIComponent(email)}`;
  const [a, aliases, subs, appPasswords] = await Promise.all([
    api('GET', path), api('GET', `/aliases?domain=${encodeURIComponent(email.split('@').pop())}`), api('GET', `${path}/push-subscriptions`), api('GET', `${path}/app-passwords`),
  ]);
  const mine = aliases.filter((x) => x.targets.some((t) => t.toLowerCase() === a.email.toLowerCase()));
  const pw = h('form.inline', { 'aria-label': 'Set the password' },
    field('New password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true })),
    h('button', { type: 'submit', text: 'Set password' }));
  onSubmit(pw, (data) => act(() => api('PUT', `${path}/password`, { password: data.get('password') }), 'Password changed.'));
  const quota = h('form.inline', { 'aria-label': 'Set the quota' },
    field('Quota', h('input', { name: 'quota', value: a.quota ? formatBytes(a.quota).replace(/ |iB/g, '') : '0', size: 8 })),
    h('button', { type: 'submit', text: 'Set quota' }));
  onSubmit(quota, (data) => act(() => api('PATCH', path, { quota: parseSize(String(data.get('quota'))) }), 'Quota changed.'));
  const alias = h('form.inline', { 'aria-label': 'Add an alias' },
    field('Alias address', h('input', { name: 'address', placeholder: `info@${a.domain}`, required: true })),
    h('button', { type: 'submit', text: 'Add alias' }));
  onSubmit(alias, (data) => act(() => api('POST', '/aliases', { address: data.get('address'), targets: [a.email] }), `Alias ${data.get('address')} added.`));
  const appPassword = h('form.inline', { 'aria-label': 'Create an app password' },
    field('Name', h('input', { name: 'name', placeholder: 'Phone', maxlength: 100, required: true })),
    h('button', { type: 'submit', text: 'Create app password' }));
  onSubmit(appPassword, async (data) => {
    let made = null;
    await act(async () => {
      made = await api('POST', `${path}/app-passwords`, { name: data.get('name') });
    });
    // Shown this once: the server keeps only its hash.
    if (made) show(`App password "${made.name}": ${made.password} (shown only now; enter it in that mail client instead of the account password)`, 'info');
  });
  return [
    h('div.crumbs', {}, h('a', { href: '#/accounts', text: 'Accounts' }), ' / ', a.email),
    h('h1', { text: a.email }),
    h('dl.facts', {}, h('dt', { text: 'Quota' }), h('dd', { text: a.quota ? formatBytes(a.quota) : 'unlimited' }), h('dt', { text: 'Used' }), h('dd', { text: formatBytes(a.usedBytes) }),
      h('dt', { text: 'Admin' }), h('dd', { text: a.admin === 'none' ? 'no' : a.admin === 'server' ? 'server administrator' : `administrator of ${a.domain}` }), h('dt', { text: 'Created' }), h('dd', { text: when(a.createdAt) })),
    h('h2', { text: 'Password' }), pw,
    h('h2', { text: 'App passwords' }),
    table(['Name', 'Created', 'Last used', ''], appPasswords.map((x) => h('tr', { 'data-app-password': x.id }, h('td', { text: x.name }), h('td', { text: when(x.createdAt) }), h('td', { text: when(x.lastUsedAt) }),
      h('td', {}, h('button.danger', { type: 'button', text: 'Revoke', 'aria-label': `Revoke app password ${x.name}`, onclick: () => {
        if (!confirm(`Revoke the app password "${x.name}"? Mail clients using it stop working, and push subscriptions made with it end.`)) return;
        void act(() => api('DELETE', `${path}/app-passwords/${x.id}`), `App password "${x.name}" revoked.`);
      } })))), 'No app passwords.'),
    appPassword,
    h('h2', { text: 'Quota' }), quota,
    h('h2', { text: 'Aliases' }),
    table(['Alias', 'Delivers to', ''], mine.map((x) => h('tr', {}, h('td', { text: x.address }), h('td', { text: x.targets.join(', ') }),
      h('td', {}, h('button.danger', { type: 'button', text: 'Remove', 'aria-label': `Remove alias ${x.address}`, onclick: () => void act(() => api('DELETE', `/aliases/${encodeURIComponent(x.address)}`), `Alias ${x.address} removed.`) })))), 'No alias delivers to this account.'),
    alias,
    h('h2', { text: 'Push subscriptions' }),
    subscriptionsTable(subs, false),
    h('h2', { text: 'Remove' }),
    h('button.danger', { type: 'button', text: 'Remove this account', onclick: () => {
      if (!confirm(`Remove ${a.email} and all its mail?`)) return;
      void act(async () => {
        await api('DELETE', path);
        location.hash = '#/accounts';
      }, `Account ${a.email} removed.`);
    } }),
  ];
}

function subscriptionsTable(subs, withAccount) {
  return table([...(withAccount ? ['Account'] : []), 'Device', 'Relay', 'State', 'Last notification', 'Last error', ''], subs.map((s) => h('tr', { 'data-subscription': s.id },
    withAccount ? h('td', { text: s.account }) : null,
    h('td', { text: s.device }),
    h('td.mono', { text: s.webPush ? `${s.relayHost} (Web Push)` : s.relayHost }),
    h(`td.state-${s.state}`, { text: s.state }),
    h('td', { text: when(s.lastNotification) }),
    h('td', { text: s.lastError ?? '' }),
    h('td', {}, h('button.danger', { type: 'button', text: 'Unsubscribe', 'aria-label': `Unsubscribe ${s.account} ${s.device}`, onclick: () => {
      if (!confirm(`End the push subscription of ${s.account} (${s.device})?`)) return;
      void act(() => api('DELETE', `/push-subscriptions/${encodeURIComponent(s.id)}`), `Subscription of ${s.account} ended.`);
    } })))), 'No push subscriptions.');
}

async function integratedScreen() {
  const subs = await api('GET', '/push-subscriptions');
  return [
    h('h1', { text: 'Integrated Accounts' }),
    h('p.muted', { text: 'Every push subscription made by a relay service or a Web Push client, its state and its last error.' }),
    subscriptionsTable(subs, true),
  ];
}

async function systemScreen() {
  const sys = await api('GET', '/system');
  const out = [
    h('div.crumbs', { text: 'System configuration / Mail' }),
    h('h1', { text: 'System configuration' }),
    h('section.card', {}, h('h2', { text: 'Mail' }), h('dl.facts', {},
      h('dt', { text: 'Host name' }), h('dd.mono', { text: sys.hostname }),
      h('dt', { text: 'Largest message' }), h('dd', { text: formatBytes(sys.maxMessageSize) }),
      h('dt', { text: 'Relay host' }), h('dd', { text: sys.relayHost ?? 'none (direct delivery to each domain\'s MX)' }),
      h('dt', { text: 'Push integration' }), h('dd', { text: sys.pushEnabled ? 'on' : 'off' })),
    h('p.muted', { text: 'These come from the configuration file (pigeon.toml); change them there.' })),
  ];
  if (session.scope !== 'server') return out;
  const form = h('form.inline', { 'aria-label': 'Add to My Networks' },
    field('Address or range', h('input', { name: 'cidr', placeholder: '192.0.2.0/24', required: true })),
    field('Note', h('input', { name: 'note', placeholder: 'office printers' })),
    h('button', { type: 'submit', text: 'Add network' }));
  onSubmit(form, (data) => act(() => api('POST', '/networks', { cidr: data.get('cidr'), note: data.get('note') ?? '' }), `${data.get('cidr')} added to My Networks.`));
  out.push(h('section.card#my-networks', {},
    h('h2', { text: 'My Networks' }),
    h('p.muted', { text: 'Clients in these ranges may send mail through this server to any address without signing in (relay). Keep the list short.' }),
    table(['Range', 'Note', ''], sys.networks.map((n) => h('tr', {}, h('td.mono', { text: n.cidr }), h('td', { text: n.note }),
      h('td', {}, h('button.danger', { type: 'button', text: 'Remove', 'aria-label': `Remove ${n.cidr}`, onclick: () => void act(() => api('DELETE', `/networks/${encodeURIComponent(n.cidr)}`), `${n.cidr} removed.`) })))), 'No networks: only signed-in users may relay.'),
    form));
  return out;
}

async function queueScreen() {
  const queue = await api('GET', '/queue');
  return [
    h('h1', { text: 'Queue' }),
    table(['Id', 'From', 'Recipients', 'Size', 'Queued', ''], queue.map((q) => h('tr', {},
      h('td', { text: q.id }),
      h('td.mono', { text: q.sender || '<>' }),
      h('td', {}, q.recipients.map((r) => h('div', {}, h('span.mono', { text: r.address }), ' ', h(`span.state-${r.state}`, { text: r.state }),
        r.attempts ? h('span.muted', { text: ` (${r.attempts} attempt(s), next ${when(r.nextAttemptAt)})` }) : null,
        r.lastError ? h('div.muted', { text: r.lastError }) : null))),
      h('td', { text: formatBytes(q.size) }),
      h('td', { text: when(q.createdAt) }),
      h('td', {},
        h('button.secondary', { type: 'button', text: 'Retry', onclick: () => void act(() => api('POST', `/queue/${q.id}/retry`), `Message ${q.id} will be tried again.`) }), ' ',
        h('button.danger', { type: 'button', text: 'Remove', onclick: () => {
          if (confirm(`Remove message ${q.id} from the queue without a bounce?`)) void act(() => api('DELETE', `/queue/${q.id}`), `Message ${q.id} removed.`);
        } })))), 'The queue is empty.'),
  ];
}

async function dnsScreen(name) {
  const domains = await api('GET', '/domains');
  const current = name || domains[0]?.name;
  const picker = h('select', { 'aria-label': 'Domain', onchange: (ev) => { location.hash = `#/dns/${encodeURIComponent(ev.target.value)}`; } },
    domains.map((d) => h('option', { value: d.name, selected: d.name === current, text: d.name })));
  if (!current) return [h('h1', { text: 'DNS records' }), h('p', { text: 'Add a domain first.' })];
  const { records } = await api('GET', `/domains/${encodeURIComponent(current)}/dns`);
  return [
    h('h1', { text: 'DNS records to publish' }),
    h('p', {}, 'Domain: ', picker),
    table(['Name', 'Type', 'Value', 'Why'], records.map((r) => h('tr', {}, h('td.mono', { text: r.name }), h('td', { text: r.type }), h('td.mono', { text: r.value }), h('td.muted', { text: r.note })))),
  ];
}

// ---------- router ----------

const routes = [
  [/^#\/dashboard$/, () => dashboardScreen()],
  [/^#\/domains$/, () => domainsScreen()],
  [/^#\/domains\/([^/]+)$/, (m) => domainScreen(decodeURIComponent(m[1]))],
  [/^#\/accounts$/, (_m, q) => accountsScreen(q)],
  [/^#\/accounts\/([^/]+)$/, (m) => accountScreen(decodeURIComponent(m[1]))],
  [/^#\/integrated$/, () => integratedScreen()],
  [/^#\/system$/, () => systemScreen()],
  [/^#\/queue$/, () => queueScreen()],
  [/^#\/dns(?:\/([^/]+))?$/, (m) => dnsScreen(m[1] ? decodeURIComponent(m[1]) : '')],
];

let rendering = 0;
async function render() {
  const ticket = ++rendering;
  const [path, query] = (location.hash || '#/dashboard').split('?');
  if (!session) {
    try {
      session = await api('GET', '/session');
    } catch {
      session = null;
    }
  }
  if (!session || path === '#/signin') {
    if (session && path === '#/signin') {
      location.hash = '#/dashboard';
      return;
    }
    main.replaceChildren(signInScreen());
    document.title = 'Sign in · Pigeon admin';
    return;
  }
  nav.hidden = false;
  who.replaceChildren(h('span', { text: `${session.email} (${session.scope === 'server' ? 'server admin' : `admin of ${session.domain}`})` }),
    h('button.secondary', { type: 'button', text: 'Sign out', onclick: () => void signOut() }));
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', path.startsWith(a.getAttribute('href')));
  const route = routes.find(([re]) => re.test(path));
  let content;
  try {
    content = route ? await route[1](route[0].exec(path), new URLSearchParams(query ?? '')) : [h('h1', { text: 'Not found' })];
  } catch (err) {
    content = [h('h1', { text: 'Could not load this page' }), h('p', { text: err.message })];
  }
  if (ticket !== rendering) return;
  main.replaceChildren(...[content].flat());
  const h1 = main.querySelector('h1');
  document.title = `${h1 ? h1.textContent : 'Pigeon'} · Pigeon admin`;
}

async function signOut() {
  try {
    await api('DELETE', '/session');
  } finally {
    session = null;
    location.hash = '#/signin';
  }
}

window.addEventListener('hashchange', () => {
  clearFlash();
  void render();
});
void render();
