// The chat page: a client of the hub's WebSocket protocol (docs/hub-protocol.md).
// One tab is one hub user; the token is kept in sessionStorage, so a reload stays logged in
// and other tabs may log in as someone else.
'use strict';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------
// The socket: requests with `req`, answers matched to them, pushed frames to `onPush`.

class HubSocket {
  constructor(token, onPush, onDown) {
    this.token = token;
    this.onPush = onPush;
    this.onDown = onDown;
    this.pending = new Map();
    this.nextReq = 1;
    this.ws = null;
  }

  /** Opens the socket and logs in; resolves with the user, rejects with the hub's error. */
  open() {
    return new Promise((resolve, reject) => {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(scheme + '//' + location.host + '/hub/ws');
      this.ws = ws;
      let loggedIn = false;
      ws.onopen = () => {
        this.request({ type: 'login', token: this.token }).then(
          (answer) => { loggedIn = true; resolve(answer.user); },
          reject,
        );
      };
      ws.onmessage = (e) => {
        let frame;
        try { frame = JSON.parse(e.data); } catch (_) { return; }
        const waiting = frame.req !== undefined && this.pending.get(frame.req);
        if (waiting) {
          this.pending.delete(frame.req);
          if (frame.type === 'error') {
            const err = new Error(frame.message);
            err.code = frame.code;
            waiting.reject(err);
          } else {
            waiting.resolve(frame);
          }
        } else {
          this.onPush(frame);
        }
      };
      ws.onclose = (e) => {
        for (const p of this.pending.values()) p.reject(new Error('disconnected'));
        this.pending.clear();
        if (!loggedIn) {
          const err = new Error(e.code === 4001 ? 'unknown or invalid token' : 'cannot reach the hub');
          err.code = e.code === 4001 ? 'unauthorized' : 'offline';
          reject(err);
        } else if (this.ws === ws) {
          this.onDown(e);
        }
      };
    });
  }

  request(frame) {
    const req = 'w' + this.nextReq++;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      this.pending.set(req, { resolve, reject });
      this.ws.send(JSON.stringify(Object.assign({}, frame, { req })));
    });
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
  }
}

// ---------------------------------------------------------------------------------------
// State

const state = {
  hub: null,
  me: null,            // {id, name}
  convs: new Map(),    // key → {conversation, name, last, unread}
  current: null,       // key of the open conversation
  shown: new Map(),    // server id → <li> of the open conversation
  group: null,         // group_info of the open group
  names: new Map(),    // user id → display name
  read: {},            // key → the last seq this tab marked read
  typingSent: 0,       // when this tab last told the peer it is typing
  typingTimer: null,   // clears the peer's "typing…"
  receiptTimer: null,  // debounces read_by
  // The open conversation's view: its first page (messages arriving before it are kept in
  // `early`), and paging back (`before`: the oldest seq shown, `more`: older ones remain).
  view: { key: null, ready: false, early: [], before: 0, more: false, loading: false },
};

/** Messages per page of history: on opening a conversation, and each time older ones load. */
const HISTORY_PAGE = 50;

const keyOf = (c) => c.kind + ':' + c.id;
const convOf = (key) => {
  const i = key.indexOf(':');
  return { kind: key.slice(0, i), id: key.slice(i + 1) };
};
const nameOf = (id) => state.names.get(id) || id;

/** Moves the hub's read mark (its `conversations` unread counts follow it). */
function markRead(key, seq) {
  if (!seq || (state.read[key] || 0) >= seq) return;
  state.read[key] = seq;
  state.hub.request({ type: 'mark_read', conversation: convOf(key), up_to_seq: seq }).catch(() => {});
}

function showError(where, err) {
  const el = $(where);
  el.textContent = err ? (err.code ? err.code + ': ' : '') + (err.message || err) : '';
}

// ---------------------------------------------------------------------------------------
// Rendering content

/** Text with @mentions highlighted (those the message names, and @all when mention_all). */
function renderText(c) {
  const mentions = new Set(c.mentions || []);
  const out = h('span', { class: 'text' });
  const re = /@([A-Za-z0-9_.-]+)/g;
  let last = 0;
  let m;
  while ((m = re.exec(c.text)) !== null) {
    const who = m[1];
    if (mentions.has(who) || (who === 'all' && c.mention_all)) {
      out.append(c.text.slice(last, m.index), h('span', { class: 'mention', title: nameOf(who) }, m[0]));
      last = m.index + m[0].length;
    }
  }
  out.append(c.text.slice(last));
  if (c.mention_all && !/@all\b/.test(c.text)) out.prepend(h('span', { class: 'mention' }, '@all'), ' ');
  return out;
}

function link(url, label) {
  const safe = safeUrl(url);
  return safe ? h('a', { href: safe, target: '_blank', rel: 'noopener noreferrer' }, label || url) : h('span', {}, label || url);
}

