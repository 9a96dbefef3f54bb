// The browser example: the package's browser build (in your app: `import … from 'http-triage'`,
// which a bundler or an import map resolves to js/browser.mjs).
import {
  classify,
  classifyResponse,
  classifyError,
  fetchWithRetry,
  SharedState,
  RetryPolicy,
  HttpTriageError,
  version,
} from '../../bindings-wasm/js/browser.mjs';

const params = new URLSearchParams(location.search);
const api = params.get('api');
const report = { version: version(), classified: [], calls: [], errors: [] };

async function run() {
  // 1. Responses as fetch gives them.
  const samples = [
    new Response('{"error":{"code":"rate_limited","message":"slow down"}}', {
      status: 429,
      headers: { 'Retry-After': '7', 'Content-Type': 'application/json' },
    }),
    new Response('{"type":"about:blank","title":"Invalid","status":422,"code":"corrupted"}', {
      status: 422,
      headers: { 'Content-Type': 'application/problem+json' },
    }),
    new Response('<html><title>502 Bad Gateway</title></html>', {
      status: 502,
      headers: { 'Content-Type': 'text/html' },
    }),
    new Response('{"ok":true}', { status: 200, headers: { 'Content-Type': 'application/json' } }),
  ];
  for (const r of samples) {
    const c = await classifyResponse(r, { method: 'GET' });
    report.classified.push({ status: c.status, category: c.category, reason: c.reason, retryAfterMs: c.retryAfterMs });
  }
  report.bytes = classify({ status: 401, body: new TextEncoder().encode('{"error":"invalid_api_key"}') }).category;

  // 2. Errors are HttpTriageErrors with a stable code.
  try {
    new RetryPolicy({ maxAttempts: 0 });
  } catch (e) {
    report.errors.push({ name: e.name, code: e.code, option: e.option, isBase: e instanceof HttpTriageError });
  }

  // 3. fetchWithRetry against the fake API, across origins (CORS).
  if (api) {
    const state = new SharedState();
    for (const file of params.getAll('file')) {
      const events = [];
      const res = await fetchWithRetry(
        `${api}/v1/convert?target=pdf`,
        { method: 'POST', headers: { Authorization: 'Bearer demo-key' }, body: file },
        { state, policy: { baseDelayMs: 20, maxDelayMs: 100 }, onDecision: (e) => events.push(e) },
      );
      report.calls.push({
        status: res.status,
        text: (await res.text()).split('\n')[0],
        events: events.map((e) => ({ attempt: e.attempt, status: e.status, category: e.category, decision: e.decision, requestId: e.requestId })),
      });
    }
    // A refused connection (?refused=PORT: a port nothing listens on).
    try {
      await fetch(`http://127.0.0.1:${params.get('refused')}/`);
    } catch (e) {
      const c = classifyError(e, { method: 'GET' });
      report.networkError = c && { category: c.category, transportError: c.transportError };
    }
  }
}

run()
  .catch((e) => {
    report.failed = `${e.name}: ${e.message}`;
  })
  .finally(() => {
    window.report = report;
    document.getElementById('out').textContent = JSON.stringify(report, null, 2);
  });
