// LiveFeed follows a seq-ordered event log: Server-Sent Events from
// streamPath when the host offers them, else polling pollPath. Events are
// delivered in seq order, each at most once (the stream may replay after a
// reconnect). EventSource sends the session cookie (same origin).
import { api, ApiError } from './api.js';

const POLL_MS = 2500;        // poll period when caught up
const SSE_RETRY_MS = 30000;  // while polling, try the stream again this often
const PAGE = 100;
const FLUSH_MS = 40;         // batch stream events for rendering

export class LiveFeed {
  // opts: streamPath, pollPath, listKey ("events"), eventNames (SSE event
  // names to listen for besides "message"), onEvents(list), onState(text).
  constructor(opts) {
    this.o = opts;
    this.lastSeq = 0;
    this.gen = 0;
    this.es = null;
    this.timer = null;
    this.polling = null;
    this.wake = null;
    this.retryTimer = null;
    this.pending = [];
    this.flushTimer = null;
  }

  start(since = 0) {
    this.stop();
    this.lastSeq = since;
    this.openStream(++this.gen);
  }

  stop() {
    this.gen++;
    if (this.es) { this.es.close(); this.es = null; }
    clearTimeout(this.timer);
    const wake = this.wake;
    this.wake = null;
    if (wake) wake(); // lets a sleeping poll loop see it is stale and end
    clearTimeout(this.retryTimer);
    clearTimeout(this.flushTimer);
    this.timer = this.retryTimer = this.flushTimer = null;
    this.pending = [];
  }

  state(text) { if (this.o.onState) this.o.onState(text); }

  openStream(gen) {
    if (typeof EventSource === 'undefined') { this.poll(gen); return; }
    const es = new EventSource(`${this.o.streamPath}?since=${this.lastSeq}`);
    this.es = es;
    const onMsg = (e) => {
      if (gen !== this.gen) return;
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (ev && typeof ev.seq !== 'number' && e.lastEventId) ev.seq = Number(e.lastEventId);
      this.pending.push(ev);
      if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(gen), FLUSH_MS);
    };
    for (const name of ['message', ...(this.o.eventNames || [])]) es.addEventListener(name, onMsg);
    es.addEventListener('open', () => {
      if (gen !== this.gen) return;
      this.state('live');
    });
    es.addEventListener('error', () => {
      if (gen !== this.gen) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (404 when the host has no stream, 401 when the session
        // ended): fall back to polling, which reports a 401 properly.
        this.es = null;
        this.flush(gen);
        this.state('polling');
        this.poll(gen);
        this.retryTimer = setTimeout(() => {
          if (gen === this.gen && !this.es) this.openStream(gen);
        }, SSE_RETRY_MS);
      } else {
        this.state('reconnecting…');
      }
    });
  }

  flush(gen) {
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (gen !== this.gen) return;
    const list = this.pending;
    this.pending = [];
    this.deliver(list);
  }

  deliver(list) {
    const fresh = list
      .filter((ev) => ev && typeof ev.seq === 'number' && ev.seq > this.lastSeq)
      .sort((a, b) => a.seq - b.seq);
    const out = [];
    for (const ev of fresh) {
      if (ev.seq <= this.lastSeq) continue;
      this.lastSeq = ev.seq;
      out.push(ev);
    }
    if (out.length) this.o.onEvents(out);
  }

  streamOpen() { return !!(this.es && this.es.readyState === EventSource.OPEN); }

  // poll runs one polling loop per generation until the stream is open.
  async poll(gen) {
    if (this.polling === gen) return;
    this.polling = gen;
    while (gen === this.gen && !this.streamOpen()) {
      let delay = POLL_MS;
      try {
        const data = await api('GET', `${this.o.pollPath}?since=${this.lastSeq}&limit=${PAGE}`);
        if (gen !== this.gen) break;
        const items = (data && data[this.o.listKey]) || [];
        this.deliver(items);
        if (!this.es) this.state('polling');
        if (items.length >= PAGE) delay = 0; // catching up
      } catch (e) {
        if (gen !== this.gen) break;
        if (e instanceof ApiError && e.status === 401) break; // the app shows the login
        this.state(`offline: ${e.message}`);
        delay = POLL_MS * 2;
      }
      await new Promise((r) => { this.wake = r; this.timer = setTimeout(r, delay); });
    }
    if (this.polling === gen) this.polling = null;
  }
}
