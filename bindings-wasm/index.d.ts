// Type declarations of the npm package `http-triage` (hand-written; checked by `tsc --noEmit`
// against test/usage.ts). Milliseconds are numbers; names are camelCase; categories and reasons
// are string unions.

/** What to do with a call, in one word. */
export type Category = 'success' | 'retryable' | 'pending' | 'permanent' | 'auth' | 'quota';

/** Why a call got its category (stable, machine-readable). */
export type Reason =
  | 'ok' | 'accepted' | 'not_ready' | 'rate_limited' | 'overloaded' | 'server_error'
  | 'bad_gateway' | 'service_unavailable' | 'gateway_timeout' | 'request_timeout' | 'too_early'
  | 'idempotency_in_flight' | 'server_says_retry' | 'dns' | 'connect_refused'
  | 'connect_timeout' | 'tls' | 'reset_before_response' | 'timeout_after_send'
  | 'closed_before_response' | 'body_truncated' | 'bad_request' | 'validation' | 'not_found'
  | 'gone' | 'method_not_allowed' | 'conflict' | 'payload_too_large' | 'unsupported_media_type'
  | 'unprocessable' | 'corrupted' | 'encrypted' | 'unsupported' | 'precondition_failed'
  | 'not_implemented' | 'client_error' | 'unexpected_status' | 'error_in_body'
  | 'server_says_no_retry' | 'not_safe_to_repeat' | 'unauthenticated' | 'forbidden'
  | 'quota_exceeded' | 'payment_required' | 'status_rule' | 'code_rule';

/** How a call broke when no response came back. */
export type TransportError =
  | 'dns' | 'connect_refused' | 'connect_timeout' | 'tls' | 'reset_before_response'
  | 'timeout_after_send' | 'closed_before_response' | 'body_truncated';

/** Which error-body shape was read (`nested`, `problem`, `google_rpc`, …). */
export type Dialect = string;

/** Headers in any of the shapes fetch code has at hand. */
export type HeadersInput =
  | Headers
  | Record<string, string | number | boolean | readonly string[] | undefined>
  | ReadonlyArray<readonly [string, string]>
  | Iterable<readonly [string, string]>;

/** A body: text or bytes. */
export type BodyInput = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** A time on the caller's clock, in milliseconds (a `bigint` beyond 2^53). */
export type Millis = number | bigint;

/** Caller overrides: "409 is retryable here", "code `locked` is pending". */
export interface Rules {
  status?: Record<string, Category>;
  codes?: Record<string, Category>;
}

export interface Violation {
  field: string;
  message: string;
}

export interface ClassifyInput {
  /** The HTTP status (100-999); give this or `transportError`. */
  status?: number;
  transportError?: TransportError;
  headers?: HeadersInput;
  body?: BodyInput | null;
  /** The request method; without it the request counts as safe to repeat. */
  method?: string;
  /** Whether the request carried an Idempotency-Key (a string counts as yes). */
  idempotencyKey?: boolean | string;
  /** Wall clock, Unix milliseconds (resolves HTTP-dates); default `Date.now()`. */
  now?: number;
  rules?: Rules;
}

/** The verdict on one call. Every key is present; absent values are `null`. */
export interface Classification {
  category: Category;
  reason: Reason;
  status: number | null;
  transportError: TransportError | null;
  code: string | null;
  message: string | null;
  requestId: string | null;
  referenceId: string | null;
  retryableHint: boolean | null;
  /** How long the server asked to wait. */
  retryAfterMs: number | null;
  rateLimitRemaining: number | null;
  rateLimitResetMs: number | null;
  rateLimitLimit: number | null;
  /** The rate-limit window, when the headers say. */
  rateLimitWindowMs: number | null;
  violations: Violation[];
  dialect: Dialect;
  /**
   * The structured part of the error body (`null` when none), parsed from the server's JSON
   * text when first read. A getter on the prototype, not an own property: a spread or
   * `structuredClone` copies the other fields only; `toJSON()` gives them all.
   */
  details: unknown;
  /** True when the failure proves the server did not act on the request. */
  requestNotProcessed: boolean;
  /** A plain object of every field, `details` included (what `JSON.stringify` writes). */
  toJSON(): ClassificationData;
}

/** A classification as plain data: what `Classification.toJSON()` returns. */
export type ClassificationData = Omit<Classification, 'toJSON'>;

export interface Envelope {
  dialect: Dialect;
  code: string | null;
  message: string | null;
  details: unknown;
  requestId: string | null;
  referenceId: string | null;
  retryable: boolean | null;
  retryAfterMs: number | null;
  violations: Violation[];
  signalsError: boolean;
  /** The body describes work still running (`"done": false`, `"status": "running"`). */
  inProgress: boolean;
}

