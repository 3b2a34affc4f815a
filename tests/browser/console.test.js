// Drives the web console of a running Parley in a headless browser: one scenario, run in
// Chromium (playwright-core) or Firefox (WebDriver, geckodriver) through drivers.js.
//
//   PARLEY_URL=http://127.0.0.1:8080 PARLEY_ADMIN_TOKEN=... node console.test.js [chromium|firefox]
//
// Expects the users of tests/common/mod.rs (alice-token, bob-token, carol-token), the group
// lobby owned by alice with bob and the bot, the echo bot, and HISTORY_MESSAGES (default
// 130) messages from carol to alice, "older 001", "older 002", ..., sent before the test
// (tests/console_browser.rs does that). Screenshots go to SCREENSHOT_DIR (default: the
// working directory). Exits non-zero on the first failure.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { q, launch } = require('./drivers');

const BASE = process.env.PARLEY_URL;
const ADMIN = process.env.PARLEY_ADMIN_TOKEN;
const SHOTS = process.env.SCREENSHOT_DIR || '.';
const BROWSER = process.argv[2] || process.env.BROWSER || 'chromium';
const HISTORY = Number(process.env.HISTORY_MESSAGES || 130);
const VIEWPORT = { width: 1200, height: 760 };

if (!BASE || !ADMIN) {
  console.error('set PARLEY_URL and PARLEY_ADMIN_TOKEN');
  process.exit(2);
}
if (!launch[BROWSER]) {
  console.error('unknown browser ' + BROWSER + ': chromium or firefox');
  process.exit(2);
}

function step(name) {
  console.log('step: ' + name);
}

/** Every page by name, for the report when a step fails. */
const pages = new Map();

async function login(browser, token) {
  const page = await browser.newPage(VIEWPORT);
  pages.set(token.replace(/-token$/, ''), page);
  await page.goto(BASE + '/');
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitFor('#app:not([hidden])');
  return page;
}

async function open(page, to) {
  await page.fill('#open-to', to);
  await page.click('#open-form button');
  await page.waitFor('#text:not([disabled])');
}

async function send(page, text, kind) {
  await page.select('#kind', kind || 'text');
  await page.fill('#text', text);
  await page.click('#send');
}

/** A message in the open conversation whose text contains `text`. */
const message = (text) => q('#messages .msg', text);
/** The conversation list's entry for `key` (direct:alice, group:lobby). */
const conv = (key) => q('#conversations .conv[data-key="' + key + '"]');
const older = (n) => 'older ' + String(n).padStart(3, '0');

