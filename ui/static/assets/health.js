// Health panel: GET /v1/health, rendered as text.
import { $, h, fmtBytes, setMessage } from './dom.js';

function usage(used, total) {
  if (typeof used !== 'number' || typeof total !== 'number' || total <= 0) {
    return h('span', { class: 'muted' }, 'n/a');
  }
  const pct = Math.min(100, Math.max(0, (used / total) * 100));
  return h('span', {},
    h('meter', { min: 0, max: 100, value: pct.toFixed(1), high: 85, optimum: 10 }),
    ` ${fmtBytes(used)} / ${fmtBytes(total)} (${pct.toFixed(0)} %)`);
}

function statusBadge(status) {
  return h('span', { class: `badge st-${String(status).replace(/[^a-z_]/g, '')}` }, String(status || '?'));
}

export function renderHealth(hl) {
  const body = $('health-body');
  body.classList.remove('muted');
  const runtimes = (hl.agent_runtime && hl.agent_runtime.runtimes) || [];
  const host = hl.host_runtime || {};
  const fsys = host.filesystem || {};
  const mounts = fsys.mounts || {};
  const rows = [
    h('tr', {}, h('th', {}, 'Status'), h('td', { id: 'health-status' }, statusBadge(hl.status))),
    h('tr', {}, h('th', {}, 'Agent name'), h('td', { class: 'mono' }, hl.agent_name || '')),
    h('tr', {}, h('th', {}, 'Network controls'),
      h('td', { id: 'health-netctl' }, statusBadge(hl.network_controls && hl.network_controls.status))),
    ...runtimes.map((r) => h('tr', {},
      h('th', {}, `Runtime ${r.type}`),
      h('td', {}, statusBadge(r.status),
        r.error_message ? h('span', { class: 'error-inline' }, ` ${r.error_message}`) : null,
        (r.active_task_ids || []).length ? ` running: ${r.active_task_ids.join(', ')}` : null))),
    h('tr', {}, h('th', {}, 'CPU'),
      h('td', {}, host.cpu && typeof host.cpu.usage_percent === 'number'
        ? `${host.cpu.usage_percent.toFixed(1)} %` : 'n/a')),
    h('tr', {}, h('th', {}, 'Memory'),
      h('td', {}, usage(host.memory && host.memory.used_bytes, host.memory && host.memory.total_bytes))),
    ...['root', 'admin', 'agent'].filter((m) => mounts[m]).map((m) => h('tr', {},
      h('th', {}, `Disk ${m}`), h('td', {}, usage(mounts[m].used_bytes, mounts[m].total_bytes)))),
    !mounts.root ? h('tr', {}, h('th', {}, 'Disk'), h('td', {}, usage(fsys.used_bytes, fsys.total_bytes))) : null,
    h('tr', {}, h('th', {}, 'Swap'),
      h('td', {}, usage(host.swap && host.swap.used_bytes, host.swap && host.swap.allocated_bytes))),
  ];
  body.replaceChildren(h('table', { class: 'kv' }, h('tbody', {}, rows)));

  $('agent-name').textContent = hl.agent_name ? `· ${hl.agent_name}` : '';
  const badge = $('health-badge');
  badge.textContent = hl.status || '?';
  badge.className = `badge st-${String(hl.status).replace(/[^a-z_]/g, '')}`;
  badge.hidden = false;
  if (hl.agent_name) document.title = `TrustyClaw · ${hl.agent_name}`;
  setMessage($('health-error'), '');
}

export { statusBadge };
