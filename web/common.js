// Shared by the chat page and the dashboard: building elements without innerHTML, and
// calling the admin API with the bearer token.
'use strict';

/** h('div', {class: 'x', onclick: f}, child, 'text', ...) → an element. Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Only http(s) links (and data: images) are followed or loaded; anything else is shown as text. */
function safeUrl(url, allowDataImage) {
  if (typeof url !== 'string' || !url) return null;
  try {
    const u = new URL(url, location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
    if (allowDataImage && u.protocol === 'data:' && /^data:image\//.test(url)) return url;
  } catch (_) { /* not a URL */ }
  return null;
}

function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const today = new Date();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === today.toDateString() ? time : d.toLocaleDateString() + ' ' + time;
}

function fmtBytes(n) {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

/** Calls the admin API; resolves with the JSON body, rejects with an Error carrying `status` and `code`. */
async function adminFetch(path, token, options) {
  const opts = Object.assign({ method: 'GET' }, options || {});
  opts.headers = Object.assign({ Authorization: 'Bearer ' + token }, opts.headers || {});
  if (opts.json !== undefined) {
    opts.body = JSON.stringify(opts.json);
    opts.headers['Content-Type'] = 'application/json';
    delete opts.json;
  }
  const res = await fetch(path, opts);
  let body = null;
  try { body = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) {
    const err = new Error((body && body.message) || res.status + ' ' + res.statusText);
    err.status = res.status;
    err.code = body && body.code;
    throw err;
  }
  return body;
}