async function main() {
  const browser = await launch[BROWSER]();
  try {
    step('two users log in in two pages');
    const alice = await login(browser, 'alice-token');
    const bob = await login(browser, 'bob-token');
    assert.match(await alice.text('#me'), /@alice/);
    assert.match(await bob.text('#me'), /@bob/);

    step('a wrong token is refused');
    // This page becomes the dashboard's later on.
    const dash = await browser.newPage({ width: 1200, height: 900 });
    pages.set('dashboard', dash);
    await dash.goto(BASE + '/');
    await dash.fill('#token', 'no-such-token');
    await dash.click('#login-form button[type=submit]');
    await dash.waitFor(q('#login-error', 'unauthorized'));
    assert.equal(await dash.visible('#app'), false);

    step('alice writes to bob; bob sees it unread and opens it; alice sees it read');
    await open(alice, 'bob');
    await send(alice, 'hi bob, lunch?');
    await alice.waitFor(message('hi bob, lunch?'));
    const badge = conv('direct:alice').find('.badge');
    await bob.waitFor(badge);
    assert.equal((await bob.text(badge)).trim(), '1');
    assert.match(await bob.text(conv('direct:alice').find('.last')), /hi bob, lunch\?/);
    await bob.dblclick(conv('direct:alice').find('.name')); // opened twice, shown once
    await bob.waitFor(message('hi bob, lunch?'));
    assert.equal(await bob.count(badge), 0);
    await alice.waitFor(q('#messages .msg.mine .receipt', 'read'));

    step('bob types: alice sees it; bob answers; alice sees the answer live');
    await bob.fill('#text', 'sure');
    await alice.waitFor(q('#chat-sub', 'is typing'));
    await send(bob, 'sure, at noon');
    await alice.waitFor(message('sure, at noon'));
    assert.doesNotMatch(await alice.text('#chat-sub'), /typing/);

    step('every content kind is rendered');
    await send(alice, '48.8584, 2.2945, Eiffel Tower', 'location');
    await send(alice, 'Menu | soup of the day | https://example.com/menu', 'card');
    await send(alice, '{"type": "poll", "data": {"question": "pizza?"}}', 'custom');
    await send(alice, 'https://example.com/files/report.pdf', 'file');
    await bob.waitFor(message('Eiffel Tower'));
    await bob.waitFor(q('#messages .cardbox', 'soup of the day'));
    await bob.waitFor(q('#messages pre', '"question": "pizza?"'));
    await bob.waitFor(q('#messages a', 'report.pdf'));

    step('alice recalls a message; bob sees it recalled');
    await send(alice, 'oops, wrong chat');
    await bob.waitFor(message('oops, wrong chat'));
    await alice.click(message('oops, wrong chat').find('button', 'Recall'));
    await bob.waitFor(q('#messages .msg.recalled', 'alice recalled this message'));

    step('alice says hello to the echo bot and sees its reply without a reload');
    await open(alice, 'bot');
    await send(alice, 'hello');
    await alice.waitFor(message('echo #1: hello'));

    step('bob asks for approval; alice sends a friend request; bob accepts it');
    await bob.select('#friend-auth', 'approval');
    await bob.until(() => document.getElementById('side-error').textContent === '');
    await alice.fill('#friend-user', 'bob');
    await alice.fill('#friend-greeting', "it's alice");
    await alice.click('#friend-form button');
    await alice.waitFor(q('#requests li', 'You asked'));
    const request = q('#requests li', 'wants to be friends');
    await bob.waitFor(request);
    assert.match(await bob.text(request), /it's alice/);
    await bob.click(request.find('button', 'Accept'));
    await bob.waitFor('#friends li[data-friend="alice"]');
    await alice.waitFor('#friends li[data-friend="bob"]');

    step('in the lobby, a mention is highlighted; alice mutes bob; bob\'s send is refused');
    await open(alice, 'group:lobby');
    await open(bob, 'group:lobby');
    await send(alice, 'welcome @bob');
    await bob.waitFor(q('#messages .msg .mention', '@bob'));
    await alice.click(q('#group-panel li[data-member="bob"] button', 'Mute'));
    await alice.waitFor(q('#group-panel li[data-member="bob"] .role', 'muted'));
    await bob.waitFor(q('#messages .notice', 'muted bob'));
    await send(bob, 'can I still talk?');
    await bob.waitFor(q('#chat-error', 'muted'));

    await pinsMutesAndOlderHistory(alice);
    await alice.waitFor(q('#group-panel li[data-member="bob"] .role', 'muted'));
    await alice.screenshot(path.join(SHOTS, 'console-chat.png'));

    step('the dashboard is refused without the token');
    for (const auth of [undefined, 'Bearer nope']) {
      const refused = await fetch(BASE + '/admin/dashboard', { headers: auth ? { Authorization: auth } : {} });
      assert.equal(refused.status, 401);
    }
    await dash.goto(BASE + '/dashboard');
    assert.equal(await dash.visible('#dash'), false);
    await dash.fill('#token', 'wrong-token');
    await dash.click('#login-form button');
    await dash.waitFor(q('#login-error', 'unauthorized'));
    assert.equal(await dash.visible('#dash'), false);

    step('with the token it shows connections, bots and a broadcast reaching 100%');
    await dash.fill('#token', ADMIN);
    await dash.click('#login-form button');
    await dash.waitFor('#dash:not([hidden])');
    await dash.waitFor('#connections tr[data-connection="hub"]');
    const echo = '#bots tr[data-bot="echo"]';
    await dash.waitFor(echo);
    assert.match(await dash.text(echo), /on_message/);
    await dash.fill('#broadcast-to', 'alice, carol, group:lobby');
    await dash.fill('#broadcast-text', 'maintenance at 18:00');
    await dash.click('#broadcast-form button');
    await dash.waitFor('#broadcasts tr[data-status="done"] [role=progressbar][aria-valuenow="100"]');
    await alice.waitFor(message('maintenance at 18:00'));
    await dash.screenshot(path.join(SHOTS, 'console-dashboard.png'), { fullPage: true });

    step('/metrics speaks the Prometheus text format');
    const metrics = await fetch(BASE + '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type'), /text\/plain/);
    const text = await metrics.text();
    for (const name of ['parley_live_actors', 'parley_events_in_total', 'parley_outbox_depth{connection="hub"}',
      'parley_rate_limit_waits_total{connection="hub"}', 'parley_bot_errors_total{bot="echo"}']) {
      assert.ok(text.includes(name), 'missing ' + name + ' in /metrics:\n' + text);
    }
    console.log('ok: the console works in ' + browser.version);
  } catch (e) {
    await report();
    throw e;
  } finally {
    await browser.close();
  }
}