export interface HeaderHints {
  retryAfterMs: number | null;
  rateLimitResetMs: number | null;
  rateLimitRemaining: number | null;
  rateLimitLimit: number | null;
  rateLimitWindowMs: number | null;
  shouldRetry: boolean | null;
  requestId: string | null;
  contentType: string | null;
}

export interface ResponseOptions {
  method?: string;
  idempotencyKey?: boolean | string;
  now?: number;
  rules?: Rules;
}

export function classify(input: ClassifyInput): Classification;
/** Classify a fetch `Response` (reads up to 64 KiB of a clone of its body). */
export function classifyResponse(response: Response, options?: ResponseOptions): Promise<Classification>;
/**
 * Classify a thrown fetch/undici error (`ECONNREFUSED`, `ECONNRESET`, `UND_ERR_*`, DNS, TLS,
 * `TimeoutError`). `null` when it is not a transport failure (the caller's own `AbortError`,
 * a bug): rethrow it.
 */
export function classifyError(
  err: unknown,
  options?: { method?: string; idempotencyKey?: boolean | string },
): Classification | null;
export function parseEnvelope(
  body: BodyInput | null | undefined,
  contentType?: string | null,
  limits?: { maxBodyBytes?: number; maxDepth?: number },
): Envelope;
export function readHeaders(headers: HeadersInput, now?: number): HeaderHints;

export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';
export type LongWait = 'clamp' | 'give_up' | 'defer';

export interface RetryPolicyOptions {
  maxAttempts?: number;
  maxRateLimited?: number;
  baseDelayMs?: number;
  multiplier?: number;
  maxDelayMs?: number;
  jitter?: Jitter;
  deadlineMs?: number | null;
  pollIntervalMs?: number;
  maxPolls?: number;
  maxServerDelayMs?: number;
  longWait?: LongWait;
  serverDelayJitter?: number;
}

export interface AttemptInput {
  /** Requests sent so far that were not polls (1 after the first). */
  number?: number;
  polls?: number;
  elapsedMs?: number;
  nowMs?: number;
  previousDelayMs?: number;
  /** Rate-limited answers so far, this one included. */
  rateLimited?: number;
}

export type DecisionKind = 'done' | 'retry' | 'poll' | 'defer' | 'give_up' | 'stop';
export type DelaySource = 'server' | 'server_clamped' | 'backoff' | 'poll_interval';

export interface Decision {
  decision: DecisionKind;
  delayMs: number | null;
  source: DelaySource | null;
  giveUpReason: string | null;
  stopReason: string | null;
  resumeAtMs: number | null;
}

export class RetryPolicy {
  constructor(options?: RetryPolicyOptions);
  /** `random` is a draw in [0, 1) for jitter; default `Math.random()`. */
  decide(classification: ClassificationData, attempt: AttemptInput, random?: number): Decision;
  backoff(attempt: number, previousDelayMs?: number | null, random?: number): number;
}

export interface BreakerOptions {
  failureThreshold?: number;
  failureRatio?: number | null;
  windowMs?: number;
  minThroughput?: number;
  openForMs?: number;
  maxOpenForMs?: number;
  halfOpenProbes?: number;
}

/** The core's snapshot format (snake_case, the same in Rust, Python and JavaScript). */
export type Snapshot = { version: number } & Record<string, unknown>;

export class CircuitBreaker {
  constructor(options?: BreakerOptions);
  admit(nowMs: Millis): { admission: 'allowed' | 'probe' | 'rejected'; retryAtMs: number | null };
  onSuccess(nowMs: Millis): void;
  onFailure(nowMs: Millis, retryAfterMs?: number | null): void;
  onNeutral(nowMs: Millis): void;
  record(classification: ClassificationData, nowMs: Millis): void;
  state(nowMs: Millis): { state: 'closed' | 'open' | 'half_open'; untilMs: number | null };
  toJSON(): Snapshot;
  static fromJSON(snapshot: Snapshot, options?: BreakerOptions): CircuitBreaker;
}

export interface BudgetOptions {
  maxTokens?: number;
  tokenRatio?: number;
}

export class RetryBudget {
  constructor(options?: BudgetOptions);
  canRetry(): boolean;
  readonly tokens: number;
  onSuccess(): void;
  onFailure(): void;
  record(classification: ClassificationData): void;
  toJSON(): Snapshot;
  static fromJSON(snapshot: Snapshot, options?: BudgetOptions): RetryBudget;
}

export class RateGate {
  constructor();
  closeFor(nowMs: Millis, delayMs: Millis): void;
  record(classification: ClassificationData, nowMs: Millis): void;
  wait(nowMs: Millis): number;
  isOpen(nowMs: Millis): boolean;
  readonly reopensAtMs: number | null;
  toJSON(): Snapshot;
  static fromJSON(snapshot: Snapshot): RateGate;
}

/** Pacer options (requests per second); whatever the core's PacerConfig reads, camelCase. */
export interface PacerOptions {
  beta?: number;
  scale?: number;
  minRate?: number;
  maxRate?: number | null;
  [option: string]: number | null | undefined;
}

