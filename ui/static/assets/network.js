// Network tab: the policy editor (raw JSON, validated by the host), a
// structured view of its domains, "check a URL", and the decision log.
import { api, ApiError } from './api.js';
import { fill, $, h, fmtTime, setMessage } from './dom.js';

const MAX_ROWS = 500;

const state = { saved: '', loadedAt: '' };

function pretty(v) { return JSON.stringify(v, null, 2); }

function parseEditor() {
  try {
    return { value: JSON.parse($('policy-editor').value) };
  } catch (e) {
    return { error: e.message };
  }
}

function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

// renderDomains draws the structured view of whatever the editor holds now.
function renderDomains() {
  const out = $('policy-domains');
  const dirty = $('policy-editor').value !== state.saved;
  $('policy-dirty').hidden = !dirty;
  const { value, error } = parseEditor();
  if (error) {
    out.replaceChildren(h('p', { class: 'muted' }, 'The editor does not hold valid JSON yet.'));
    return;
  }
  const mp = isObject(value) && isObject(value.managed_ai_provider_network_access) ? value.managed_ai_provider_network_access : {};
  $('policy-openai').checked = mp.openai === true;
  $('policy-claude').checked = mp.claude === true;
  const allowed = isObject(value) && isObject(value.allowed_network_access) ? value.allowed_network_access : {};
  const keys = Object.keys(allowed).sort();
  out.replaceChildren(
    h('p', {}, `Managed providers: OpenAI ${mp.openai === true ? 'on' : 'off'}, Claude ${mp.claude === true ? 'on' : 'off'}`),
    keys.length
      ? h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, h('th', {}, 'domain'), h('th', {}, 'methods'), h('th', {}, 'path guards'))),
        h('tbody', {}, keys.map((k) => {
          const r = isObject(allowed[k]) ? allowed[k] : {};
          const methods = Array.isArray(r.allow_http_methods) ? r.allow_http_methods : [];
          const guards = Array.isArray(r.path_guards) ? r.path_guards : [];
          return h('tr', {},
            h('td', { class: 'mono' }, k),
            h('td', {}, methods.length ? methods.join(' ') : h('span', { class: 'muted' }, 'closed')),
            h('td', {}, guards.length ? guards.map((g) => h('div', {}, h('code', {}, String(g)))) : h('span', { class: 'muted' }, 'any path')));
        })))
      : h('p', { class: 'muted' }, 'No domains are open.'));
}

function setPolicy(doc) {
  // A stored policy the host cannot read comes back without a policy (the
  // proxy then denies everything); start the editor from the empty one.
  const policy = isObject(doc.network_controls) ? doc.network_controls : { allowed_network_access: {} };
  const text = pretty(policy);
  state.saved = text;
  $('policy-editor').value = text;
  $('policy-updated').textContent = doc.updated_at ? `updated ${fmtTime(doc.updated_at)}` : '';
  renderDomains();
}

export async function loadPolicy() {
  try {
    const doc = await api('GET', '/v1/network/policy');
    setPolicy(doc);
    const bad = doc.error_message;
    setMessage($('policy-error'), bad ? `The stored policy is invalid, so all agent traffic is denied: ${bad}` : '');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) setMessage($('policy-error'), e.message);
  }
}

async function savePolicy() {
  const err = $('policy-error');
  setMessage(err, '');
  setMessage($('policy-ok'), '');
  const raw = $('policy-editor').value;
  const { error } = parseEditor();
  if (error) {
    setMessage(err, `Not valid JSON: ${error}`);
    return;
  }
  const btn = $('policy-save');
  btn.disabled = true;
  try {
    // Send exactly what the operator wrote: the host validates it and its
    // message is shown verbatim.
    const res = await api('PUT', '/v1/network/policy', raw);
    if (res && res.network_controls !== undefined) setPolicy(res);
    else await loadPolicy();
    setMessage($('policy-ok'), 'Policy saved.');
  } catch (e) {
    setMessage(err, e.message);
  } finally {
    btn.disabled = false;
  }
}

// setProvider flips one managed provider in the editor (not saved yet).
function setProvider(name, on) {
  const { value, error } = parseEditor();
  if (error || !isObject(value)) {
    setMessage($('policy-error'), `Fix the JSON before using the switches: ${error || 'not an object'}`);
    renderDomains();
    return;
  }
  const mp = isObject(value.managed_ai_provider_network_access) ? value.managed_ai_provider_network_access : {};
  mp[name] = on;
  value.managed_ai_provider_network_access = mp;
  $('policy-editor').value = pretty(value);
  renderDomains();
}

async function checkURL(e) {
  e.preventDefault();
  const out = $('check-result');
  setMessage($('check-error'), '');
  out.hidden = true;
  try {
    const res = await api('POST', '/v1/network/policy/check', { method: $('check-method').value, url: $('check-url').value.trim() });
    out.className = res.decision === 'allowed' ? 'ok' : 'error';
    fill(out, h('strong', { id: 'check-decision' }, String(res.decision)),
      res.rule ? h('span', {}, ' by rule ', h('code', {}, res.rule)) : null,
      res.reason ? h('span', {}, ` — ${res.reason}`) : null);
    out.hidden = false;
  } catch (err) {
    setMessage($('check-error'), err.message);
  }
}

export function renderNetworkEvents(events) {
  const body = $('netlog-body');
  for (const ev of events.slice(-MAX_ROWS)) {
    const target = `${ev.protocol}://${ev.host}${ev.port ? `:${ev.port}` : ''}${ev.path || ''}${ev.query ? `?${ev.query}` : ''}`;
    const row = h('tr', { class: `decision-${ev.decision === 'allowed' ? 'allowed' : 'denied'}`, 'data-seq': ev.seq },
      h('td', {}, String(ev.seq)),
      h('td', { class: 'small' }, fmtTime(ev.timestamp)),
      h('td', {}, h('span', { class: `badge st-${ev.decision === 'allowed' ? 'active' : 'error'}` }, String(ev.decision))),
      h('td', {}, String(ev.method || '')),
      h('td', { class: 'mono wrap' }, target),
      h('td', { class: 'wrap' }, ev.reason || ''));
    body.insertBefore(row, body.firstChild);
  }
  while (body.childElementCount > MAX_ROWS) body.lastElementChild.remove();
}

export function resetNetwork() {
  $('netlog-body').replaceChildren();
  state.saved = '';
  $('policy-editor').value = '';
}

export function initNetwork() {
  $('policy-editor').addEventListener('input', renderDomains);
  $('policy-save').addEventListener('click', savePolicy);
  $('policy-reload').addEventListener('click', () => { setMessage($('policy-error'), ''); setMessage($('policy-ok'), ''); loadPolicy(); });
  $('policy-format').addEventListener('click', () => {
    const { value, error } = parseEditor();
    if (error) { setMessage($('policy-error'), `Not valid JSON: ${error}`); return; }
    $('policy-editor').value = pretty(value);
    renderDomains();
  });
  $('policy-openai').addEventListener('change', (e) => setProvider('openai', e.target.checked));
  $('policy-claude').addEventListener('change', (e) => setProvider('claude', e.target.checked));
  $('check-form').addEventListener('submit', checkURL);
  $('netlog-denied-only').addEventListener('change', (e) => {
    $('netlog-body').classList.toggle('denied-only', e.target.checked);
  });
}
