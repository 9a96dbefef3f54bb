// The Node examples (examples/js/) run as their own processes, against the real serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServe } from './serve.mjs';

const run = promisify(execFile);
const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '../../examples/js');
let api;
before(async () => {
  api = await startServe(['--transient-rate', '0.5', '--permanent-rate', '0', '--rate-limit', '0']);
});
after(async () => api?.stop());

test('examples/js/classify.mjs', async () => {
  const { stdout } = await run(process.execPath, [join(EXAMPLES, 'classify.mjs')]);
  assert.match(stdout, /429 rate_limited -> retryable\/rate_limited: retry in 7000 ms/);
  assert.match(stdout, /insufficient_quota -> quota\/quota_exceeded: stop/);
  assert.match(stdout, /fetch failed -> retryable\/connect_refused \(request not processed: true\)/);
});

test('examples/js/fetch_with_retry.mjs', async () => {
  const { stdout } = await run(process.execPath, [join(EXAMPLES, 'fetch_with_retry.mjs')], {
    env: { ...process.env, HTTP_TRIAGE_API: api.url },
  });
  assert.match(stdout, /converted 8 of 8/);
  assert.match(stdout, /-> retry after \d+ ms/);
});