/** Leaves alice in the lobby, which she has pinned. */
async function pinsMutesAndOlderHistory(alice) {
  step('alice mutes carol\'s conversation: its unread count leaves the title and its badge goes quiet');
  const carol = conv('direct:carol');
  await alice.waitFor(carol.find('.badge'));
  assert.match(await alice.title(), new RegExp('^\\(' + HISTORY + '\\) '));
  await alice.click(carol.find('button[data-action="mute"]'));
  await alice.waitFor(carol.find('button[data-action="mute"][aria-pressed="true"]'));
  await alice.waitFor(carol.find('.badge.muted'));
  await alice.until(() => !document.title.startsWith('('));

  step('alice pins the lobby: it moves to the top of the list');
  await alice.click(conv('group:lobby').find('button[data-action="pin"]'));
  await alice.waitFor(conv('group:lobby').find('button[data-action="pin"][aria-pressed="true"]'));
  await alice.until(() => document.querySelector('#conversations .conv').dataset.key === 'group:lobby');

  step('the pin and the mute are the hub\'s: they are still there after a reload');
  await alice.goto(BASE + '/');
  await alice.waitFor('#app:not([hidden])');
  await alice.waitFor(conv('group:lobby').find('button[data-action="pin"][aria-pressed="true"]'));
  await alice.waitFor(carol.find('button[data-action="mute"][aria-pressed="true"]'));
  await alice.waitFor(carol.find('.badge.muted'));
  assert.equal(await alice.evaluate(() => document.querySelector('#conversations .conv').dataset.key), 'group:lobby');
  assert.equal(await alice.count(conv('group:lobby').find('.flag.pin')), 1);
  assert.equal(await alice.count(carol.find('.flag.mute')), 1);

  step('alice opens carol\'s conversation (a double click): the latest page, older ones as she scrolls up');
  await alice.dblclick(carol.find('.name'));
  await alice.waitFor(message(older(HISTORY)));
  await alice.waitFor(q('#messages .history-more'));
  const first = await alice.count('#messages .msg');
  assert.ok(first > 1 && first < HISTORY, 'the first page shows ' + first + ' of ' + HISTORY + ' messages');
  assert.equal(await alice.count(message(older(1))), 0);
  const atBottom = () => {
    const list = document.getElementById('messages');
    return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
  };
  await alice.until(atBottom);

  // Scrolling to the top loads the page before; the message that was at the top stays in view.
  const top = await alice.evaluate(() => document.querySelector('#messages .msg').dataset.id);
  await alice.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
  await alice.until((n) => document.querySelectorAll('#messages .msg').length > n, first);
  const kept = await alice.evaluate((id) => {
    const list = document.getElementById('messages');
    const el = list.querySelector('.msg[data-id="' + id + '"]');
    const box = list.getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return { top: list.scrollTop, visible: r.bottom > box.top && r.top < box.bottom };
  }, top);
  assert.ok(kept.top > 0 && kept.visible, 'the list jumped when older messages came: ' + JSON.stringify(kept));

  // And so on, until the start of the conversation.
  for (let pages = 0; await alice.count('#messages .history-more') > 0; pages++) {
    assert.ok(pages < HISTORY, 'too many pages of history');
    const n = await alice.count('#messages .msg');
    await alice.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
    await alice.until((m) => document.querySelectorAll('#messages .msg').length > m
      || !document.querySelector('#messages .history-more'), n);
  }
  await alice.waitFor(q('#messages .history-start', 'Start of the conversation'));
  const texts = await alice.evaluate(() => [...document.querySelectorAll('#messages .msg .body')].map((b) => b.textContent));
  assert.deepEqual(texts, Array.from({ length: HISTORY }, (_, i) => older(i + 1)));

  step('back to the pinned lobby');
  await alice.click(conv('group:lobby').find('.name'));
  await alice.waitFor(message('welcome @bob'));
}

/** What each page shows when a step failed: its errors, and a screenshot beside the others. */
async function report() {
  for (const [name, page] of pages) {
    try {
      const errors = await page.evaluate(() => [...document.querySelectorAll('.error')]
        .map((e) => e.id + ': ' + e.textContent).filter((t) => !t.endsWith(': ')));
      const file = path.join(SHOTS, 'failed-' + BROWSER + '-' + name + '.png');
      await page.screenshot(file);
      console.error(name + ': ' + (errors.join('; ') || 'no error shown') + ' (screenshot: ' + file + ')');
    } catch (e) {
      console.error(name + ': cannot report: ' + e.message);
    }
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
