// DOM helpers. Every piece of text from the API (agent messages, thread
// ids, error messages, hosts) is untrusted: it only ever reaches the page
// as a text node or an attribute value, never as markup: this UI has no
// HTML-parsing sink at all (the package tests check for them).

export const $ = (id) => document.getElementById(id);

// h builds an element. String and number children become text nodes;
// null/undefined/false children are skipped; arrays are flattened.
// Attribute names come from this code only; values may be untrusted.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new Error(`h: ${k} must be a function`);
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'href') {
      const safe = safeHttpURL(v);
      if (safe) el.setAttribute('href', safe);
    } else if (k === 'value') {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

// fill replaces el's children, with the same rules as h.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// safeHttpURL returns the URL if it is absolute http(s), else null, so a
// login URL from the host can never become a javascript: link.
export function safeHttpURL(u) {
  try {
    const url = new URL(String(u));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

export function show(el, on = true) { el.hidden = !on; }

// setMessage shows text in an error/notice element, or hides it when text
// is empty. The text is shown verbatim.
export function setMessage(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toLocaleString();
}

// fmtRelative: "in 4 min" / "2 h ago" relative to now.
export function fmtRelative(s, now = Date.now()) {
  const t = new Date(s).getTime();
  if (isNaN(t)) return '';
  const secs = Math.round((t - now) / 1000);
  const abs = Math.abs(secs);
  let txt;
  if (abs < 60) txt = `${abs} s`;
  else if (abs < 3600) txt = `${Math.round(abs / 60)} min`;
  else if (abs < 86400) txt = `${Math.round(abs / 3600)} h`;
  else txt = `${Math.round(abs / 86400)} d`;
  return secs >= 0 ? `in ${txt}` : `${txt} ago`;
}

// randomHex returns n random bytes as hex (crypto.getRandomValues).
export function randomHex(n) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// debounce runs fn once, ms after the last call.
export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// confirmAction opens the shared confirmation dialog; resolves true only
// when the operator presses Confirm.
export function confirmAction(text, okLabel = 'Confirm') {
  const dlg = $('confirm-dialog');
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    const done = (ok) => {
      $('confirm-ok').removeEventListener('click', onOk);
      $('confirm-cancel').removeEventListener('click', onCancel);
      dlg.removeEventListener('cancel', onCancel);
      if (dlg.open) dlg.close();
      resolve(ok);
    };
    const onOk = () => done(true);
    const onCancel = () => done(false);
    $('confirm-ok').addEventListener('click', onOk);
    $('confirm-cancel').addEventListener('click', onCancel);
    dlg.addEventListener('cancel', onCancel);
    dlg.showModal();
    $('confirm-cancel').focus();
  });
}
