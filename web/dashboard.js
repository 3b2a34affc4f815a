// The engine dashboard: polls GET /admin/dashboard and GET /admin/broadcasts with the admin
// token (kept in sessionStorage), and pauses, resumes or cancels broadcast jobs.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

let token = null;
let timer = null;
let previous = null; // the last figures, for rates

function showError(where, err) {
  $(where).textContent = err ? (err.code ? err.code + ': ' : '') + err.message : '';
}

function cell(content, cls) { return h('td', { class: cls }, content); }

function renderFigures(f) {
  let inRate = '–';
  let outRate = '–';
  if (previous && f.time_ms > previous.time_ms) {
    const secs = (f.time_ms - previous.time_ms) / 1000;
    inRate = ((f.events_in - previous.events_in) / secs).toFixed(1);
    outRate = ((f.events_out - previous.events_out) / secs).toFixed(1);
  }
  previous = f;
  $('live-actors').textContent = f.live_actors;
  $('queued-events').textContent = f.queued_events;
  $('deepest-mailbox').textContent = '(fullest: ' + f.deepest_mailbox + ')';
  $('events-in').textContent = inRate;
  $('events-out').textContent = outRate;
  $('events-in-total').textContent = '(' + f.events_in + ' in all)';
  $('events-out-total').textContent = '(' + f.events_out + ' in all)';
  $('outbox-total').textContent = f.connections.reduce((n, c) => n + c.outbox_depth, 0);
  $('waits-total').textContent = f.connections.reduce((n, c) => n + c.rate_limit_waits, 0);
  $('bot-errors').textContent = f.bots.reduce((n, b) => n + b.error_count, 0);
  $('actors-note').textContent = f.actors_started + ' actors started and ' + f.actors_stopped + ' stopped since start.';

  $('connections').tBodies[0].replaceChildren(...f.connections.map((c) => h('tr', { dataset: { connection: c.id } },
    cell(h('strong', {}, c.id)), cell(c.kind), cell(c.state, 'state-' + c.state),
    cell(c.outbox_depth, 'num'), cell(c.rate_limit_waits, 'num'), cell((c.rate_limit_waited_ms / 1000).toFixed(1) + ' s', 'num'))));

  $('bots').tBodies[0].replaceChildren(...f.bots.map((b) => h('tr', { dataset: { bot: b.name } },
    cell([h('strong', {}, b.name), h('div', { class: 'muted' }, h('code', {}, b.file))]),
    cell(b.handlers.length ? b.handlers.map((x) => h('code', {}, x + ' ')) : h('span', { class: 'muted' }, 'none')),
    cell(b.error_count, 'num'),
    cell(b.last_error ? h('code', { class: 'error' }, b.last_error) : h('span', { class: 'muted' }, '–')))));
  if (!f.bots.length) $('bots').tBodies[0].append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'no bots loaded')));

  const when = (ms) => (ms ? new Date(ms).toLocaleString() : h('span', { class: 'muted' }, '–'));
  $('schedules').tBodies[0].replaceChildren(...f.schedules.map((s) => h('tr', { dataset: { schedule: s.id } },
    cell([h('strong', {}, s.id), h('div', { class: 'muted' }, s.origin)]),
    cell(h('code', {}, s.when)),
    cell(h('code', {}, (s.bot ? s.bot + '.' : '') + s.handler)),
    cell([s.connection, s.conversation ? h('div', { class: 'muted' }, s.conversation) : '']),
    cell(when(s.next_run_ms), 'next-run'),
    cell(when(s.last_run_ms)))));
  if (!f.schedules.length) $('schedules').tBodies[0].append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'no schedules')));
}

function renderJobs(jobs) {
  const rows = jobs.slice().sort((a, b) => b.id - a.id).map((j) => {
    const done = j.sent + j.failed;
    const pct = j.total ? Math.floor((done * 100) / j.total) : 100;
    const act = (action, label, cls) => h('button', {
      class: cls || 'quiet',
      onclick: async () => {
        try {
          await adminFetch('/admin/broadcasts/' + j.id + '/' + action, token, { method: 'POST' });
          showError('broadcast-error', null);
        } catch (err) {
          showError('broadcast-error', err);
        }
        refresh();
      },
    }, label);
    const controls = [];
    if (j.status === 'running') controls.push(act('pause', 'Pause'));
    if (j.status === 'paused') controls.push(act('resume', 'Resume'));
    if (j.status === 'running' || j.status === 'paused') controls.push(' ', act('cancel', 'Cancel', 'danger'));
    return h('tr', { dataset: { job: j.id, status: j.status } },
      cell(j.id, 'num'), cell(j.connection), cell(j.status, 'state-' + j.status),
      cell(h('div', { class: 'bar' + (pct >= 100 ? ' done' : ''), role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct, title: pct + '%' },
        h('span', { style: 'width:' + pct + '%' })), 'progress'),
      cell(j.sent, 'num'), cell(j.failed, 'num'), cell(j.left, 'num'),
      cell(fmtTime(j.created_ms)), cell(controls));
  });
  $('broadcasts').tBodies[0].replaceChildren(...rows);
  if (!rows.length) $('broadcasts').tBodies[0].append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'no broadcast jobs yet')));
}

async function refresh() {
  if (!token) return;
  try {
    const [figures, jobs] = await Promise.all([
      adminFetch('/admin/dashboard', token),
      adminFetch('/admin/broadcasts', token),
    ]);
    renderFigures(figures);
    renderJobs(jobs);
    showError('dash-error', null);
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('status').classList.remove('offline');
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      forget();
      showError('login-error', err);
    } else {
      $('status').textContent = 'cannot reach Parley';
      $('status').classList.add('offline');
    }
  }
}

async function open(t) {
  // Checked once before showing anything: the dashboard is refused without the token.
  await adminFetch('/admin/dashboard', t);
  token = t;
  sessionStorage.setItem('parley.admin_token', t);
  $('login').hidden = true;
  $('dash').hidden = false;
  $('logout').hidden = false;
  showError('login-error', null);
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, POLL_MS);
}

function forget() {
  token = null;
  previous = null;
  clearInterval(timer);
  sessionStorage.removeItem('parley.admin_token');
  $('dash').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('status').textContent = '';
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try { await open($('token').value.trim()); } catch (err) { showError('login-error', err); }
});
$('logout').addEventListener('click', forget);

$('broadcast-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const to = $('broadcast-to').value.split(/[\s,]+/).filter(Boolean);
  try {
    await adminFetch('/admin/broadcasts', token, { method: 'POST', json: { to, text: $('broadcast-text').value } });
    e.target.reset();
    showError('broadcast-error', null);
  } catch (err) {
    showError('broadcast-error', err);
  }
  refresh();
});

(function start() {
  const saved = sessionStorage.getItem('parley.admin_token');
  if (saved) open(saved).catch((err) => { forget(); showError('login-error', err); });
})();