function renderContent(c) {
  switch (c && c.kind) {
    case 'text':
      return renderText(c);
    case 'image': {
      const src = safeUrl(c.url, true);
      return src
        ? h('a', { href: src, target: '_blank', rel: 'noopener noreferrer' },
          h('img', { src: safeUrl(c.thumbnail_url, true) || src, alt: c.name || 'image', loading: 'lazy', width: c.width, height: c.height }))
        : h('span', {}, '🖼 ' + (c.name || c.url));
    }
    case 'audio': {
      const src = safeUrl(c.url);
      return h('span', {}, '🔊 ', src ? h('audio', { controls: true, preload: 'none', src }) : c.url,
        c.duration_ms ? ' ' + Math.round(c.duration_ms / 1000) + ' s' : '');
    }
    case 'video': {
      const src = safeUrl(c.url);
      return src ? h('video', { controls: true, preload: 'none', src, poster: safeUrl(c.thumbnail_url) }) : h('span', {}, '🎬 ' + c.url);
    }
    case 'file':
      return h('span', {}, '📎 ', link(c.url, c.name || c.url.split('/').pop() || c.url),
        c.size !== undefined ? h('span', { class: 'muted' }, ' (' + fmtBytes(c.size) + ')') : '');
    case 'location': {
      const where = c.latitude.toFixed(5) + ', ' + c.longitude.toFixed(5);
      const map = 'https://www.openstreetmap.org/?mlat=' + c.latitude + '&mlon=' + c.longitude + '#map=16/' + c.latitude + '/' + c.longitude;
      return h('span', {}, '📍 ', h('strong', {}, c.title || 'Location'), ' ',
        c.address ? h('span', {}, c.address, ' ') : '', link(map, where));
    }
    case 'face':
      return h('span', { title: 'face ' + c.index }, '😀 [face ' + c.index + ']');
    case 'card': {
      const img = safeUrl(c.image_url, true);
      return h('div', { class: 'cardbox' },
        h('strong', {}, c.link ? link(c.link, c.title) : c.title),
        c.text ? h('div', {}, c.text) : '',
        img ? h('img', { src: img, alt: '', loading: 'lazy' }) : '');
    }
    case 'forward':
      return h('div', { class: 'forward' },
        h('div', { class: 'muted' }, '↪ ' + (c.title || 'Forwarded messages')),
        (c.messages || []).map((m) => h('div', {}, h('strong', {}, nameOf(m.sender) + ': '), renderContent(m.content))));
    case 'mixed':
      return h('span', {}, (c.segments || []).map((s) => [renderContent(s), ' ']));
    case 'custom':
      return h('div', {}, h('span', { class: 'muted' }, '⚙ custom ' + (c.type || '') + (c.description ? ': ' + c.description : '')),
        h('pre', {}, JSON.stringify(c.data, null, 2)));
    default:
      return h('pre', {}, JSON.stringify(c, null, 2));
  }
}

/** A one-line summary for the conversation list. */
function summary(c) {
  if (!c) return '';
  switch (c.kind) {
    case 'text': return c.text;
    case 'image': return '🖼 image';
    case 'audio': return '🔊 audio';
    case 'video': return '🎬 video';
    case 'file': return '📎 ' + (c.name || 'file');
    case 'location': return '📍 ' + (c.title || 'location');
    case 'face': return '😀';
    case 'card': return '🗂 ' + c.title;
    case 'forward': return '↪ ' + (c.title || 'forwarded');
    case 'mixed': return (c.segments || []).map(summary).join(' ');
    case 'custom': return '⚙ ' + (c.description || c.type);
    default: return c.kind;
  }
}

// ---------------------------------------------------------------------------------------
// Conversation list

/** Pinned first, then the most recently active (as the hub lists them). */
function byPinThenActivity(a, b) {
  if (!!a.pinned !== !!b.pinned) return a.pinned ? -1 : 1;
  return ((b.last && b.last.id.seq) || 0) - ((a.last && a.last.id.seq) || 0);
}

function renderConversations() {
  const list = $('conversations');
  const convs = [...state.convs.values()].sort(byPinThenActivity);
  list.replaceChildren(...convs.map((v) => {
    const key = keyOf(v.conversation);
    const last = v.last;
    // The icons are CSS masks (style.css), so they show without an emoji font.
    const toggle = (action, on, labels) => h('button', {
      type: 'button', class: 'icon ' + action, dataset: { action }, 'aria-pressed': on ? 'true' : 'false',
      title: on ? labels[1] : labels[0], 'aria-label': (on ? labels[1] : labels[0]) + ' ' + v.name,
      onclick: (e) => { e.stopPropagation(); setConversation(key, { [action === 'pin' ? 'pinned' : 'muted']: !on }); },
    });
    return h('li', {
      class: 'conv' + (v.pinned ? ' is-pinned' : '') + (v.muted ? ' is-muted' : ''),
      'aria-current': key === state.current ? 'true' : 'false', dataset: { key },
      onclick: () => openConversation(v.conversation),
    },
    h('span', { class: 'name' }, (v.conversation.kind === 'group' ? '# ' : '') + v.name,
      v.pinned ? h('span', { class: 'flag pin', title: 'Pinned', role: 'img', 'aria-label': 'pinned' }) : '',
      v.muted ? h('span', { class: 'flag mute', title: 'Muted: no unread count in the title', role: 'img', 'aria-label': 'muted' }) : ''),
    h('span', { class: 'time' }, last ? fmtTime(last.time_ms) : ''),
    h('span', { class: 'last' }, last ? (last.sender === state.me.id ? 'You: ' : (v.conversation.kind === 'group' ? nameOf(last.sender) + ': ' : '')) + summary(last.content) : 'no messages yet'),
    h('span', { class: 'end' },
      v.unread ? h('span', { class: 'badge' + (v.muted ? ' muted' : ''), title: v.unread + ' unread' }, v.unread > 99 ? '99+' : String(v.unread)) : '',
      toggle('pin', v.pinned, ['Pin', 'Unpin']),
      toggle('mute', v.muted, ['Mute', 'Unmute'])));
  }));
  if (!convs.length) list.append(h('li', { class: 'muted' }, 'none yet: open one above'));
  updateTitle();
}

