// The few page actions console.test.js needs, over two drivers, so that one scenario runs in
// both browsers:
// - chromium: playwright-core driving Debian's /usr/bin/chromium (CHROMIUM overrides it);
// - firefox: WebDriver (selenium-webdriver and geckodriver) driving Debian's firefox-esr
//   (FIREFOX and GECKODRIVER override the paths); page errors come over WebDriver BiDi.
//
// Elements are named by a CSS selector, or by a query: q('#messages .msg', 'some text')
// is the first `#messages .msg` whose text contains 'some text', and .find('button',
// 'Recall') a button with that text inside it. Every action waits (up to TIMEOUT) for its
// element to be there and visible, the way a person waits for the page.
'use strict';

const fs = require('node:fs');

const TIMEOUT = 15000;

class Query {
  constructor(steps) {
    this.steps = steps;
  }

  /** The elements matching `css` (and containing `text`) inside this query's elements. */
  find(css, text) {
    return new Query([...this.steps, { css, text }]);
  }

  toString() {
    return this.steps.map((s) => s.css + (s.text === undefined ? '' : ' ("' + s.text + '")')).join(' > ');
  }
}

/** A query for the elements matching `css` whose text contains `text` (if given). */
function q(css, text) {
  return new Query([{ css, text }]);
}

const asQuery = (target) => (target instanceof Query ? target : q(target));

/**
 * Runs in the page: resolves a query's steps. `want`: 'first' (an element or null),
 * 'visible' (the first one with a box, or null), 'count', 'gone' (true when none).
 */
function pick([steps, want]) {
  let found = [document];
  for (const s of steps) {
    const next = new Set();
    for (const root of found) {
      for (const e of root.querySelectorAll(s.css)) {
        if (s.text === undefined || s.text === null || e.textContent.includes(s.text)) next.add(e);
      }
    }
    found = [...next];
  }
  if (want === 'count') return found.length;
  if (want === 'gone') return found.length === 0;
  if (want === 'visible') {
    return found.find((e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden') || null;
  }
  return found[0] || null;
}

// ---------------------------------------------------------------------------------------
// Chromium through playwright-core

class PlaywrightPage {
  constructor(page) {
    this.page = page;
  }

  locator(target) {
    let loc = null;
    for (const s of asQuery(target).steps) {
      // As in pick(): case-sensitive (a plain string would match in any case).
      const opts = s.text === undefined ? undefined : { hasText: new RegExp(s.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) };
      loc = loc ? loc.locator(s.css, opts) : this.page.locator(s.css, opts);
    }
    return loc.first();
  }

  goto(url) { return this.page.goto(url); }
  waitFor(target) { return this.locator(target).waitFor({ state: 'visible', timeout: TIMEOUT }); }
  waitGone(target) { return this.page.waitForFunction(pick, [asQuery(target).steps, 'gone'], { timeout: TIMEOUT }); }
  click(target) { return this.locator(target).click({ timeout: TIMEOUT }); }
  dblclick(target) { return this.locator(target).dblclick({ timeout: TIMEOUT }); }
  fill(target, text) { return this.locator(target).fill(text, { timeout: TIMEOUT }); }
  select(target, value) { return this.locator(target).selectOption(value, { timeout: TIMEOUT }); }
  text(target) { return this.locator(target).textContent({ timeout: TIMEOUT }); }
  visible(css) { return this.page.isVisible(css); }
  count(target) { return this.page.evaluate(pick, [asQuery(target).steps, 'count']); }
  title() { return this.page.title(); }
  evaluate(fn, arg) { return this.page.evaluate(fn, arg); }
  until(fn, arg) { return this.page.waitForFunction(fn, arg, { timeout: TIMEOUT }); }
  screenshot(file, opts) { return this.page.screenshot({ path: file, fullPage: !!(opts && opts.fullPage) }); }
  close() { return this.page.context().close(); }
}

async function chromium() {
  const { chromium: pw } = require('playwright-core');
  const browser = await pw.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    name: 'chromium',
    version: 'Chromium ' + browser.version(),
    async newPage(viewport) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.on('pageerror', (e) => { console.error('page error: ' + e.message); process.exitCode = 1; });
      page.on('console', (m) => { if (m.type() === 'error') console.error('console error: ' + m.text()); });
      page.on('response', (r) => { if (r.status() >= 400) console.error('http ' + r.status() + ' ' + r.url()); });
      return new PlaywrightPage(page);
    },
    close: () => browser.close(),
  };
}

// ---------------------------------------------------------------------------------------
// Firefox through WebDriver (geckodriver)

/** Errors that mean "the page moved under us; look again", not a failure. */
const RETRY = new Set(['StaleElementReferenceError', 'ElementClickInterceptedError', 'ElementNotInteractableError',
  'InvalidElementStateError']);

