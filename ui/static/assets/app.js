// TrustyClaw admin UI: start-up, login/logout, tabs, periodic refresh and
// the live feeds. Plain ES modules, no build step, nothing from outside
// the host.
import { api, ApiError, setUnauthorizedHandler } from './api.js';
import { $, setMessage, confirmAction } from './dom.js';
import { LiveFeed } from './feed.js';
import { renderHealth } from './health.js';
import { setRuntimes, refreshAccounts, resetRuntimes } from './runtimes.js';
import { initThreads, refreshThreads, refreshActive, onAgentEvents, resetThreads } from './threads.js';
import { AGENT_EVENT_TYPES, initAgentEvents, renderAgentEvents, resetAgentEvents } from './events.js';
import { initNetwork, loadPolicy, renderNetworkEvents, resetNetwork } from './network.js';

const HEALTH_MS = 5000;
const TABS = ['overview', 'tasks', 'events', 'network'];

const app = {
  loggedIn: false,
  healthTimer: null,
  runtimeSig: '',
  feedStates: { events: '', network: '' },
};

function showBanner(text) { setMessage($('banner'), text); }

function showTab(name) {
  if (!TABS.includes(name)) name = 'overview';
  for (const t of TABS) $(`tab-${t}`).hidden = t !== name;
  for (const b of document.querySelectorAll('.tabs [data-tab]')) {
    b.setAttribute('aria-selected', String(b.dataset.tab === name));
  }
  history.replaceState(null, '', `#${name}`);
  if (name === 'tasks' && app.loggedIn) { refreshThreads(); refreshActive(); }
}

function setFeedState(which, text) {
  app.feedStates[which] = text;
  $(which === 'events' ? 'events-state' : 'netlog-state').textContent = text;
  const el = $('feed-state');
  el.textContent = `events: ${app.feedStates.events || '…'} · network log: ${app.feedStates.network || '…'}`;
  el.hidden = false;
}

const agentFeed = new LiveFeed({
  streamPath: '/v1/events/stream',
  pollPath: '/v1/events',
  listKey: 'events',
  eventNames: AGENT_EVENT_TYPES,
  onState: (s) => setFeedState('events', s),
  onEvents: (events) => {
    renderAgentEvents(events, showTab);
    onAgentEvents(events);
    if (events.some((ev) => ev.event_type.startsWith('agent_runtime.'))) {
      refreshHealth();
      refreshAccounts();
    }
  },
});

const networkFeed = new LiveFeed({
  streamPath: '/v1/network/events/stream',
  pollPath: '/v1/network/events',
  listKey: 'events',
  eventNames: ['network', 'network_event', 'allowed', 'denied'],
  onState: (s) => setFeedState('network', s),
  onEvents: renderNetworkEvents,
});

async function refreshHealth() {
  try {
    const hl = await api('GET', '/v1/health');
    renderHealth(hl);
    const runtimes = (hl.agent_runtime && hl.agent_runtime.runtimes) || [];
    setRuntimes(runtimes);
    const sig = JSON.stringify(runtimes.map((r) => [r.type, r.status]));
    if (sig !== app.runtimeSig) {
      app.runtimeSig = sig;
      refreshAccounts();
    }
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) setMessage($('health-error'), e.message);
  }
}

function enterApp() {
  app.loggedIn = true;
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout-btn').hidden = false;
  $('reboot-btn').hidden = false;
  showBanner('');
  refreshHealth();
  clearInterval(app.healthTimer);
  app.healthTimer = setInterval(() => { if (!document.hidden) refreshHealth(); }, HEALTH_MS);
  refreshThreads();
  refreshActive();
  loadPolicy();
  agentFeed.start(0);
  networkFeed.start(0);
  showTab(location.hash.slice(1));
}

function leaveApp(message) {
  app.loggedIn = false;
  clearInterval(app.healthTimer);
  app.healthTimer = null;
  app.runtimeSig = '';
  agentFeed.stop();
  networkFeed.stop();
  resetRuntimes();
  resetThreads();
  resetAgentEvents();
  resetNetwork();
  $('app').hidden = true;
  $('logout-btn').hidden = true;
  $('reboot-btn').hidden = true;
  $('health-badge').hidden = true;
  $('feed-state').hidden = true;
  $('login').hidden = false;
  setMessage($('login-error'), message || '');
  $('login-password').focus();
}

async function login(e) {
  e.preventDefault();
  const field = $('login-password');
  const password = field.value;
  // The password lives only in the field until the request is sent; it is
  // never written to storage.
  field.value = '';
  if (!password) { setMessage($('login-error'), 'Enter the admin password.'); return; }
  const btn = $('login-submit');
  btn.disabled = true;
  try {
    await api('POST', '/v1/session', { password }, { quiet401: true });
    enterApp();
  } catch (err) {
    setMessage($('login-error'), err.status === 401 ? `Login refused: ${err.message}` : err.message);
  } finally {
    btn.disabled = false;
  }
}

async function logout() {
  try {
    await api('DELETE', '/v1/session', undefined, { quiet401: true });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) { showBanner(`Logout failed: ${e.message}`); return; }
  }
  leaveApp('Logged out.');
}

async function reboot() {
  if (!await confirmAction('Reboot the host now? Running tasks fail; queued tasks wait for the restart.', 'Reboot')) return;
  try {
    await api('POST', '/v1/host-runtime/reboot');
    showBanner('Reboot requested. The host will be back in a minute or two; this page reconnects by itself.');
  } catch (e) {
    showBanner(`Reboot failed: ${e.message}`);
  }
}

async function boot() {
  setUnauthorizedHandler(() => { if (app.loggedIn) leaveApp('Your session ended. Log in again.'); });
  $('login-form').addEventListener('submit', login);
  $('logout-btn').addEventListener('click', logout);
  $('reboot-btn').addEventListener('click', reboot);
  $('health-refresh').addEventListener('click', refreshHealth);
  for (const b of document.querySelectorAll('.tabs [data-tab]')) {
    b.addEventListener('click', () => showTab(b.dataset.tab));
  }
  initThreads();
  initAgentEvents();
  initNetwork();
  try {
    // Probe the session; the answer itself is fetched again by enterApp.
    await api('GET', '/v1/health', undefined, { quiet401: true });
    enterApp();
  } catch (e) {
    leaveApp(e.status === 401 ? '' : `Cannot reach the admin API: ${e.message}`);
  }
}

boot();