/** "(3) Parley · Alice": the unread messages of the conversations that are not muted. */
function updateTitle() {
  if (!state.me) return;
  let unread = 0;
  for (const v of state.convs.values()) if (!v.muted) unread += v.unread || 0;
  document.title = (unread ? '(' + unread + ') ' : '') + 'Parley · ' + state.me.name;
}

/** Pins or mutes a conversation on the hub (`set_conversation`), for every tab of this user. */
async function setConversation(key, change) {
  try {
    await state.hub.request(Object.assign({ type: 'set_conversation', conversation: convOf(key) }, change));
    showError('side-error', null);
    const v = state.convs.get(key);
    if (v) Object.assign(v, change);
    renderConversations();
  } catch (err) {
    showError('side-error', err);
  }
}

async function loadConversations() {
  const answer = await state.hub.request({ type: 'conversations' });
  const fresh = new Map();
  for (const c of answer.conversations) {
    const key = keyOf(c.conversation);
    if (c.conversation.kind === 'direct') state.names.set(c.conversation.id, c.name);
    fresh.set(key, {
      conversation: c.conversation, name: c.name, last: c.last_message,
      unread: key === state.current ? 0 : c.unread || 0, pinned: !!c.pinned, muted: !!c.muted,
    });
  }
  // Conversations opened here but without messages yet stay listed.
  for (const [key, v] of state.convs) if (!fresh.has(key) && v.conversation.kind === 'direct') fresh.set(key, v);
  state.convs = fresh;
  renderConversations();
}

// ---------------------------------------------------------------------------------------
// The open conversation

function messageItem(m) {
  const mine = m.sender === state.me.id;
  const li = h('li', { class: 'msg' + (mine ? ' mine' : ''), dataset: { id: m.id.id, seq: m.id.seq, sender: m.sender } });
  const meta = h('div', { class: 'meta' },
    h('strong', {}, mine ? 'You' : nameOf(m.sender)),
    h('time', { datetime: new Date(m.time_ms).toISOString() }, fmtTime(m.time_ms)));
  if (canRecall(m)) {
    meta.append(h('button', { class: 'quiet', title: 'Recall for everyone', onclick: () => recall(m) }, 'Recall'));
  }
  li.append(meta, h('div', { class: 'body' }, renderContent(m.content)));
  return li;
}

function canRecall(m) {
  if (m.sender === state.me.id) return Date.now() - m.time_ms < 120000;
  const g = state.group;
  if (!g || m.conversation.kind !== 'group' || !g.members) return false;
  const rank = (id) => { const r = (g.members.find((x) => x.id === id) || {}).role; return r === 'owner' ? 2 : r === 'admin' ? 1 : 0; };
  return rank(state.me.id) > rank(m.sender);
}

function appendMessage(m) {
  if (m.content.kind === 'command' || state.shown.has(m.id.id)) return;
  const list = $('messages');
  const empty = list.querySelector('.empty');
  if (empty) empty.remove();
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const li = messageItem(m);
  state.shown.set(m.id.id, li);
  // Keep seq order even if an answer and a push cross.
  const after = [...list.querySelectorAll('.msg')].find((x) => Number(x.dataset.seq) > m.id.seq);
  list.insertBefore(li, after || null);
  if (atBottom || m.sender === state.me.id) list.scrollTop = list.scrollHeight;
}

function appendNotice(text) {
  const list = $('messages');
  const empty = list.querySelector('.empty');
  if (empty) empty.remove();
  list.append(h('li', { class: 'notice' }, text));
  list.scrollTop = list.scrollHeight;
}

