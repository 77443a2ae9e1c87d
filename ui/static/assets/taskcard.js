// One task in the thread view: its input, status, result, the actions its
// status allows, and its messages (loaded on demand, then kept live).
import { api, enc, pages } from './api.js';
import { fill, h, fmtTime, setMessage, confirmAction } from './dom.js';
import { statusBadge } from './health.js';

const MAX_MESSAGES = 2000;

export class TaskCard {
  // onChanged is called after an action that changes the task.
  constructor(task, onChanged) {
    this.id = task.task_id;
    this.onChanged = onChanged;
    this.task = null;
    this.lastSeq = 0;
    this.loaded = false;
    this.loading = false;
    this.editing = false;

    this.badge = h('span');
    this.meta = h('span', { class: 'muted small' });
    this.inputPre = h('pre', { class: 'input' });
    this.result = h('div');
    this.actions = h('div', { class: 'actions' });
    this.error = h('p', { class: 'error', hidden: true });
    this.notice = h('p', { class: 'ok', hidden: true });
    this.msgs = h('div', { class: 'msgs' });
    this.details = h('details', { class: 'messages', ontoggle: () => { if (this.details.open) this.loadMessages(); } },
      h('summary', {}, 'Messages'), this.msgs);
    this.el = h('div', { class: 'task', 'data-task-id': this.id },
      h('div', { class: 'task-head' }, this.badge, ' ', h('code', { class: 'small' }, this.id), ' ', this.meta),
      this.inputPre, this.result, this.actions, this.error, this.notice, this.details);
    this.update(task);
  }

  update(t) {
    const prev = this.task;
    this.task = t;
    this.el.dataset.status = t.status;
    if (!prev || prev.status !== t.status) {
      this.badge.replaceChildren(statusBadge(t.status));
      this.editing = false;
      this.renderActions();
      if (t.status === 'running' && !this.details.open) this.details.open = true;
    }
    this.meta.textContent = `${t.agent_runtime} · created ${fmtTime(t.created_at)} · updated ${fmtTime(t.updated_at)}`;
    if (!this.editing) this.inputPre.textContent = t.input_message || '';
    fill(this.result,
      t.output_message ? h('div', {}, h('div', { class: 'label' }, 'Output'), h('pre', { class: 'output' }, t.output_message)) : null,
      t.error_message ? h('div', {}, h('div', { class: 'label' }, 'Error'), h('pre', { class: 'error task-error' }, t.error_message)) : null);
  }

  async act(fn, okText) {
    setMessage(this.error, '');
    setMessage(this.notice, '');
    for (const b of this.actions.querySelectorAll('button')) b.disabled = true;
    try {
      await fn();
      if (okText) setMessage(this.notice, okText);
      this.onChanged();
    } catch (e) {
      setMessage(this.error, e.message);
    } finally {
      for (const b of this.actions.querySelectorAll('button')) b.disabled = false;
    }
  }

  renderActions() {
    const id = enc(this.id);
    const t = this.task;
    const nodes = [];
    if (t.status === 'queued' && this.editing) {
      const ta = h('textarea', { rows: 4, class: 'edit-input', value: t.input_message || '' });
      nodes.push(ta, h('div', { class: 'row' },
        h('button', {
          type: 'button', class: 'save-edit',
          onclick: () => this.act(async () => {
            const updated = await api('PUT', `/v1/tasks/${id}`, { input_message: ta.value });
            this.editing = false;
            this.renderActions();
            if (updated && updated.task_id) this.update(updated);
          }, 'Saved.'),
        }, 'Save'),
        h('button', { type: 'button', onclick: () => { this.editing = false; this.renderActions(); } }, 'Discard')));
    } else if (t.status === 'queued') {
      nodes.push(h('div', { class: 'row' },
        h('button', { type: 'button', class: 'edit', onclick: () => { this.editing = true; this.renderActions(); } }, 'Edit'),
        h('button', {
          type: 'button', class: 'cancel danger',
          onclick: async () => {
            if (!await confirmAction(`Cancel queued task ${this.id}?`, 'Cancel task')) return;
            this.act(() => api('POST', `/v1/tasks/${id}/cancel`), 'Cancelled.');
          },
        }, 'Cancel task')));
    } else if (t.status === 'running') {
      const ta = h('textarea', { rows: 2, class: 'steer-input', placeholder: 'Steer the running turn…' });
      nodes.push(ta, h('div', { class: 'row' },
        h('button', {
          type: 'button', class: 'steer',
          onclick: () => {
            if (!ta.value.trim()) { setMessage(this.error, 'Write a steer message first.'); return; }
            this.act(async () => {
              await api('POST', `/v1/tasks/${id}/steer`, { steer_message: ta.value });
              ta.value = '';
            }, 'Steer accepted.');
          },
        }, 'Steer'),
        h('button', {
          type: 'button', class: 'kill danger',
          onclick: async () => {
            if (!await confirmAction(`Kill the running task ${this.id}? The thread survives.`, 'Kill')) return;
            this.act(() => api('POST', `/v1/tasks/${id}/kill`), 'Kill requested.');
          },
        }, 'Kill')));
    }
    this.actions.replaceChildren(...nodes);
  }

  async loadMessages() {
    if (this.loaded || this.loading) return;
    this.loading = true;
    try {
      const evs = await pages(`/v1/tasks/${enc(this.id)}/events`, 'events', 0, MAX_MESSAGES);
      this.loaded = true;
      this.addEvents(evs.concat(this.early || []).sort((a, b) => a.seq - b.seq));
      this.early = null;
      if (!evs.length) this.msgs.replaceChildren(h('p', { class: 'muted none' }, 'No messages yet.'));
    } catch (e) {
      this.early = null;
      setMessage(this.error, e.message);
    } finally {
      this.loading = false;
    }
  }

  // addEvents appends events of this task (from the history or the live
  // feed), each once, in seq order.
  addEvents(evs) {
    if (!this.loaded) {
      // While the history loads, keep live events; afterwards the two are
      // merged by seq. Before a load starts, the history brings them.
      if (this.loading) (this.early = this.early || []).push(...evs);
      return;
    }
    for (const ev of evs) {
      if (ev.seq <= this.lastSeq) continue;
      this.lastSeq = ev.seq;
      const none = this.msgs.querySelector('.none');
      if (none) none.remove();
      this.msgs.appendChild(renderTaskEvent(ev));
    }
    while (this.msgs.childElementCount > MAX_MESSAGES) this.msgs.firstElementChild.remove();
  }
}

export function renderTaskEvent(ev) {
  const p = ev.payload || {};
  if (ev.event_type === 'task.message') {
    const src = p.source === 'user' ? 'user' : 'agent';
    return h('div', { class: `msg src-${src}`, 'data-seq': ev.seq },
      h('div', { class: 'label' }, `${src} · ${fmtTime(ev.timestamp)}`),
      h('pre', {}, typeof p.message === 'string' ? p.message : JSON.stringify(p.message)));
  }
  return h('div', { class: 'msg sys', 'data-seq': ev.seq },
    h('span', { class: 'label' }, `${ev.event_type} · ${fmtTime(ev.timestamp)}`),
    p.error_message ? h('pre', { class: 'error' }, p.error_message) : null);
}
