// Drives the web console of a running Parley in headless Chromium.
//
//   PARLEY_URL=http://127.0.0.1:8080 PARLEY_ADMIN_TOKEN=... node console.test.js
//
// Expects the users of tests/common/mod.rs (alice-token, bob-token, carol-token), the group
// lobby owned by alice with bob and the bot, and the echo bot. Screenshots go to
// SCREENSHOT_DIR (default: the working directory). Exits non-zero on the first failure.
'use strict';

const { chromium } = require('playwright-core');
const assert = require('node:assert/strict');
const path = require('node:path');

const BASE = process.env.PARLEY_URL;
const ADMIN = process.env.PARLEY_ADMIN_TOKEN;
const SHOTS = process.env.SCREENSHOT_DIR || '.';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;

if (!BASE || !ADMIN) {
  console.error('set PARLEY_URL and PARLEY_ADMIN_TOKEN');
  process.exit(2);
}

function step(name) {
  console.log('step: ' + name);
}

async function login(browser, token) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { console.error('page error: ' + e.message); process.exitCode = 1; });
  page.on('console', (m) => { if (m.type() === 'error') console.error('console error: ' + m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) console.error('http ' + r.status() + ' ' + r.url()); });
  await page.goto(BASE + '/');
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
  return page;
}

async function open(page, to) {
  await page.fill('#open-to', to);
  await page.click('#open-form button');
  await page.waitForSelector('#text:not([disabled])');
}

async function send(page, text, kind) {
  await page.selectOption('#kind', kind || 'text');
  await page.fill('#text', text);
  await page.click('#send');
}

