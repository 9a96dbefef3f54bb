// fetchWithRetry against `http-triage serve` (its URL in $HTTP_TRIAGE_API, e.g. from
// `http-triage serve --transient-rate 0.5`): every decision is printed as it is made.
// In your project: import { fetchWithRetry } from 'http-triage';
import { fetchWithRetry } from '../../bindings-wasm/js/node.mjs';

const api = process.env.HTTP_TRIAGE_API ?? 'http://127.0.0.1:8080';
let converted = 0;
for (let i = 0; i < 8; i += 1) {
  const res = await fetchWithRetry(
    `${api}/v1/convert?target=pdf`,
    { method: 'POST', headers: { Authorization: 'Bearer demo-key' }, body: `example file ${i}` },
    {
      deadlineMs: 20_000,
      policy: { baseDelayMs: 50 },
      onDecision: (e) =>
        console.log(`file ${i} attempt ${e.attempt}: ${e.status ?? e.transportError} ${e.category}/${e.reason} -> ${e.decision}${e.delayMs === null ? '' : ` after ${e.delayMs} ms`}`),
    },
  );
  if (res.ok) converted += 1;
  await res.arrayBuffer();
}
console.log(`converted ${converted} of 8`);