async function openConversation(conversation) {
  const key = keyOf(conversation);
  state.current = key;
  state.shown.clear();
  state.group = null;
  showError('chat-error', null);
  clearTimeout(state.typingTimer);
  if (!state.convs.has(key)) {
    state.convs.set(key, { conversation, name: conversation.id, last: null, unread: 0, pinned: false, muted: false });
  }
  const v = state.convs.get(key);
  v.unread = 0;
  renderConversations();
  $('chat-title').textContent = (conversation.kind === 'group' ? '# ' : '') + v.name;
  $('chat-sub').textContent = conversation.kind === 'group' ? conversation.id : '@' + conversation.id;
  $('messages').replaceChildren(h('li', { class: 'empty' }, 'Loading…'));
  $('text').disabled = false;
  $('send').disabled = false;
  $('text').focus();
  $('group-panel').hidden = true;
  // Opening it again (a second click) starts a new view; the older one's answers are dropped.
  const view = { key, ready: false, early: [], before: 0, more: false, loading: false };
  state.view = view;
  if (conversation.kind === 'group') await loadGroup(conversation.id);
  try {
    const page = await state.hub.request({ type: 'history', conversation, limit: HISTORY_PAGE });
    if (state.view !== view) return;
    view.ready = true;
    state.shown.clear();
    $('messages').replaceChildren();
    for (const m of page.messages.concat(view.early)) appendMessage(m);
    if (!page.messages.length) $('messages').append(h('li', { class: 'empty' }, 'No messages yet. Say hello!'));
    setOlder(page);
    const last = page.messages[page.messages.length - 1];
    if (last) markRead(key, last.id.seq);
    refreshReceipt();
    $('messages').scrollTop = $('messages').scrollHeight;
  } catch (err) {
    if (state.view !== view) return;
    view.ready = true; // later messages are shown as they come
    $('messages').replaceChildren(h('li', { class: 'empty' }, 'Cannot open this conversation.'));
    showError('chat-error', err);
  }
}

/**
 * After a page of history: remembers where the next older page starts, and puts the
 * "Load older messages" button (or the start of the conversation) at the top of the list.
 */
function setOlder(page) {
  const list = $('messages');
  const first = page.messages[0];
  if (first) state.view.before = first.id.seq;
  state.view.more = !!page.has_more && !!first;
  for (const el of list.querySelectorAll('.history-more, .history-start')) el.remove();
  if (state.view.more) {
    list.prepend(h('li', { class: 'history-more' },
      h('button', { type: 'button', class: 'quiet', onclick: () => loadOlder() }, 'Load older messages')));
  } else if (list.querySelector('.msg')) {
    list.prepend(h('li', { class: 'history-start' }, 'Start of the conversation'));
  }
}

/** The page before the oldest message shown, put above it without moving what is in view. */
async function loadOlder() {
  const view = state.view;
  if (!view.ready || !view.more || view.loading) return;
  view.loading = true;
  const list = $('messages');
  const button = list.querySelector('.history-more button');
  if (button) { button.disabled = true; button.textContent = 'Loading…'; }
  try {
    const page = await state.hub.request({ type: 'history', conversation: convOf(view.key), before_seq: view.before, limit: HISTORY_PAGE });
    if (state.view !== view) return;
    const height = list.scrollHeight;
    const top = list.scrollTop;
    const anchor = list.querySelector('.msg, .notice') || null;
    for (const m of page.messages) {
      if (m.content.kind === 'command' || state.shown.has(m.id.id)) continue;
      const li = messageItem(m);
      state.shown.set(m.id.id, li);
      list.insertBefore(li, anchor);
    }
    setOlder(page);
    list.scrollTop = top + (list.scrollHeight - height);
  } catch (err) {
    if (state.view === view) showError('chat-error', err);
  } finally {
    view.loading = false;
    const again = state.view === view && list.querySelector('.history-more button');
    if (again) { again.disabled = false; again.textContent = 'Load older messages'; }
  }
}

// ---------------------------------------------------------------------------------------
// Groups

const roleRank = { owner: 2, admin: 1, member: 0 };

async function loadGroup(id) {
  try {
    const answer = await state.hub.request({ type: 'group_info', group: id });
    if (state.current !== 'group:' + id) return;
    state.group = answer.group;
    renderGroup();
  } catch (err) {
    showError('chat-error', err);
  }
}

