// A typed usage of the package, checked by `tsc --noEmit` (scripts/test-js.sh): the
// declarations in index.d.ts must accept this code and reject the lines marked @ts-expect-error.
import {
  classify,
  classifyError,
  classifyResponse,
  fetchWithRetry,
  parseEnvelope,
  readHeaders,
  RetryPolicy,
  CircuitBreaker,
  RetryBudget,
  RateGate,
  Pacer,
  SharedState,
  HttpTriageError,
  InvalidOptionError,
  BodyNotReplayableError,
  type Category,
  type Classification,
  type ClassificationData,
  type DecisionEvent,
} from 'http-triage';
import { parseLedgerLine, replayLedger, type LedgerReplay } from 'http-triage/ledger';

const c: Classification = classify({
  status: 429,
  headers: new Headers({ 'retry-after': '5' }),
  body: new Uint8Array([123, 125]),
  method: 'POST',
  idempotencyKey: true,
  now: Date.now(),
});
const category: Category = c.category;
const wait: number | null = c.retryAfterMs;
classify({ status: 503, headers: [['Retry-After', '1']], body: '{}' });
classify({ transportError: 'connect_refused', method: 'GET' });
// @ts-expect-error: not a transport error kind
classify({ transportError: 'ECONNREFUSED' });
// @ts-expect-error: categories are a closed union
const bad: Category = 'maybe';

const policy = new RetryPolicy({ maxAttempts: 5, baseDelayMs: 100, jitter: 'full', longWait: 'defer' });
const d = policy.decide(c, { number: 1, elapsedMs: 120, nowMs: 0 }, 0.5);
if (d.decision === 'retry' && d.delayMs !== null) setTimeout(() => {}, d.delayMs);

const breaker = new CircuitBreaker({ failureThreshold: 5, windowMs: 10_000 });
breaker.record(c, performance.now());
const again = CircuitBreaker.fromJSON(breaker.toJSON(), { failureThreshold: 5 });
const s: 'closed' | 'open' | 'half_open' = again.state(0).state;
const budget = new RetryBudget({ maxTokens: 10 });
const ok: boolean = budget.canRetry();
const gate = RateGate.fromJSON(new RateGate().toJSON());
const gateWait: number = gate.wait(10n);
const pacer = new Pacer({ minRate: 1 });
const sendAt: number = pacer.acquire(0);
const rate: number | null = pacer.rate;

const env = parseEnvelope('{"detail":"nope"}', 'application/json');
const hints = readHeaders({ 'Retry-After': '3' });

async function demo(): Promise<void> {
  const state = new SharedState({ breaker: { failureThreshold: 3 } });
  const events: DecisionEvent[] = [];
  const res = await fetchWithRetry('http://127.0.0.1:1/x', { method: 'POST', body: '{}' }, {
    policy: { maxAttempts: 3 },
    deadlineMs: 10_000,
    idempotencyKey: 'order-42',
    state,
    onDecision: (e) => events.push(e),
  });
  const verdict: Classification = await classifyResponse(res, { method: 'POST' });
  try {
    await fetch('http://127.0.0.1:1/');
  } catch (err) {
    const t: Classification | null = classifyError(err, { method: 'GET' });
    void t;
  }
  try {
    new RetryPolicy({ maxAttempts: 0 });
  } catch (e) {
    if (e instanceof InvalidOptionError) console.log(e.option, e.code);
    else if (e instanceof BodyNotReplayableError) console.log(e.classification?.reason);
    else if (e instanceof HttpTriageError) console.log(e.code);
  }
  void verdict;
}

void [category, wait, bad, s, ok, gateWait, sendAt, rate, env, hints, demo];

// The ledger tools live in their own entry point.
const line = parseLedgerLine('{"item":"a"}');
const lineText: string = line.line;
const replay: LedgerReplay = replayLedger(lineText, { items: ['a'], retryQuarantined: true });
const toRun: string[] | undefined = replay.toRun;
// @ts-expect-error: a ledger is text
replayLedger(42);
void toRun;

// toJSON() is the plain copy with `details`; the state machines take plain data too.
{
  const c = classify({ status: 429, body: '{"error":{"code":"x","details":{"a":1}}}' });
  const plain: ClassificationData = c.toJSON();
  new RetryPolicy().decide(plain, { number: 1 }, 0.5);
  new RetryPolicy().decide(JSON.parse(JSON.stringify(c)) as ClassificationData, { number: 1 }, 0.5);
}
