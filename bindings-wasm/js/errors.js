// Error classes of the package: every error it throws is an HttpTriageError with a stable `code`.

/** Base class: `code` is stable and meant to be branched on; `message` is for people. */
export class HttpTriageError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'HttpTriageError';
    this.code = code;
  }
}

/** A value given to the API is not what it takes (`invalid_input`). */
export class InvalidInputError extends HttpTriageError {
  constructor(message, options) {
    super('invalid_input', message, options);
    this.name = 'InvalidInputError';
  }
}

/** An option is unknown or out of range (`invalid_option`); `option` names it when known. */
export class InvalidOptionError extends HttpTriageError {
  constructor(message, option, options) {
    super('invalid_option', message, options);
    this.name = 'InvalidOptionError';
    this.option = option ?? null;
  }
}

/** A snapshot given to `fromJSON` cannot be restored (`invalid_snapshot`). */
export class InvalidSnapshotError extends HttpTriageError {
  constructor(message, options) {
    super('invalid_snapshot', message, options);
    this.name = 'InvalidSnapshotError';
  }
}

/** A category, reason or transport error name the core does not know (`unknown_name`). */
export class UnknownNameError extends HttpTriageError {
  constructor(message, options) {
    super('unknown_name', message, options);
    this.name = 'UnknownNameError';
  }
}

/** A ledger line that cannot be read (`invalid_ledger_line`); `kind` says why. */
export class InvalidLedgerLineError extends HttpTriageError {
  constructor(message, kind, options) {
    super('invalid_ledger_line', message, options);
    this.name = 'InvalidLedgerLineError';
    this.kind = kind ?? null;
  }
}

/** A bug in this package or a trap in its wasm module (`internal`). */
export class InternalError extends HttpTriageError {
  constructor(message, options) {
    super('internal', message, options);
    this.name = 'InternalError';
  }
}

/**
 * `fetchWithRetry` was told to retry a request whose body it cannot send again (a
 * `ReadableStream`): it refuses instead of sending an empty body (`body_not_replayable`).
 */
export class BodyNotReplayableError extends HttpTriageError {
  constructor(message, details, options) {
    super('body_not_replayable', message, options);
    this.name = 'BodyNotReplayableError';
    this.classification = details?.classification ?? null;
    this.decision = details?.decision ?? null;
    this.response = details?.response ?? null;
  }
}

/** `fetchWithRetry`'s total deadline passed while a request or a wait was under way. */
export class DeadlineExceededError extends HttpTriageError {
  constructor(message, options) {
    super('deadline_exceeded', message, options);
    this.name = 'DeadlineExceededError';
  }
}

/** The origin's circuit breaker is open: nothing was sent (`circuit_open`). */
export class CircuitOpenError extends HttpTriageError {
  constructor(message, retryAfterMs, options) {
    super('circuit_open', message, options);
    this.name = 'CircuitOpenError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The wasm layer's errors carry a `code`; turn them (and traps) into the classes above. */
export function mapError(e) {
  if (e instanceof HttpTriageError) return e;
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    return new InternalError(`the http-triage wasm module trapped (${e.message}); this is a bug`, {
      cause: e,
    });
  }
  const code = e && typeof e === 'object' ? e.code : undefined;
  const message = e && typeof e.message === 'string' ? e.message : String(e);
  switch (code) {
    case 'invalid_input':
      return new InvalidInputError(message);
    case 'invalid_option':
      return new InvalidOptionError(message, e.option);
    case 'invalid_snapshot':
      return new InvalidSnapshotError(message);
    case 'unknown_name':
      return new UnknownNameError(message);
    case 'invalid_ledger_line':
      return new InvalidLedgerLineError(message, e.kind);
    default:
      // wasm-bindgen's own guards ("recursive use of an object", a freed object) land here.
      return new InternalError(message, { cause: e });
  }
}