function renderGroup() {
  const g = state.group;
  const panel = $('group-panel');
  if (!g) { panel.hidden = true; return; }
  const meRole = ((g.members || []).find((m) => m.id === state.me.id) || {}).role || 'member';
  const act = (label, frame, cls) => h('button', {
    class: cls || 'quiet',
    onclick: async () => {
      try { await state.hub.request(frame); showError('chat-error', null); await loadGroup(g.id); } catch (err) { showError('chat-error', err); }
    },
  }, label);
  const now = Date.now();
  const members = (g.members || []).map((m) => {
    const muted = m.muted_until_ms && m.muted_until_ms > now;
    for (const u of [m]) state.names.set(u.id, u.name);
    const row = h('li', { class: 'row', dataset: { member: m.id } },
      h('span', { class: 'grow' }, m.name + ' ', h('span', { class: 'muted' }, '@' + m.id)),
      m.role !== 'member' ? h('span', { class: 'role' }, m.role) : '',
      muted ? h('span', { class: 'role', title: 'until ' + new Date(m.muted_until_ms).toLocaleTimeString() }, 'muted') : '');
    if (roleRank[meRole] > roleRank[m.role]) {
      row.append(muted
        ? act('Unmute', { type: 'unmute', group: g.id, user: m.id })
        : act('Mute 10 min', { type: 'mute', group: g.id, user: m.id, seconds: 600 }));
      row.append(act('Kick', { type: 'kick', group: g.id, users: [m.id] }, 'danger'));
    }
    if (meRole === 'owner' && m.role !== 'owner') {
      row.append(act(m.role === 'admin' ? 'Remove admin' : 'Make admin', { type: 'set_admin', group: g.id, user: m.id, admin: m.role !== 'admin' }));
    }
    return row;
  });
  const manager = roleRank[meRole] > 0;
  const invite = h('form', { class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    const users = e.target.elements.users.value.split(/[\s,]+/).filter(Boolean);
    if (!users.length) return;
    try { await state.hub.request({ type: 'invite', group: g.id, users }); e.target.reset(); await loadGroup(g.id); } catch (err) { showError('chat-error', err); }
  } }, h('input', { name: 'users', placeholder: 'invite: user ids', 'aria-label': 'Invite users' }), h('button', { type: 'submit' }, 'Invite'));
  panel.replaceChildren(
    g.announcement ? h('div', { class: 'announcement' }, '📢 ' + g.announcement) : '',
    h('div', { class: 'row' },
      h('span', { class: 'grow muted' }, g.kind.replace('_', ' ') + ' · ' + g.member_count + ' members · you are ' + meRole + (g.all_muted ? ' · everyone muted' : '')),
      manager ? act(g.all_muted ? 'Unmute all' : 'Mute all', { type: 'mute_all', group: g.id, muted: !g.all_muted }) : '',
      manager ? h('button', { class: 'quiet', onclick: async () => {
        const text = prompt('Announcement (empty clears it)', g.announcement || '');
        if (text === null) return;
        try { await state.hub.request({ type: 'set_announcement', group: g.id, text }); await loadGroup(g.id); } catch (err) { showError('chat-error', err); }
      } }, 'Announcement') : '',
      meRole !== 'owner' ? act('Leave', { type: 'leave_group', group: g.id }, 'danger') : ''),
    g.members ? h('ul', { class: 'list' }, members) : '',
    invite);
  panel.hidden = false;
}

// ---------------------------------------------------------------------------------------
// Friends and requests

async function loadFriends() {
  const [friends, requests, groupRequests, settings] = await Promise.all([
    state.hub.request({ type: 'friends' }),
    state.hub.request({ type: 'friend_requests' }),
    state.hub.request({ type: 'group_requests' }).catch(() => ({ requests: [] })),
    state.hub.request({ type: 'settings' }).catch(() => null),
  ]);
  if (settings) {
    const sel = $('friend-auth');
    if (![...sel.options].some((o) => o.value === settings.settings.friend_auth)) {
      sel.append(h('option', { value: settings.settings.friend_auth }, settings.settings.friend_auth));
    }
    sel.value = settings.settings.friend_auth;
  }
  const list = $('friends');
  list.replaceChildren(...friends.friends.map((f) => {
    state.names.set(f.id, f.name);
    return h('li', { class: 'row', dataset: { friend: f.id } },
      h('a', { href: '#', class: 'grow', onclick: (e) => { e.preventDefault(); openConversation({ kind: 'direct', id: f.id }); } },
        (f.alias || f.name) + ' ', h('span', { class: 'muted' }, '@' + f.id)),
      h('button', { class: 'quiet', title: 'Remove friend', onclick: () => call({ type: 'remove_friend', user: f.id }) }, '✕'));
  }));
  if (!friends.friends.length) list.append(h('li', { class: 'muted' }, 'none'));

  const reqs = $('requests');
  const answer = (frame) => h('span', {},
    h('button', { onclick: () => call(Object.assign({}, frame, { accept: true })) }, 'Accept'), ' ',
    h('button', { class: 'quiet', onclick: () => call(Object.assign({}, frame, { accept: false })) }, 'Decline'));
  const items = requests.requests.map((r) => {
    const incoming = r.to === state.me.id;
    return h('li', { class: 'row', dataset: { request: r.id } },
      h('span', { class: 'grow', title: r.greeting || '' },
        incoming ? nameOf(r.from) + ' wants to be friends' : 'You asked ' + nameOf(r.to),
        r.greeting ? h('span', { class: 'muted' }, ': “' + r.greeting + '”') : '',
        r.question ? h('span', { class: 'muted' }, ' (Q: ' + r.question + ' A: ' + (r.answer || '') + ')') : ''),
      incoming ? answer({ type: 'answer_friend_request', request: r.id }) : h('span', { class: 'muted' }, 'pending'));
  });
  for (const r of groupRequests.requests || []) {
    if (r.status && r.status !== 'pending') continue;
    if (r.kind === 'invite') {
      const mine = r.user === state.me.id;
      items.push(h('li', { class: 'row', dataset: { request: r.id } },
        h('span', { class: 'grow' }, mine ? nameOf(r.inviter) + ' invites you to #' + r.group : 'You invited ' + nameOf(r.user) + ' to #' + r.group),
        mine ? answer({ type: 'answer_invitation', request: r.id }) : h('span', { class: 'muted' }, 'pending')));
    } else {
      const mine = r.user === state.me.id;
      items.push(h('li', { class: 'row', dataset: { request: r.id } },
        h('span', { class: 'grow' }, mine ? 'You asked to join #' + r.group : nameOf(r.user) + ' asks to join #' + r.group + (r.reason ? ': “' + r.reason + '”' : '')),
        mine ? h('span', { class: 'muted' }, 'pending') : answer({ type: 'answer_join_request', request: r.id })));
    }
  }
  reqs.replaceChildren(...items);
  if (!items.length) reqs.append(h('li', { class: 'muted' }, 'none'));
}

