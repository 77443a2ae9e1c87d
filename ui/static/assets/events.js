// Agent events tab: the live feed of every agent event, newest first.
import { api } from './api.js';
import { $, h, fmtTime } from './dom.js';
import { openThread } from './threads.js';

const MAX_ROWS = 500;

// Every agent event type the API documents; the stream names its SSE
// events after them.
export const AGENT_EVENT_TYPES = [
  'task.started', 'task.message', 'task.completed', 'task.failed', 'task.cancelled',
  'agent_runtime.active', 'agent_runtime.login_completed', 'agent_runtime.deactivated',
];

async function openTaskThread(taskId, showTab) {
  try {
    const t = await api('GET', `/v1/tasks/${encodeURIComponent(taskId)}`);
    showTab('tasks');
    await openThread(t.thread_id);
  } catch {
    // The task may have been pruned; nothing to open.
  }
}

function payloadView(ev) {
  const p = ev.payload || {};
  if (ev.event_type === 'task.message') {
    return h('div', {},
      h('span', { class: 'label' }, p.source === 'user' ? 'user' : 'agent'),
      h('pre', { class: 'event-message' }, typeof p.message === 'string' ? p.message : JSON.stringify(p.message)));
  }
  if (p.error_message) return h('pre', { class: 'error' }, p.error_message);
  if (p.agent_runtime) return h('span', {}, p.agent_runtime);
  const s = JSON.stringify(p);
  return s && s !== '{}' ? h('code', {}, s) : null;
}

export function renderAgentEvents(events, showTab) {
  const body = $('events-body');
  // A replay after login can bring thousands; only the newest are kept.
  for (const ev of events.slice(-MAX_ROWS)) {
    const row = h('div', { class: `event ev-${ev.event_type.replace(/[^a-z_]/g, '-')}`, 'data-seq': ev.seq, 'data-type': ev.event_type },
      h('div', { class: 'event-head' },
        h('span', { class: 'muted small' }, `#${ev.seq} ${fmtTime(ev.timestamp)}`), ' ',
        h('strong', {}, ev.event_type), ' ',
        ev.task_id ? h('button', { type: 'button', class: 'link small', onclick: () => openTaskThread(ev.task_id, showTab) }, ev.task_id) : null),
      payloadView(ev));
    body.insertBefore(row, body.firstChild);
  }
  while (body.childElementCount > MAX_ROWS) body.lastElementChild.remove();
}

export function resetAgentEvents() {
  $('events-body').replaceChildren();
}

export function initAgentEvents() {
  $('events-messages-only').addEventListener('change', (e) => {
    $('events-body').classList.toggle('messages-only', e.target.checked);
  });
}