export class Pacer {
  constructor(options?: PacerOptions);
  /** Reserve the next send: the time (ms, at least `nowMs`) at which to send. */
  acquire(nowMs: Millis): number;
  waitMs(nowMs: Millis): number;
  record(classification: ClassificationData, nowMs: Millis): void;
  /** Learn from a call sent at `sentMs` and answered at `nowMs`. */
  recordSent(classification: ClassificationData, sentMs: Millis, nowMs: Millis): void;
  /** Requests per second, `null` while not pacing. */
  readonly rate: number | null;
  /** The pace in force at `nowMs` (requests per second), `null` when none. */
  pace(nowMs: Millis): number | null;
  /** How many times the rate was cut. */
  readonly cuts: number;
  /** The send rate measured over the recent window (requests per second). */
  measuredRate(nowMs: Millis): number;
  toJSON(): Snapshot;
  static fromJSON(snapshot: Snapshot): Pacer;
}

export interface OriginMachines {
  breaker: CircuitBreaker;
  budget: RetryBudget;
  pacer: Pacer;
}

/** The machines of each origin, shared by every call that uses this state. */
export class SharedState {
  constructor(options?: { breaker?: BreakerOptions; budget?: BudgetOptions; pacer?: PacerOptions });
  forOrigin(origin: string): OriginMachines;
  toJSON(): Record<string, { breaker: Snapshot; budget: Snapshot; pacer: Snapshot }>;
}

/** One decision of `fetchWithRetry`, as given to `onDecision`. */
export interface DecisionEvent {
  /** 1 for the first request. */
  attempt: number;
  status: number | null;
  transportError: TransportError | null;
  category: Category;
  reason: Reason;
  code: string | null;
  /** What happens next; `budget_exhausted` when the retry budget refused a retry. */
  decision: DecisionKind | 'budget_exhausted';
  delayMs: number | null;
  source: DelaySource | null;
  requestId: string | null;
  elapsedMs: number;
}

export interface FetchWithRetryOptions {
  /** A policy or its options; default the core's defaults. */
  policy?: RetryPolicy | RetryPolicyOptions;
  /** Total time for the call, waits included. */
  deadlineMs?: number;
  /**
   * The Idempotency-Key sent with every attempt: a string (used as is), `true` (a fresh UUID),
   * `false` (none). Default: a fresh UUID for POST, none otherwise; an `Idempotency-Key`
   * header already in `init.headers` is always kept.
   */
  idempotencyKey?: boolean | string;
  onDecision?: (event: DecisionEvent) => void;
  /** Per-origin machines; default one state shared by the whole module. */
  state?: SharedState;
  rules?: Rules;
  fetch?: typeof globalThis.fetch;
  /** Draws in [0, 1) for jitter; default `Math.random`. */
  random?: () => number;
}

/**
 * `fetch` that acts on the core's decisions: returns the final `Response` (a success, or the
 * failure it gave up or stopped on), throws the last network error when no response came,
 * `BodyNotReplayableError`, `DeadlineExceededError`, `CircuitOpenError`, or the caller's abort.
 */
export function fetchWithRetry(
  input: string | URL | Request,
  init?: RequestInit,
  options?: FetchWithRetryOptions,
): Promise<Response>;

export function version(): string;

export type ErrorCode =
  | 'invalid_input' | 'invalid_option' | 'invalid_snapshot' | 'unknown_name'
  | 'invalid_ledger_line' | 'internal' | 'body_not_replayable' | 'deadline_exceeded'
  | 'circuit_open';

export class HttpTriageError extends Error {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions);
  readonly code: ErrorCode;
}
export class InvalidInputError extends HttpTriageError {
  readonly code: 'invalid_input';
}
export class InvalidOptionError extends HttpTriageError {
  readonly code: 'invalid_option';
  /** The option's name, when known. */
  readonly option: string | null;
}
export class InvalidSnapshotError extends HttpTriageError {
  readonly code: 'invalid_snapshot';
}
export class UnknownNameError extends HttpTriageError {
  readonly code: 'unknown_name';
}
export class InvalidLedgerLineError extends HttpTriageError {
  readonly code: 'invalid_ledger_line';
  readonly kind: 'empty_line' | 'json' | 'unsupported_version' | 'empty_item' | null;
}
export class InternalError extends HttpTriageError {
  readonly code: 'internal';
}
export class BodyNotReplayableError extends HttpTriageError {
  readonly code: 'body_not_replayable';
  readonly classification: Classification | null;
  readonly decision: Decision | null;
  readonly response: Response | null;
}
export class DeadlineExceededError extends HttpTriageError {
  readonly code: 'deadline_exceeded';
}
export class CircuitOpenError extends HttpTriageError {
  readonly code: 'circuit_open';
  readonly retryAfterMs: number;
}