/** Waits for a message in the open conversation whose text contains `text`. */
function message(page, text) {
  return page.locator('#messages .msg', { hasText: text });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    step('two users log in in two pages');
    const alice = await login(browser, 'alice-token');
    const bob = await login(browser, 'bob-token');
    assert.match(await alice.textContent('#me'), /@alice/);
    assert.match(await bob.textContent('#me'), /@bob/);

    step('a wrong token is refused');
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(BASE + '/');
      await page.fill('#token', 'no-such-token');
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('#login-error:has-text("unauthorized")', { timeout: TIMEOUT });
      assert.equal(await page.isVisible('#app'), false);
      await context.close();
    }

    step('alice writes to bob; bob sees it unread and opens it; alice sees it read');
    await open(alice, 'bob');
    await send(alice, 'hi bob, lunch?');
    await message(alice, 'hi bob, lunch?').waitFor({ timeout: TIMEOUT });
    const badge = bob.locator('#conversations .conv[data-key="direct:alice"] .badge');
    await badge.waitFor({ timeout: TIMEOUT });
    assert.equal((await badge.textContent()).trim(), '1');
    assert.match(await bob.textContent('#conversations .conv[data-key="direct:alice"] .last'), /hi bob, lunch\?/);
    await bob.click('#conversations .conv[data-key="direct:alice"]');
    await message(bob, 'hi bob, lunch?').waitFor({ timeout: TIMEOUT });
    assert.equal(await bob.locator('#conversations .conv[data-key="direct:alice"] .badge').count(), 0);
    await alice.locator('#messages .msg.mine .receipt', { hasText: 'read' }).waitFor({ timeout: TIMEOUT });

    step('bob types: alice sees it; bob answers; alice sees the answer live');
    await bob.fill('#text', 'sure');
    await alice.waitForSelector('#chat-sub:has-text("is typing")', { timeout: TIMEOUT });
    await send(bob, 'sure, at noon');
    await message(alice, 'sure, at noon').waitFor({ timeout: TIMEOUT });
    assert.doesNotMatch(await alice.textContent('#chat-sub'), /typing/);

    step('every content kind is rendered');
    await send(alice, '48.8584, 2.2945, Eiffel Tower', 'location');
    await send(alice, 'Menu | soup of the day | https://example.com/menu', 'card');
    await send(alice, '{"type": "poll", "data": {"question": "pizza?"}}', 'custom');
    await send(alice, 'https://example.com/files/report.pdf', 'file');
    await message(bob, 'Eiffel Tower').waitFor({ timeout: TIMEOUT });
    await bob.locator('#messages .cardbox', { hasText: 'soup of the day' }).waitFor({ timeout: TIMEOUT });
    await bob.locator('#messages pre', { hasText: '"question": "pizza?"' }).waitFor({ timeout: TIMEOUT });
    await bob.locator('#messages a', { hasText: 'report.pdf' }).waitFor({ timeout: TIMEOUT });

    step('alice recalls a message; bob sees it recalled');
    await send(alice, 'oops, wrong chat');
    await message(bob, 'oops, wrong chat').waitFor({ timeout: TIMEOUT });
    await message(alice, 'oops, wrong chat').locator('button', { hasText: 'Recall' }).click();
    await bob.locator('#messages .msg.recalled', { hasText: 'Alice recalled this message' }).waitFor({ timeout: TIMEOUT });

    step('alice says hello to the echo bot and sees its reply without a reload');
    await open(alice, 'bot');
    await send(alice, 'hello');
    await message(alice, 'echo #1: hello').waitFor({ timeout: TIMEOUT });

    step('bob asks for approval; alice sends a friend request; bob accepts it');
    await bob.selectOption('#friend-auth', 'approval');
    await bob.waitForFunction(() => document.getElementById('side-error').textContent === '');
    await alice.fill('#friend-user', 'bob');
    await alice.fill('#friend-greeting', "it's alice");
    await alice.click('#friend-form button');
    await alice.locator('#requests li', { hasText: 'You asked' }).waitFor({ timeout: TIMEOUT });
    const request = bob.locator('#requests li', { hasText: 'wants to be friends' });
    await request.waitFor({ timeout: TIMEOUT });
    assert.match(await request.textContent(), /it's alice/);
    await request.locator('button', { hasText: 'Accept' }).click();
    await bob.locator('#friends li[data-friend="alice"]').waitFor({ timeout: TIMEOUT });
    await alice.locator('#friends li[data-friend="bob"]').waitFor({ timeout: TIMEOUT });

    step('in the lobby, a mention is highlighted; alice mutes bob; bob\'s send is refused');
    await open(alice, 'group:lobby');
    await open(bob, 'group:lobby');
    await send(alice, 'welcome @bob');
    await bob.locator('#messages .msg .mention', { hasText: '@bob' }).waitFor({ timeout: TIMEOUT });
    await alice.locator('#group-panel li[data-member="bob"] button', { hasText: 'Mute' }).click();
    await alice.locator('#group-panel li[data-member="bob"] .role', { hasText: 'muted' }).waitFor({ timeout: TIMEOUT });
    await bob.locator('#messages .notice', { hasText: 'muted Bob' }).waitFor({ timeout: TIMEOUT });
    await send(bob, 'can I still talk?');
    await bob.waitForSelector('#chat-error:has-text("muted")', { timeout: TIMEOUT });
    await alice.screenshot({ path: path.join(SHOTS, 'console-chat.png') });

    step('the dashboard is refused without the token');
    const dash = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    dash.on('pageerror', (e) => { console.error('page error: ' + e.message); process.exitCode = 1; });
    const refused = await dash.request.get(BASE + '/admin/dashboard');
    assert.equal(refused.status(), 401);
    const wrong = await dash.request.get(BASE + '/admin/dashboard', { headers: { Authorization: 'Bearer nope' } });
    assert.equal(wrong.status(), 401);
    await dash.goto(BASE + '/dashboard');
    assert.equal(await dash.isVisible('#dash'), false);
    await dash.fill('#token', 'wrong-token');
    await dash.click('#login-form button');
    await dash.waitForSelector('#login-error:has-text("unauthorized")', { timeout: TIMEOUT });
    assert.equal(await dash.isVisible('#dash'), false);

    step('with the token it shows connections, bots and a broadcast reaching 100%');
    await dash.fill('#token', ADMIN);
    await dash.click('#login-form button');
    await dash.waitForSelector('#dash:not([hidden])', { timeout: TIMEOUT });
    await dash.locator('#connections tr[data-connection="hub"]').waitFor({ timeout: TIMEOUT });
    const echo = dash.locator('#bots tr[data-bot="echo"]');
    await echo.waitFor({ timeout: TIMEOUT });
    assert.match(await echo.textContent(), /on_message/);
    await dash.fill('#broadcast-to', 'alice, carol, group:lobby');
    await dash.fill('#broadcast-text', 'maintenance at 18:00');
    await dash.click('#broadcast-form button');
    await dash.waitForSelector('#broadcasts tr[data-status="done"] [role=progressbar][aria-valuenow="100"]', { timeout: TIMEOUT });
    await message(alice, 'maintenance at 18:00').waitFor({ timeout: TIMEOUT });
    await dash.screenshot({ path: path.join(SHOTS, 'console-dashboard.png'), fullPage: true });

    step('/metrics speaks the Prometheus text format');
    const metrics = await dash.request.get(BASE + '/metrics');
    assert.equal(metrics.status(), 200);
    assert.match(metrics.headers()['content-type'], /text\/plain/);
    const text = await metrics.text();
    for (const name of ['parley_live_actors', 'parley_events_in_total', 'parley_outbox_depth{connection="hub"}',
      'parley_rate_limit_waits_total{connection="hub"}', 'parley_bot_errors_total{bot="echo"}']) {
      assert.ok(text.includes(name), 'missing ' + name + ' in /metrics:\n' + text);
    }
    console.log('ok: the console works in ' + browser.version());
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