async function call(frame) {
  try {
    await state.hub.request(frame);
    showError('side-error', null);
  } catch (err) {
    showError('side-error', err);
  }
  await loadFriends().catch(() => {});
}

// ---------------------------------------------------------------------------------------
// Pushed frames

function onPush(frame) {
  if (frame.type === 'message') onMessage(frame.message);
  else if (frame.type === 'event') onEvent(frame.event);
}

function onMessage(m) {
  const key = keyOf(m.conversation);
  let v = state.convs.get(key);
  if (!v) {
    v = { conversation: m.conversation, name: m.conversation.kind === 'direct' ? nameOf(m.conversation.id) : m.conversation.id, last: null, unread: 0, pinned: false, muted: false };
    state.convs.set(key, v);
  }
  if (m.content.kind !== 'command') {
    v.last = m;
    if (key === state.current && !document.hidden) {
      markRead(key, m.id.seq);
    } else if (m.sender !== state.me.id) {
      v.unread += 1;
    }
  }
  if (key === state.current) {
    if (state.view.key === key && !state.view.ready) state.view.early.push(m);
    else appendMessage(m);
    if (m.sender !== state.me.id) showTyping(false);
    refreshReceipt();
  }
  renderConversations();
}

/** "read" / "read by N" under the last message this user sent in the open conversation. */
function refreshReceipt() {
  clearTimeout(state.receiptTimer);
  state.receiptTimer = setTimeout(async () => {
    const mine = [...$('messages').querySelectorAll('.msg.mine:not(.recalled)')];
    for (const el of $('messages').querySelectorAll('.receipt')) el.remove();
    const li = mine[mine.length - 1];
    if (!li) return;
    const key = state.current;
    try {
      const answer = await state.hub.request({ type: 'read_by', message: li.dataset.id });
      if (state.current !== key || !li.isConnected) return;
      const text = key.startsWith('direct:')
        ? (answer.read.length ? '✓✓ read' : '✓ sent')
        : 'read by ' + answer.read.length + (answer.unread.length ? ' of ' + (answer.read.length + answer.unread.length) : '');
      li.querySelector('.meta').append(h('span', { class: 'receipt', title: answer.read.map(nameOf).join(', ') }, text));
    } catch (_) { /* an older hub without read_by */ }
  }, 150);
}

/** The peer's typing indicator in the open direct conversation. */
function showTyping(on, who) {
  clearTimeout(state.typingTimer);
  const key = state.current;
  const base = key ? (key.startsWith('group:') ? convOf(key).id : '@' + convOf(key).id) : '';
  $('chat-sub').textContent = on ? nameOf(who) + ' is typing…' : base;
  $('chat-sub').classList.toggle('typing', !!on);
  if (on) state.typingTimer = setTimeout(() => showTyping(false), 6000);
}

function typing(on) {
  const key = state.current;
  if (!key || !key.startsWith('direct:') || !state.hub) return;
  const now = Date.now();
  if (on && now - state.typingSent < 3000) return;
  if (!on && !state.typingSent) return;
  state.typingSent = on ? now : 0;
  state.hub.request({ type: 'typing', to: convOf(key).id, typing: on }).catch(() => {});
}

const noticeText = {
  created: (e) => nameOf(e.operator) + ' created the group',
  dismissed: (e) => nameOf(e.operator) + ' dismissed the group',
  member_joined: (e) => e.targets.map(nameOf).join(', ') + ' joined',
  member_left: (e) => e.targets.map(nameOf).join(', ') + ' left',
  member_kicked: (e) => nameOf(e.operator) + ' removed ' + e.targets.map(nameOf).join(', '),
  member_muted: (e) => nameOf(e.operator) + ' muted ' + e.targets.map(nameOf).join(', ') + (e.until_ms ? ' until ' + fmtTime(e.until_ms) : ''),
  member_unmuted: (e) => nameOf(e.operator) + ' unmuted ' + e.targets.map(nameOf).join(', '),
  all_muted: (e) => nameOf(e.operator) + ' muted everyone',
  all_unmuted: (e) => nameOf(e.operator) + ' unmuted everyone',
  admin_added: (e) => e.targets.map(nameOf).join(', ') + ' became admin',
  admin_removed: (e) => e.targets.map(nameOf).join(', ') + ' is no longer admin',
  owner_transferred: (e) => e.targets.map(nameOf).join(', ') + ' is the new owner',
  info_changed: (e) => nameOf(e.operator) + ' changed ' + Object.keys(e.changes || {}).join(', '),
  announcement_changed: (e) => nameOf(e.operator) + (e.text ? ' set the announcement: ' + e.text : ' cleared the announcement'),
};

