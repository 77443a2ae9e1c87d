// Runtimes panel: status, account, and the two login flows (Codex device
// code; Claude URL + pasted code).
import { api, ApiError } from './api.js';
import { $, h, fmtTime, fmtRelative, safeHttpURL, setMessage } from './dom.js';
import { statusBadge } from './health.js';

const LOGIN_PATH = {
  codex: '/v1/agent-runtime/codex-oauth-login',
  claude_code: '/v1/agent-runtime/claude-oauth-login',
};

const state = {
  runtimes: [],
  accounts: [],
  login: {},      // runtime type -> last login response
  claudeCode: '', // what the operator typed, kept across re-renders
  busy: false,
  sig: '',
};

// accountsOf reads {"accounts": [...]} (docs/admin-api.md).
function accountsOf(data) {
  return data && Array.isArray(data.accounts) ? data.accounts : [];
}

export async function refreshAccounts() {
  try {
    state.accounts = accountsOf(await api('GET', '/v1/agent-runtime/account'));
    render();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) setMessage($('runtimes-error'), e.message);
  }
}

export function setRuntimes(runtimes) {
  state.runtimes = runtimes || [];
  for (const r of state.runtimes) {
    if (r.status !== 'awaiting_login') delete state.login[r.type];
  }
  render();
}

export function resetRuntimes() {
  state.login = {};
  state.claudeCode = '';
  state.sig = '';
}

async function loginCall(method, type, suffix = '', body = undefined) {
  state.busy = true;
  render(true);
  setMessage($('runtimes-error'), '');
  try {
    const res = await api(method, LOGIN_PATH[type] + suffix, body);
    state.login[type] = res;
    if (suffix === '/complete') state.claudeCode = '';
  } catch (e) {
    setMessage($('runtimes-error'), e.message);
  } finally {
    state.busy = false;
    render(true);
  }
}

function loginInfo(type) {
  const l = state.login[type];
  if (!l) return null;
  const url = safeHttpURL(l.login_url);
  return h('div', { class: 'login-box', id: `login-${type}` },
    l.device_code ? h('p', {}, 'Code: ', h('code', { class: 'device-code', id: `login-code-${type}` }, l.device_code)) : null,
    l.login_url ? h('p', {}, 'Open: ',
      url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', id: `login-url-${type}` }, l.login_url)
        : h('code', {}, l.login_url)) : null,
    l.expires_at ? h('p', { class: 'muted' }, `Expires ${fmtTime(l.expires_at)} (${fmtRelative(l.expires_at)})`) : null,
    l.status ? h('p', { class: 'muted' }, `Login status: ${l.status}`) : null);
}

function controls(r) {
  if (r.status !== 'awaiting_login') return null;
  const dis = state.busy || undefined;
  if (r.type === 'codex') {
    return h('div', { class: 'row' },
      h('button', { type: 'button', id: 'codex-login-start', disabled: dis, onclick: () => loginCall('POST', 'codex') }, 'Start device-code login'),
      h('button', { type: 'button', disabled: dis, onclick: () => loginCall('GET', 'codex') }, 'Show current code'));
  }
  if (r.type === 'claude_code') {
    const input = h('input', {
      type: 'text', id: 'claude-code', placeholder: 'paste the code from the browser',
      autocomplete: 'off', spellcheck: 'false', value: state.claudeCode, class: 'grow',
      oninput: (e) => { state.claudeCode = e.target.value; },
    });
    const complete = (e) => {
      e.preventDefault();
      const code = state.claudeCode.trim();
      if (!code) { setMessage($('runtimes-error'), 'Paste the code shown after the browser login first.'); return; }
      loginCall('POST', 'claude_code', '/complete', { code });
    };
    return h('div', {},
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'claude-login-start', disabled: dis, onclick: () => loginCall('POST', 'claude_code') }, 'Start login'),
        h('button', { type: 'button', disabled: dis, onclick: () => loginCall('GET', 'claude_code') }, 'Show current link')),
      h('form', { class: 'row', onsubmit: complete },
        input, h('button', { type: 'submit', disabled: dis }, 'Complete login')));
  }
  return null;
}

function account(type) {
  const a = state.accounts.find((x) => x.agent_runtime === type);
  if (!a) return h('span', { class: 'muted' }, 'no account information');
  const parts = [a.email, a.account_id && `account ${a.account_id}`, a.organization_id && `org ${a.organization_id}`]
    .filter(Boolean);
  return h('span', {}, `${a.provider || ''} · ${a.status || ''}${parts.length ? ' · ' + parts.join(' · ') : ''}`);
}

function render(force = false) {
  const sig = JSON.stringify([state.runtimes, state.accounts, state.login, state.busy]);
  if (!force && sig === state.sig) return; // keep focus and typing intact
  state.sig = sig;
  const body = $('runtimes-body');
  body.replaceChildren(...state.runtimes.map((r) => h('div', { class: 'runtime', id: `runtime-${r.type}` },
    h('h3', {}, r.type, ' ', statusBadge(r.status)),
    r.error_message ? h('p', { class: 'error' }, r.error_message) : null,
    r.status === 'deactivated'
      ? h('p', { class: 'muted' }, 'Its provider is off in the network policy (Network tab).') : null,
    h('p', {}, 'Account: ', account(r.type)),
    controls(r),
    r.status === 'awaiting_login' ? loginInfo(r.type) : null)));
}
