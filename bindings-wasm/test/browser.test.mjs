// The browser build in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// examples/browser/ served from 127.0.0.1 by a tiny static server, calling `http-triage serve
// --cors` on another port (so another origin). The test asserts on what the page reports.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServe, fileWithFate } from './serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

let api;
let site;
let siteUrl;
let browser;
let profile;

before(async () => {
  api = await startServe(['--cors', '--permanent-rate', '0', '--transient-rate', '1', '--rate-limit', '0']);
  // Only the example and the package are served.
  site = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!/^\/(examples\/browser|bindings-wasm\/(js|pkg\/web|pkg\/ledger-web))\//.test(path)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(ROOT, path));
      res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${site.address().port}`;
  profile = await mkdtemp(join(tmpdir(), 'http-triage-chromium-'));
  // A fresh profile directory per run.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (site ? site.close(r) : r()));
  await api?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('the browser build classifies responses and retries against serve --cors', async () => {
  const rates = { permanentRate: 0, transientRate: 1 };
  const flaky = fileWithFate(rates, { fate: 'transient', kind: '500', failures: 1 }, 'browser');
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const closed = createNetServer();
  await new Promise((r) => closed.listen(0, '127.0.0.1', r));
  const refused = String(closed.address().port);
  await new Promise((r) => closed.close(r));
  const q = new URLSearchParams({ api: api.url, file: flaky, refused });
  await page.goto(`${siteUrl}/examples/browser/index.html?${q}`);
  await page.waitForFunction(() => window.report !== undefined, null, { timeout: 30_000 });
  const report = await page.evaluate(() => window.report);
  await page.close();
  assert.equal(report.failed, undefined, `the page failed: ${report.failed}\n${logs.join('\n')}`);

  assert.deepEqual(
    report.classified.map((c) => [c.status, c.category, c.reason, c.retryAfterMs]),
    [
      [429, 'retryable', 'rate_limited', 7000],
      [422, 'permanent', 'corrupted', null],
      [502, 'retryable', 'bad_gateway', null],
      [200, 'success', 'ok', null],
    ],
  );
  assert.equal(report.bytes, 'auth');
  assert.deepEqual(report.errors, [
    { name: 'InvalidOptionError', code: 'invalid_option', option: 'max_attempts', isBase: true },
  ]);

  assert.equal(report.calls.length, 1);
  const call = report.calls[0];
  assert.equal(call.status, 200);
  assert.match(call.text, /^http-triage converted target=pdf/);
  assert.deepEqual(
    call.events.map((e) => [e.attempt, e.status, e.category, e.decision]),
    [
      [1, 500, 'retryable', 'retry'],
      [2, 200, 'success', 'done'],
    ],
  );
  // X-Request-Id is exposed by serve's CORS headers.
  assert.equal(typeof call.events[0].requestId, 'string');
  // Browsers hide why fetch failed: a kind that may have reached the server.
  assert.deepEqual(report.networkError, { category: 'retryable', transportError: 'closed_before_response' });
});

test('the browser build of http-triage/ledger loads its own module and reads a ledger', async () => {
  const page = await browser.newPage();
  const logs = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${siteUrl}/examples/browser/index.html`);
  const got = await page.evaluate(async (url) => {
    const ledger = await import(url);
    const line = '{"v":1,"item":"a","outcome":"started","at_ms":5}';
    const done = '{"v":1,"item":"a","outcome":"done","attempts":1,"at_ms":9}';
    const r = ledger.replayLedger(`${line}\n${done}\n`, { items: ['a', 'b'] });
    let error = null;
    try {
      ledger.parseLedgerLine('{"torn');
    } catch (e) {
      error = [e.name, e.code];
    }
    return { item: ledger.parseLedgerLine(line).record.item, done: r.done, toRun: r.toRun, error };
  }, `${siteUrl}/bindings-wasm/js/ledger-browser.mjs`);
  assert.deepEqual(got, { item: 'a', done: ['a'], toRun: ['b'], error: ['InvalidLedgerLineError', 'invalid_ledger_line'] }, logs.join('\n'));
  await page.close();
});