function onEvent(e) {
  switch (e.type) {
    case 'friend_request':
    case 'friend_request_answered':
    case 'friend_added':
    case 'friend_removed':
    case 'block_changed':
    case 'group_join_request':
    case 'group_invitation':
    case 'group_request_answered':
      loadFriends().catch(() => {});
      if (e.type === 'group_request_answered') loadConversations().catch(() => {});
      break;
    case 'group_notice': {
      const key = 'group:' + e.group;
      const text = (noticeText[e.kind] || ((x) => x.kind))(e);
      if (state.current === key) {
        appendNotice(text);
        if (e.kind === 'dismissed' || (e.kind === 'member_kicked' && e.targets.includes(state.me.id))) {
          state.group = null;
          renderGroup();
        } else {
          loadGroup(e.group);
        }
      }
      if (['created', 'dismissed', 'member_joined', 'member_left', 'member_kicked', 'info_changed'].includes(e.kind)) {
        if (e.kind === 'dismissed' || ((e.kind === 'member_kicked' || e.kind === 'member_left') && e.targets.includes(state.me.id))) {
          state.convs.delete(key);
        }
        loadConversations().catch(() => {});
      }
      break;
    }
    case 'read_receipt': {
      const key = keyOf(e.conversation);
      if (e.reader === state.me.id) {
        // Read in another tab of this user.
        const v = state.convs.get(key);
        if (v && v.unread) { v.unread = 0; renderConversations(); }
      } else if (key === state.current) {
        refreshReceipt();
      }
      break;
    }
    case 'typing':
      if (keyOf(e.conversation) === state.current && e.user !== state.me.id) showTyping(e.typing, e.user);
      break;
    case 'recalled': {
      const li = state.shown.get(e.message.id);
      if (li) {
        if (e.scope === 'self_only') {
          li.remove();
          state.shown.delete(e.message.id);
        } else {
          li.classList.add('recalled');
          li.querySelector('.body').replaceChildren((e.by === state.me.id ? 'You' : nameOf(e.by)) + ' recalled this message');
          const b = li.querySelector('.meta button');
          if (b) b.remove();
        }
      }
      loadConversations().catch(() => {});
      break;
    }
    default:
      break;
  }
}

async function recall(m) {
  try {
    await state.hub.request({ type: 'recall', message: m.id.id });
    showError('chat-error', null);
  } catch (err) {
    showError('chat-error', err);
  }
}

// ---------------------------------------------------------------------------------------
// Sending

const placeholders = {
  text: 'Message (@user mentions, @all in groups)',
  image: 'Image URL',
  file: 'File URL',
  location: 'latitude, longitude, title',
  card: 'title | text | link',
  custom: 'JSON, e.g. {"type": "poll", "data": {"q": "lunch?"}}',
};

