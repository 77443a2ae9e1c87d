// Tasks tab: the composer, the thread list, the active queue and the
// thread view.
import { api, ApiError, enc } from './api.js';
import { $, h, fmtTime, fmtRelative, randomHex, setMessage, debounce } from './dom.js';
import { statusBadge } from './health.js';
import { TaskCard } from './taskcard.js';

const THREAD_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_INPUT = 50000;
const ACTIVE_PAGE = 100;
const ACTIVE_MAX = 1000;

const view = {
  threadId: '',
  cards: new Map(), // task_id -> TaskCard
  gen: 0,
};

const listOf = (data, key) => (data && Array.isArray(data[key]) ? data[key] : []);

// newThreadId: date plus 8 random hex digits, e.g. t-20250131-9f1c02ab.
export function newThreadId() {
  const d = new Date();
  const ymd = `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
  return `t-${ymd}-${randomHex(4)}`;
}

function showError(id, e) {
  if (e instanceof ApiError && e.status === 401) return;
  setMessage($(id), e ? e.message : '');
}

export async function refreshThreads() {
  try {
    const threads = listOf(await api('GET', '/v1/threads'), 'threads');
    const body = $('threads-body');
    body.classList.remove('muted');
    if (!threads.length) {
      body.replaceChildren(h('p', { class: 'muted' }, 'No threads yet.'));
    } else {
      body.replaceChildren(h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, h('th', {}, 'thread'), h('th', {}, 'runtime'), h('th', {}, 'tasks'), h('th', {}, 'active'), h('th', {}, 'last used'))),
        h('tbody', {}, threads.map((t) => h('tr', { class: t.thread_id === view.threadId ? 'selected' : null },
          h('td', {}, h('button', { type: 'button', class: 'link thread-link', 'data-thread-id': t.thread_id, onclick: () => openThread(t.thread_id) }, t.thread_id)),
          h('td', {}, t.agent_runtime || ''),
          h('td', {}, String(t.task_count ?? '')),
          h('td', {}, (t.active_tasks || []).map((a) => statusBadge(a.status))),
          h('td', { title: fmtTime(t.last_used_at) }, fmtRelative(t.last_used_at)))))));
    }
    showError('threads-error', null);
  } catch (e) {
    showError('threads-error', e);
  }
}

export async function refreshActive() {
  try {
    const all = [];
    let last = '';
    for (;;) {
      const q = `limit=${ACTIVE_PAGE}${last ? `&last_seen_task_id=${enc(last)}` : ''}`;
      const page = listOf(await api('GET', `/v1/tasks?${q}`), 'tasks');
      all.push(...page);
      if (page.length < ACTIVE_PAGE || all.length >= ACTIVE_MAX) break;
      last = page[page.length - 1].task_id;
    }
    const body = $('active-body');
    body.classList.remove('muted');
    body.replaceChildren(all.length
      ? h('table', { class: 'list' }, h('tbody', {}, all.map((t) => h('tr', {},
        h('td', {}, String(t.queue_position ?? '')),
        h('td', {}, statusBadge(t.status)),
        h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => openThread(t.thread_id) }, t.thread_id)),
        h('td', { class: 'muted small' }, t.agent_runtime || '')))))
      : h('p', { class: 'muted' }, 'Nothing running or queued.'));
  } catch (e) {
    showError('threads-error', e);
  }
}

export async function openThread(threadId) {
  if (threadId !== view.threadId) {
    view.threadId = threadId;
    view.cards = new Map();
    $('thread-tasks').replaceChildren();
    $('composer-thread').value = threadId;
  }
  $('thread-title').textContent = threadId;
  $('thread-empty').hidden = true;
  for (const b of document.querySelectorAll('.thread-link')) {
    b.closest('tr').classList.toggle('selected', b.dataset.threadId === threadId);
  }
  await refreshThreadView();
}

export async function refreshThreadView() {
  const threadId = view.threadId;
  if (!threadId) return;
  const gen = ++view.gen;
  try {
    const tasks = listOf(await api('GET', `/v1/threads/${enc(threadId)}/tasks`), 'tasks');
    if (gen !== view.gen || threadId !== view.threadId) return;
    const list = $('thread-tasks');
    const order = [];
    for (const t of tasks) {
      let card = view.cards.get(t.task_id);
      if (card) card.update(t);
      else {
        card = new TaskCard(t, scheduleRefresh);
        view.cards.set(t.task_id, card);
      }
      order.push(card.el);
    }
    // Reorder only when needed, so a focused textarea keeps its focus.
    const same = order.length === list.children.length && order.every((el, i) => list.children[i] === el);
    if (!same) list.replaceChildren(...order);
    if (tasks.length && tasks[0].agent_runtime) $('composer-runtime').value = tasks[0].agent_runtime;
    showError('thread-error', null);
  } catch (e) {
    if (gen === view.gen) showError('thread-error', e);
  }
}

const refreshLists = debounce(() => { refreshThreads(); refreshActive(); }, 300);
const refreshView = debounce(() => refreshThreadView(), 200);

export function scheduleRefresh() {
  refreshView();
  refreshLists();
}

// onAgentEvents feeds live events into the open thread view.
export function onAgentEvents(events) {
  let stale = false;
  for (const ev of events) {
    if (!ev.task_id) continue;
    const card = view.cards.get(ev.task_id);
    if (card) card.addEvents([ev]);
    if (!card || ev.event_type !== 'task.message') stale = true;
  }
  if (stale) scheduleRefresh();
}

export function resetThreads() {
  view.threadId = '';
  view.cards = new Map();
  view.gen++;
  $('thread-tasks').replaceChildren();
  $('thread-title').textContent = '';
  $('thread-empty').hidden = false;
}

function updateCount() {
  const n = $('composer-input').value.length;
  $('composer-count').textContent = `${n} / ${MAX_INPUT}`;
}

export function initThreads() {
  $('composer-thread').value = newThreadId();
  $('composer-new-thread').addEventListener('click', () => {
    $('composer-thread').value = newThreadId();
    resetThreads();
  });
  $('composer-input').addEventListener('input', updateCount);
  $('threads-refresh').addEventListener('click', () => { refreshThreads(); refreshActive(); });
  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const threadId = $('composer-thread').value.trim();
    const input = $('composer-input').value;
    const runtime = $('composer-runtime').value;
    const err = $('composer-error');
    if (!THREAD_ID.test(threadId)) {
      setMessage(err, 'Thread id: 1–128 characters of A–Z a–z 0–9 . _ : -');
      return;
    }
    if (!input.trim()) { setMessage(err, 'Write the task first.'); return; }
    setMessage(err, '');
    const btn = $('composer-submit');
    btn.disabled = true;
    try {
      await api('POST', '/v1/tasks', { agent_runtime: runtime, input_message: input, thread_id: threadId });
      $('composer-input').value = '';
      updateCount();
      await openThread(threadId);
      refreshLists();
    } catch (e2) {
      showError('composer-error', e2);
    } finally {
      btn.disabled = false;
    }
  });
  updateCount();
}