class WebDriverPage {
  constructor(driver) {
    this.driver = driver;
  }

  /** Waits until `fn(arg)` in the page returns something truthy, and returns it. */
  until(fn, arg, what) {
    return this.driver.wait(() => this.driver.executeScript(fn, arg), TIMEOUT,
      'timed out waiting for ' + (what || String(fn)));
  }

  /**
   * Waits for the query's first visible element and does `act` with it; starts again when
   * the element was replaced or covered meanwhile (the console re-renders its lists).
   */
  withElement(target, act) {
    const query = asQuery(target);
    return this.driver.wait(async () => {
      const el = await this.driver.executeScript(pick, [query.steps, 'visible']);
      if (!el) return false;
      try {
        const out = await act(el);
        return { out };
      } catch (e) {
        if (RETRY.has(e.name)) {
          if (process.env.DEBUG_DRIVERS) console.error('again (' + e.name + '): ' + query);
          return false;
        }
        throw e;
      }
    }, TIMEOUT, 'timed out waiting for ' + query).then((r) => r.out);
  }

  goto(url) { return this.driver.get(url); }
  waitFor(target) { return this.withElement(target, () => true); }
  waitGone(target) { return this.until(pick, [asQuery(target).steps, 'gone'], 'no ' + asQuery(target)); }
  click(target) { return this.withElement(target, (el) => el.click()); }
  dblclick(target) { return this.withElement(target, (el) => this.driver.actions().doubleClick(el).perform()); }
  async fill(target, text) {
    await this.withElement(target, async (el) => {
      await el.clear();
      await el.sendKeys(text);
    });
  }
  select(target, value) {
    // The options of a closed <select> have no box: pick the one inside the visible select.
    const { By } = require('selenium-webdriver');
    return this.withElement(target, async (el) => {
      await (await el.findElement(By.css('option[value="' + value + '"]'))).click();
    });
  }
  text(target) {
    const query = asQuery(target);
    return this.driver.wait(() => this.driver.executeScript(pick, [query.steps, 'first']), TIMEOUT,
      'timed out waiting for ' + query).then((el) => el.getAttribute('textContent'));
  }
  async visible(css) {
    const el = await this.driver.executeScript(pick, [asQuery(css).steps, 'visible']);
    return !!el;
  }
  count(target) { return this.driver.executeScript(pick, [asQuery(target).steps, 'count']); }
  title() { return this.driver.getTitle(); }
  evaluate(fn, arg) { return this.driver.executeScript(fn, arg); }
  async screenshot(file, opts) {
    const png = opts && opts.fullPage ? await this.driver.takeFullPageScreenshot() : await this.driver.takeScreenshot();
    fs.writeFileSync(file, Buffer.from(png, 'base64'));
  }
  close() { return this.driver.quit(); }
}

async function firefox() {
  const webdriver = require('selenium-webdriver');
  const ff = require('selenium-webdriver/firefox');
  const LogInspector = require('selenium-webdriver/bidi/logInspector');
  const binary = process.env.FIREFOX || '/usr/bin/firefox-esr';
  const geckodriver = process.env.GECKODRIVER || 'geckodriver';
  const drivers = [];
  let version = 'Firefox';
  return {
    name: 'firefox',
    get version() { return version; },
    async newPage(viewport) {
      const options = new ff.Options()
        .setBinary(binary)
        .addArguments('-headless', '-width=' + viewport.width, '-height=' + viewport.height)
        .setPreference('browser.shell.checkDefaultBrowser', false)
        .setPreference('datareporting.policy.dataSubmissionEnabled', false)
        .setPreference('app.update.enabled', false)
        .enableBidi();
      // geckodriver on 127.0.0.1 only, one per session (it serves a single session).
      const service = new ff.ServiceBuilder(geckodriver).setHostname('127.0.0.1').addArguments('--log', 'error');
      const driver = await new webdriver.Builder().forBrowser(webdriver.Browser.FIREFOX)
        .setFirefoxOptions(options).setFirefoxService(service).build();
      drivers.push(driver);
      version = 'Firefox ' + (await driver.getCapabilities()).get('browserVersion');
      await driver.manage().window().setRect({ width: viewport.width, height: viewport.height });
      const logs = await LogInspector(driver);
      await logs.onJavascriptException((e) => { console.error('page error: ' + e.text); process.exitCode = 1; });
      await logs.onConsoleEntry((e) => { if (e.level === 'error') console.error('console error: ' + e.text); });
      return new WebDriverPage(driver);
    },
    async close() {
      await Promise.all(drivers.map((d) => d.quit().catch(() => {})));
    },
  };
}

module.exports = { q, Query, TIMEOUT, launch: { chromium, firefox } };