/** The content to send for the composer's kind and input, or throws with a readable message. */
function contentFrom(kind, input) {
  switch (kind) {
    case 'text': {
      const mentions = [...new Set([...input.matchAll(/@([A-Za-z0-9_.-]+)/g)].map((m) => m[1]))];
      const c = { kind: 'text', text: input };
      const all = mentions.includes('all') && state.current.startsWith('group:');
      const users = mentions.filter((x) => x !== 'all' || !all);
      if (users.length) c.mentions = users;
      if (all) c.mention_all = true;
      return c;
    }
    case 'image':
      return { kind: 'image', url: input };
    case 'file':
      return { kind: 'file', url: input, name: decodeURIComponent(input.split(/[?#]/)[0].split('/').pop() || 'file') };
    case 'location': {
      const [lat, lon, ...title] = input.split(',');
      const latitude = Number(lat);
      const longitude = Number(lon);
      if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || lon === undefined) throw new Error('write: latitude, longitude, title');
      const c = { kind: 'location', latitude, longitude };
      if (title.join(',').trim()) c.title = title.join(',').trim();
      return c;
    }
    case 'card': {
      const [title, text, link] = input.split('|').map((s) => s.trim());
      const c = { kind: 'card', title };
      if (text) c.text = text;
      if (link) c.link = link;
      return c;
    }
    case 'custom': {
      let data;
      try { data = JSON.parse(input); } catch (e) { throw new Error('not JSON: ' + e.message); }
      if (data && typeof data === 'object' && !Array.isArray(data) && typeof data.type === 'string' && 'data' in data) {
        const c = { kind: 'custom', type: data.type, data: data.data };
        if (typeof data.description === 'string') c.description = data.description;
        return c;
      }
      return { kind: 'custom', type: 'json', data };
    }
    default:
      throw new Error('unknown kind ' + kind);
  }
}

async function send(e) {
  e.preventDefault();
  const input = $('text').value.trim();
  if (!input || !state.current) return;
  let content;
  try { content = contentFrom($('kind').value, input); } catch (err) { showError('chat-error', err); return; }
  const key = state.current;
  const clientId = 'web-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  $('text').value = '';
  typing(false);
  try {
    const answer = await state.hub.request({ type: 'send', to: convOf(key), content, client_id: clientId });
    showError('chat-error', null);
    onMessage(answer.message);
    markRead(key, answer.message.id.seq);
  } catch (err) {
    if (state.current === key && !$('text').value) $('text').value = input;
    showError('chat-error', err);
  }
}

// ---------------------------------------------------------------------------------------
// Login, reconnect, logout

function setStatus(text, offline) {
  $('status').textContent = text;
  $('status').classList.toggle('offline', !!offline);
}

async function login(token) {
  showError('login-error', null);
  if (state.hub) state.hub.close();
  const hub = new HubSocket(token, onPush, () => reconnect(token));
  state.hub = hub;
  const user = await hub.open();
  sessionStorage.setItem('parley.token', token);
  state.me = user;
  state.names.set(user.id, user.name);
  state.read = {};
  document.title = 'Parley · ' + user.name;
  $('me').textContent = user.name + ' (@' + user.id + ')';
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  setStatus('online');
  await Promise.all([loadConversations(), loadFriends()]);
  if (state.current) await openConversation(convOf(state.current));
}

let reconnecting = false;
async function reconnect(token) {
  if (reconnecting) return;
  reconnecting = true;
  setStatus('offline, reconnecting…', true);
  for (let delay = 1000; state.hub; delay = Math.min(delay * 2, 15000)) {
    await new Promise((r) => setTimeout(r, delay));
    if (!state.hub) break;
    try {
      await login(token);
      break;
    } catch (err) {
      if (err.code === 'unauthorized') { logout(); showError('login-error', err); break; }
    }
  }
  reconnecting = false;
}

function logout() {
  const hub = state.hub;
  state.hub = null;
  if (hub) hub.close();
  sessionStorage.removeItem('parley.token');
  Object.assign(state, { me: null, convs: new Map(), current: null, group: null });
  state.view = { key: null, ready: false, early: [], before: 0, more: false, loading: false };
  state.shown.clear();
  $('app').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('me').textContent = '';
  setStatus('');
  document.title = 'Parley · chat';
  $('messages').replaceChildren(h('li', { class: 'empty' }, 'No conversation open.'));
  $('chat-title').textContent = 'Pick a conversation';
  $('chat-sub').textContent = '';
  $('group-panel').hidden = true;
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try { await login($('token').value.trim()); } catch (err) { state.hub = null; showError('login-error', err); }
});

$('as-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const admin = $('admin-token').value.trim();
  const user = $('as-user').value.trim();
  const create = e.submitter && e.submitter.value === 'create';
  try {
    const answer = create
      ? await adminFetch('/hub/admin/users', admin, { method: 'POST', json: { id: user, name: $('as-name').value.trim() || undefined } })
      : await adminFetch('/admin/console/token', admin, { method: 'POST', json: { user } });
    await login(answer.token);
  } catch (err) {
    state.hub = null;
    showError('login-error', err);
  }
});

$('logout').addEventListener('click', logout);

$('open-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const to = $('open-to').value.trim();
  if (!to) return;
  $('open-to').value = '';
  openConversation(to.startsWith('group:') ? { kind: 'group', id: to.slice(6) } : { kind: 'direct', id: to.replace(/^@/, '') });
});

$('friend-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const frame = { type: 'add_friend', user: $('friend-user').value.trim() };
  const greeting = $('friend-greeting').value.trim();
  if (greeting) frame.greeting = greeting;
  e.target.reset();
  call(frame);
});

$('group-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const members = $('group-members').value.split(/[\s,]+/).filter(Boolean);
  const frame = { type: 'create_group', name: $('group-name').value.trim() };
  if (members.length) frame.members = members;
  try {
    const answer = await state.hub.request(frame);
    e.target.reset();
    showError('side-error', null);
    await loadConversations();
    await openConversation({ kind: 'group', id: answer.group.id });
  } catch (err) {
    showError('side-error', err);
  }
});

$('friend-auth').addEventListener('change', async () => {
  try {
    const answer = await state.hub.request({ type: 'settings', friend_auth: $('friend-auth').value });
    $('friend-auth').value = answer.settings.friend_auth;
    showError('side-error', null);
  } catch (err) {
    showError('side-error', err);
  }
});

$('composer').addEventListener('submit', send);
// Near the top of the list, the page before loads (and the list stays where it was).
$('messages').addEventListener('scroll', () => {
  if ($('messages').scrollTop < 80) loadOlder();
}, { passive: true });
$('text').addEventListener('input', () => typing($('text').value.length > 0));
$('text').addEventListener('blur', () => typing(false));
$('kind').addEventListener('change', () => { $('text').placeholder = placeholders[$('kind').value]; $('text').focus(); });

document.addEventListener('visibilitychange', () => {
  if (document.hidden || !state.current) return;
  const v = state.convs.get(state.current);
  if (v && v.last) markRead(state.current, v.last.id.seq);
  if (v && v.unread) { v.unread = 0; renderConversations(); }
});

// A token in the URL fragment (#token=...) or from this tab's last login logs in at once.
(function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) history.replaceState(null, '', location.pathname);
  const token = fromHash || sessionStorage.getItem('parley.token');
  if (token) {
    $('token').value = token;
    login(token).catch((err) => { state.hub = null; sessionStorage.removeItem('parley.token'); showError('login-error', err); });
  }
})();
