// The JavaScript API over the wasm exports. Thin: it converts values (camelCase, milliseconds,
// headers in any shape, bodies as text or bytes), maps errors, and drives fetch. Every decision
// (category, delay, give up, stop, when the breaker opens, how fast to pace) comes from the core.

import {
  BodyNotReplayableError,
  CircuitOpenError,
  DeadlineExceededError,
  HttpTriageError,
  InternalError,
  InvalidInputError,
  InvalidOptionError,
  mapError,
} from './errors.js';
import { call } from './call.js';

/** How much of a response body `classifyResponse` reads: the core looks at 64 KiB at most. */
const BODY_PREFIX_BYTES = 64 * 1024;

const CLASSIFY_KEYS = [
  'status',
  'transportError',
  'headers',
  'body',
  'method',
  'idempotencyKey',
  'now',
  'rules',
];

/**
 * Whether `k` is one of CLASSIFY_KEYS (a switch on constant strings: cheaper than a lookup in a
 * Set). api.test.mjs passes every key of the list and checks the error names the whole list.
 */
function isClassifyKey(k) {
  switch (k) {
    case 'status':
    case 'transportError':
    case 'headers':
    case 'body':
    case 'method':
    case 'idempotencyKey':
    case 'now':
    case 'rules':
      return true;
    default:
      return false;
  }
}

/** Node/undici error codes → the core's transport error kinds. Conversion only. */
const CODE_KINDS = {
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NONAME: 'dns',
  EAI_FAIL: 'dns',
  EAI_NODATA: 'dns',
  ECONNREFUSED: 'connect_refused',
  EHOSTUNREACH: 'connect_refused',
  ENETUNREACH: 'connect_refused',
  EADDRNOTAVAIL: 'connect_refused',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ECONNRESET: 'reset_before_response',
  EPIPE: 'reset_before_response',
  ECONNABORTED: 'reset_before_response',
  UND_ERR_SOCKET: 'closed_before_response',
  UND_ERR_CLOSED: 'closed_before_response',
  UND_ERR_HEADERS_TIMEOUT: 'timeout_after_send',
  UND_ERR_BODY_TIMEOUT: 'body_truncated',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body_truncated',
  EPROTO: 'tls',
  HOSTNAME_MISMATCH: 'tls',
};
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_(GET|VERIFY)_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT)/;
/** What browsers say when fetch fails below HTTP (Chrome, Firefox, Safari). */
const BROWSER_NETWORK = /^(Failed to fetch|NetworkError when attempting to fetch resource|Load failed)/;

/** The transport error kind of a thrown error, walking `cause` and `AggregateError.errors`. */
function transportKindOf(err) {
  if (err == null || typeof err !== 'object') return null;
  // The caller's own cancellation is not a failure of the server: nothing to classify.
  if (err.name === 'AbortError') return null;
  if (err.name === 'TimeoutError') return 'timeout_after_send';
  const queue = [err];
  const seen = new Set();
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (e == null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === 'ETIMEDOUT') return e.syscall === 'connect' ? 'connect_timeout' : 'timeout_after_send';
    if (Object.hasOwn(CODE_KINDS, code)) return CODE_KINDS[code];
    if (TLS_CODE.test(code)) return 'tls';
    if (e.cause) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...e.errors);
  }
  // Browsers hide the cause; whether the request reached the server is unknown, so the kind
  // is one that may have (a POST without an Idempotency-Key is then not repeated).
  if (err instanceof TypeError && err.cause === undefined && BROWSER_NETWORK.test(err.message)) {
    return 'closed_before_response';
  }
  return null;
}

/** Headers as the wasm side takes them: `name\0value\0name\0value…`. */
function headerText(h) {
  if (h == null) return '';
  let out = '';
  const add = (k, v) => {
    if (typeof v !== 'string') {
      if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
      else throw new InvalidInputError('a header value must be a string');
    }
    if (k.includes('\0') || v.includes('\0')) throw new InvalidInputError('a header name or value holds a NUL');
    out += out === '' ? `${k}\0${v}` : `\0${k}\0${v}`;
  };
  if (typeof h[Symbol.iterator] === 'function' && typeof h !== 'string') {
    for (const p of h) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') {
        throw new InvalidInputError('headers as a list hold [name, value] pairs of strings');
      }
      add(p[0], p[1]);
    }
    return out;
  }
  if (typeof h === 'object') {
    for (const k in h) {
      if (!Object.hasOwn(h, k)) continue;
      const v = h[k];
      if (Array.isArray(v)) for (const x of v) add(k, x);
      else if (v !== undefined) add(k, v);
    }
    return out;
  }
  throw new InvalidInputError('headers must be a plain object, an array of [name, value] pairs or a Headers');
}

/** A body as what the wasm side takes: a string, or a Uint8Array. */
function bodyArg(body) {
  if (body == null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new InvalidInputError('body must be a string, a Uint8Array or an ArrayBuffer');
}

function checkNow(now, name = 'now') {
  if (now === undefined) return Date.now();
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0) {
    throw new InvalidInputError(`\`${name}\` must be Unix time in milliseconds (a non-negative number)`);
  }
  return now;
}

/** Drop `undefined` members: `{maxRate: undefined}` means "not given", as in JSON. */
function defined(obj) {
  if (obj == null) return undefined;
  if (typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

async function readPrefix(response, limit) {
  if (response.body == null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  try {
    while (size <= limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(size, limit + 1));
  let at = 0;
  for (const c of chunks) {
    const n = Math.min(c.byteLength, out.length - at);
    out.set(c.subarray(0, n), at);
    at += n;
    if (at >= out.length) break;
  }
  return out;
}

const monotonic = () => Math.floor(performance.now());

/** The longest timer: setTimeout fires a longer one after 1 ms (Node warns, browsers do not). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Call `fn` at `at` (on `performance.now()`'s clock), however far off and never before it: a
 * timer that fires early, or that stopped at the longest timer, is armed again for what is
 * left. Cancel with `clearTimeout(handle.id)`.
 */
function timerAt(at, fn) {
  const handle = { id: undefined };
  const delay = () => Math.min(Math.max(0, Math.ceil(at - performance.now())), MAX_TIMER_MS);
  const arm = () => {
    if (performance.now() >= at) fn();
    else handle.id = setTimeout(arm, delay());
  };
  handle.id = setTimeout(arm, delay());
  return handle;
}

/** Resolve at `at` (see `timerAt`), or reject with the reason when `signal` aborts first. */
function sleepUntil(at, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer.id);
      reject(signal.reason);
    };
    const timer = timerAt(at, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function newKey() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function isStream(body) {
  return (
    body != null &&
    typeof body === 'object' &&
    (typeof body.getReader === 'function' ||
      typeof body.pipe === 'function' ||
      typeof body[Symbol.asyncIterator] === 'function')
  );
}

/**
 * The value of `details` from the server's JSON text, read as the core reads it in every
 * language: a number out of range (`1e999`) is null, a lone surrogate is U+FFFD.
 */
function detailsValue(json) {
  if (json === null) return null;
  const v = JSON.parse(json);
  return mayNeedFixing(json) ? wellFormed(v, 0) : v;
}
/**
 * Whether `json` may hold a number out of range or a lone surrogate escape, the only values
 * JSON.parse reads otherwise than the core; cheap, as most texts hold neither. A number is out of
 * range only with an exponent (digits, `e`, digits, then the end of the number: a hex id such
 * as `14e45f` is no number) or with more than 308 digits (JSON.parse reads 1 and 400 zeros as
 * Infinity). Walking and copying the value costs more than these scans.
 */
function mayNeedFixing(json) {
  return (
    /\d[eE][+-]?\d+(?:[\s,\]}]|$)/.test(json) ||
    (json.length > 308 && /\d{309}/.test(json)) ||
    (json.includes('\\u') && /\\u[dD][89a-fA-F]/.test(json))
  );
}
const fixString = (s) =>
  typeof s.toWellFormed === 'function'
    ? s.toWellFormed()
    : s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
function wellFormed(v, depth) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') return fixString(v);
  if (v === null || typeof v !== 'object' || depth > 512) return v;
  if (Array.isArray(v)) return v.map((x) => wellFormed(x, depth + 1));
  const out = {};
  for (const [k, x] of Object.entries(v)) out[fixString(k)] = wellFormed(x, depth + 1);
  return out;
}

/** A number from the result table; `NaN` is an absent one. */
const num = (x) => (x === x ? x : null);
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();



/**
 * The input and output of `classify` in wasm memory (see `src/classify.rs`): the method,
 * headers and body are written straight into the module's input buffer, the result is read
 * from a table of doubles. One crossing each way, nothing allocated for the crossing.
 */
/**
 * UTF-8 in and out of wasm memory with the platform's own tools: `TextEncoder.encodeInto` and
 * `TextDecoder` here; Node passes `Buffer`'s (see `node.mjs`), which write a string built by
 * `+` without flattening it first, and read with less overhead per call.
 */
const WEB_TEXT = {
  /** A view of the memory's buffer for `write` and `read` (made again when the memory grows). */
  view: (buffer) => new Uint8Array(buffer),
  /** Write `s` at `at`, at most up to `end`; the bytes written (never a partial character). */
  write: (view, s, at, end) => ENCODER.encodeInto(s, view.subarray(at, end)).written,
  /** The text of bytes `start` to `end`. */
  read: (view, start, end) => DECODER.decode(view.subarray(start, end)),
};

/**
 * What `classify` returns: own, plain fields, and `details` (on the prototype) parsed from the
 * server's JSON text when first read, then kept: parsing them cost as much as the rest of a
 * call, and most callers never look. A getter on the prototype costs nothing a call; an own
 * lazy property (`Object.defineProperty` on each result) cost 0.35-0.45 µs of a 3.5 µs call.
 * `toJSON()` (so `JSON.stringify`) and Node's `util.inspect` (so `console.log`) include it;
 * a spread or `structuredClone` copies only the own fields: use `c.toJSON()` for a plain copy.
 * One class per module bound (`makeIo`), whose `redo` builds deferred details.
 */
function classificationClass(redo) {
  return class Classification {
    /**
     * The details' JSON text; null when none; '' when deferred: `redo` classifies the call's
     * status, content type and body (`#status`, `#contentType`, `#body`) again to build it. A
     * text body cannot change after the call, so its details need not be built before they are
     * read (building them was ~10% of a call, and most callers never read them).
     */
    #json;
    #status;
    #contentType;
    #body;
    #details;
    constructor(json, status, contentType, body) {
      this.#json = json;
      this.#status = status;
      this.#contentType = contentType;
      this.#body = body;
    }
    /** The structured part of the error body, `null` when none; parsed when first read. */
    get details() {
      if (this.#details === undefined) {
        if (this.#json === '') {
          this.#json = redo(this.#status, this.#contentType, this.#body);
          this.#body = null;
        }
        this.#details = detailsValue(this.#json);
      }
      return this.#details;
    }
    set details(value) {
      this.#details = value;
    }
    /** A plain object of every field, `details` included (what `JSON.stringify` writes). */
    toJSON() {
      return { ...this, details: this.details };
    }
    /** `console.log` in Node shows `details` too. */
    [Symbol.for('nodejs.util.inspect.custom')]() {
      return this.toJSON();
    }
  };
}

function makeIo(raw, codec) {
  const memory = raw.wasmMemory();
  let u8 = null;
  let f64 = null;
  let tv = null;
  let base = 0;
  let cap = 0;
  /**
   * Names (category, reason, dialect, transport error) by their key, a small integer below
   * 1024 (see `name_key` in `src/classify.rs`): each decoded once.
   */
  const names = new Array(1024).fill(null);
  /**
   * Views of the memory as it is now. Growing the memory detaches its old buffer, and a view of
   * a detached buffer has length 0: checking that is cheaper than `memory.buffer` (a call into
   * the engine), and this runs twice a call.
   */
  const views = () => {
    if (u8 === null || u8.length === 0) {
      const buffer = memory.buffer;
      u8 = new Uint8Array(buffer);
      f64 = new Float64Array(buffer);
      tv = codec.view(buffer);
    }
  };
  /** Room for `need` bytes of input; what was written so far is kept. */
  const ensure = (need) => {
    if (need > cap) {
      cap = Math.max(need, 2 * cap, 4096);
      base = raw.ioInput(cap);
      views();
    }
  };
  /** Write `s` as UTF-8 at `at` (room for it is made here); the end. */
  const putText = (s, at) => {
    const n = s.length;
    ensure(at + 3 * n);
    const p = base + at;
    if (n < 16) {
      // A loop beats a call into the encoder for a few characters (a method, say).
      let i = 0;
      for (; i < n; i += 1) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        u8[p + i] = c;
      }
      if (i === n) return at + n;
    }
    return at + codec.write(tv, s, p, p + 3 * n);
  };
  /**
   * Write `s` at `at` if it is all ASCII (then return the end), else return -1. Room for
   * `s.length` bytes must have been made.
   */
  const asciiInto = (s, at) => {
    const p = base + at;
    const n = s.length;
    for (let i = 0; i < n; i += 1) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return -1;
      u8[p + i] = c;
    }
    return at + n;
  };
  /**
   * The header names and values of the call, in order (name, value, name, value...): the
   * first `nf` entries (the array is reused; what follows is stale).
   */
  const fields = [];
  let nf = 0;
  /** Their lengths in bytes, when they are not all ASCII. */
  const lens = [];
  const headerValue = (v) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new InvalidInputError('a header value must be a string');
  };
  /** Headers in any of their shapes, into `fields`. */
  const collectHeaders = (h) => {
    if (h == null) return;
    if (typeof h[Symbol.iterator] === 'function' && typeof h !== 'string') {
      for (const p of h) {
        if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') {
          throw new InvalidInputError('headers as a list hold [name, value] pairs of strings');
        }
        fields[nf] = p[0];
        fields[nf + 1] = headerValue(p[1]);
        nf += 2;
      }
      return;
    }
    if (typeof h === 'object') {
      const keys = Object.keys(h);
      for (let i = 0; i < keys.length; i += 1) {
        const k = keys[i];
        const v = h[k];
        if (typeof v === 'string') {
          fields[nf] = k;
          fields[nf + 1] = v;
          nf += 2;
        } else if (Array.isArray(v)) {
          for (const x of v) {
            fields[nf] = k;
            fields[nf + 1] = headerValue(x);
            nf += 2;
          }
        } else if (v !== undefined) {
          fields[nf] = k;
          fields[nf + 1] = headerValue(v);
          nf += 2;
        }
      }
      return;
    }
    throw new InvalidInputError('headers must be a plain object, an array of [name, value] pairs or a Headers');
  };
  /** The result's strings, decoded at once; each is a slice of it. */
  let all = '';
  const text = (i) => {
    const len = f64[i + 1];
    if (len < 0) return null;
    const off = f64[i];
    return all.slice(off, off + len);
  };
  let t = 0;
  const name = (i) => {
    const key = f64[i];
    if (key < 0) return null;
    let n = names[key];
    if (n === null) {
      const at = t + f64[i + 1];
      n = codec.read(tv, at, at + f64[i + 2]);
      names[key] = n;
    }
    return n;
  };
  /**
   * The details text of a classification whose details were deferred: classifies its status,
   * content type and body again, building them. Details depend on nothing else.
   */
  const redo = (status, contentType, body) => {
    const headers = contentType === null ? undefined : [['content-type', contentType]];
    return guarded(status, undefined, undefined, false, 0, headers, body, undefined, true);
  };
  const Classification = classificationClass(redo);
  function guarded(status, transportError, method, idempotencyKey, now, headers, body, rules, again) {
    try {
      return run(status, transportError, method, idempotencyKey, now, headers, body, rules, again);
    } catch (e) {
      // After a trap the module starts again from empty buffers: ask for the input buffer anew
      // (after any other error this costs one call that hands back the same buffer).
      cap = 0;
      throw e;
    }
  }
  /**
   * Classify: `method` a string or undefined, `headers` any shape, `body` a string or a
   * Uint8Array. Returns a `Classification`.
   */
  return function classifyIo(status, transportError, method, idempotencyKey, now, headers, body, rules) {
    return guarded(status, transportError, method, idempotencyKey, now, headers, body, rules, false);
  };
  /**
   * One classification. `again`: only the details' text is wanted (for `redo`), and returned.
   */
  function run(status, transportError, method, idempotencyKey, now, headers, body, rules, again) {
    views();
    if (cap === 0) ensure(4096);
    nf = 0;
    collectHeaders(headers);
    // A text body's details are built when first read (see `Classification`); bytes can
    // change after the call, so theirs are built now.
    const defer = !again && typeof body === 'string';
    // A long text is encoded first: room for 3 bytes per character would be wasted.
    if (typeof body === 'string' && body.length > 65536) body = ENCODER.encode(body);
    const textBody = typeof body === 'string';
    // The method and the headers go in first: by a JavaScript loop when short, else as one
    // string encoded in one call (a call per string cost more than the encoding); then a text
    // body in a second call (joined to the rest, it would be copied once more). When they are
    // ASCII (the usual case), every part is as long in bytes as in UTF-16 units; when not,
    // each part is written again on its own to learn its length in bytes.
    const m = method === undefined ? '' : method;
    let units = m.length;
    for (let i = 0; i < nf; i += 1) units += fields[i].length;
    let at;
    if (units <= 256) {
      // A few short strings (the usual case): a loop writes them with no call into the engine
      // and no joined string to flatten (measured ~50 ns less a call for three headers).
      ensure(units);
      at = asciiInto(m, 0);
      for (let i = 0; i < nf && at >= 0; i += 1) at = asciiInto(fields[i], at);
    } else {
      let joined = m;
      for (let i = 0; i < nf; i += 1) joined += fields[i];
      at = putText(joined, 0);
      if (at !== units) at = -1;
    }
    const ascii = at >= 0;
    let methodLen = m.length;
    if (!ascii) {
      methodLen = putText(m, 0);
      at = methodLen;
      for (let i = 0; i < nf; i += 1) {
        const end = putText(fields[i], at);
        lens[i] = end - at;
        at = end;
      }
    }
    const headersLen = at - methodLen;
    if (textBody) {
      at = putText(body, at);
    } else {
      ensure(at + body.length);
      u8.set(body, base + at);
      at += body.length;
    }
    const bodyLen = at - methodLen - headersLen;
    // Then the lengths of the header names and values, a u32 (little-endian) each.
    ensure(at + 4 * nf);
    for (let i = 0, p = base + at; i < nf; i += 1, p += 4) {
      const len = ascii ? fields[i].length : lens[i];
      u8[p] = len & 0xff;
      u8[p + 1] = (len >>> 8) & 0xff;
      u8[p + 2] = (len >>> 16) & 0xff;
      u8[p + 3] = len >>> 24;
    }
    if (rules !== undefined) raw.setRules(rules);
    const p = raw.classifyIo(
      status,
      transportError,
      method === undefined ? -1 : methodLen,
      idempotencyKey,
      now,
      headersLen,
      bodyLen,
      nf >> 1,
      rules !== undefined,
      defer,
    );
    if (p === 0) throw raw.lastError();
    views();
    const n = p / 8;
    t = f64[n];
    const head = f64[n + 1];
    all = head === 0 ? '' : codec.read(tv, t, t + head);
    const hint = f64[n + 20];
    const violations = [];
    for (let v = f64[n + 42], i = n + 44; v > 0; v -= 1, i += 6) {
      violations.push({ field: text(i), message: text(i + 3) });
    }
    const json = text(n + 39);
    if (again) return json;
    // Deferred details: the header that gave the content type, if any (a string, as the status
    // and the body: nothing the caller can change).
    const ct = json === '' && f64[n + 43] >= 0 ? fields[2 * f64[n + 43] + 1] : null;
    // The arrays are kept for the next call, but not a long list's strings.
    if (fields.length > 64) fields.length = lens.length = 0;
    const c = new Classification(json, status, ct, json === '' ? body : null);
    c.category = name(n + 3);
    c.reason = name(n + 7);
    c.status = num(f64[n + 19]);
    c.transportError = name(n + 15);
    c.code = text(n + 27);
    c.message = text(n + 30);
    c.requestId = text(n + 33);
    c.referenceId = text(n + 36);
    c.retryableHint = hint < 0 ? null : hint === 1;
    c.retryAfterMs = num(f64[n + 21]);
    c.rateLimitRemaining = num(f64[n + 22]);
    c.rateLimitResetMs = num(f64[n + 23]);
    c.rateLimitLimit = num(f64[n + 24]);
    c.rateLimitWindowMs = num(f64[n + 25]);
    c.violations = violations;
    c.dialect = name(n + 11);
    c.requestNotProcessed = f64[n + 26] === 1;
    return c;
  }
}

/**
 * Build the JavaScript API over a loaded wasm-bindgen module (`raw`): the Node and the
 * browser entry points differ only in how they load it.
 */
export function bind(raw, codec = WEB_TEXT) {
  const classifyIo = makeIo(raw, codec);

  function classify(input) {
    if (input == null || typeof input !== 'object') {
      throw new InvalidInputError('classify takes an object {status, headers, body, method, idempotencyKey, now}');
    }
    for (const k in input) {
      if (!isClassifyKey(k) && Object.hasOwn(input, k)) {
        throw new InvalidInputError(`unknown field \`${k.slice(0, 40)}\` (known: ${CLASSIFY_KEYS.join(', ')})`);
      }
    }
    const { status, transportError, method, rules } = input;
    if (status != null && typeof status !== 'number') throw new InvalidInputError('`status` must be an integer');
    if (transportError != null && typeof transportError !== 'string') {
      throw new InvalidInputError('`transportError` must be a string');
    }
    if (method != null && typeof method !== 'string') {
      throw new InvalidInputError('`method` must be a short string like "POST"');
    }
    try {
      return classifyIo(
        status ?? undefined,
        transportError ?? undefined,
        method ?? undefined,
        Boolean(input.idempotencyKey),
        checkNow(input.now),
        input.headers,
        bodyArg(input.body),
        rules ?? undefined,
      );
    } catch (e) {
      throw mapError(e);
    }
  }

  async function classifyResponse(response, options = {}) {
    if (response == null || typeof response.status !== 'number' || response.headers == null) {
      throw new InvalidInputError('classifyResponse takes a fetch Response');
    }
    if (response.bodyUsed) {
      throw new InvalidInputError(
        'the response body was already read; classify before reading it, or pass the body to classify()',
      );
    }
    const body = await readPrefix(response.clone(), BODY_PREFIX_BYTES);
    return classify({
      status: response.status,
      headers: response.headers,
      body,
      method: options.method,
      idempotencyKey: options.idempotencyKey,
      now: options.now,
      rules: options.rules,
    });
  }

  function classifyError(err, options = {}) {
    const kind = transportKindOf(err);
    if (kind === null) return null;
    return classify({
      transportError: kind,
      method: options.method,
      idempotencyKey: options.idempotencyKey,
    });
  }

  function parseEnvelope(body, contentType, limits) {
    const b = bodyArg(body);
    const ct = contentType ?? undefined;
    if (ct !== undefined && typeof ct !== 'string') throw new InvalidInputError('contentType must be a string');
    const out = call(() =>
      typeof b === 'string' ? raw.parseEnvelopeText(b, ct, limits) : raw.parseEnvelopeBytes(b, ct, limits),
    );
    out.details = detailsValue(out.details);
    return out;
  }

  function readHeaders(headers, now) {
    const text = headerText(headers);
    return call(() => raw.readHeaders(text, checkNow(now)));
  }

  class RetryPolicy {
    #inner;
    constructor(options) {
      this.#inner = call(() => new raw.RetryPolicy(defined(options)));
    }
    /** `{decision, delayMs, source, giveUpReason, stopReason, resumeAtMs}`. */
    decide(classification, attempt, random) {
      const r = random === undefined ? Math.random() : random;
      return call(() => this.#inner.decide(classification, defined(attempt), r));
    }
    backoff(attempt, previousDelayMs, random) {
      const r = random === undefined ? Math.random() : random;
      return call(() => this.#inner.backoff(attempt, previousDelayMs ?? undefined, r));
    }
  }

  class CircuitBreaker {
    #inner;
    #options;
    constructor(options, inner) {
      this.#options = defined(options);
      this.#inner = inner ?? call(() => new raw.CircuitBreaker(this.#options));
    }
    admit(nowMs) {
      return call(() => this.#inner.admit(nowMs));
    }
    onSuccess(nowMs) {
      call(() => this.#inner.onSuccess(nowMs));
    }
    onFailure(nowMs, retryAfterMs) {
      call(() => this.#inner.onFailure(nowMs, retryAfterMs ?? undefined));
    }
    onNeutral(nowMs) {
      call(() => this.#inner.onNeutral(nowMs));
    }
    record(classification, nowMs) {
      call(() => this.#inner.record(classification, nowMs));
    }
    state(nowMs) {
      return call(() => this.#inner.state(nowMs));
    }
    toJSON() {
      return call(() => this.#inner.snapshot());
    }
    static fromJSON(snapshot, options) {
      const o = defined(options);
      return new CircuitBreaker(o, call(() => raw.CircuitBreaker.restore(snapshot, o)));
    }
  }

  class RetryBudget {
    #inner;
    constructor(options, inner) {
      this.#inner = inner ?? call(() => new raw.RetryBudget(defined(options)));
    }
    canRetry() {
      return call(() => this.#inner.canRetry());
    }
    get tokens() {
      return call(() => this.#inner.tokens());
    }
    onSuccess() {
      call(() => this.#inner.onSuccess());
    }
    onFailure() {
      call(() => this.#inner.onFailure());
    }
    record(classification) {
      call(() => this.#inner.record(classification));
    }
    toJSON() {
      return call(() => this.#inner.snapshot());
    }
    static fromJSON(snapshot, options) {
      return new RetryBudget(undefined, call(() => raw.RetryBudget.restore(snapshot, defined(options))));
    }
  }

  class RateGate {
    #inner;
    constructor(inner) {
      this.#inner = inner instanceof raw.RateGate ? inner : call(() => new raw.RateGate());
    }
    closeFor(nowMs, delayMs) {
      call(() => this.#inner.closeFor(nowMs, delayMs));
    }
    record(classification, nowMs) {
      call(() => this.#inner.record(classification, nowMs));
    }
    wait(nowMs) {
      return call(() => this.#inner.wait(nowMs));
    }
    isOpen(nowMs) {
      return call(() => this.#inner.isOpen(nowMs));
    }
    get reopensAtMs() {
      return call(() => this.#inner.reopensAtMs()) ?? null;
    }
    toJSON() {
      return call(() => this.#inner.snapshot());
    }
    static fromJSON(snapshot) {
      return new RateGate(call(() => raw.RateGate.restore(snapshot)));
    }
  }

  class Pacer {
    #inner;
    constructor(options, inner) {
      this.#inner = inner ?? call(() => new raw.Pacer(defined(options)));
    }
    acquire(nowMs) {
      return call(() => this.#inner.acquire(nowMs));
    }
    waitMs(nowMs) {
      return call(() => this.#inner.waitMs(nowMs));
    }
    record(classification, nowMs) {
      call(() => this.#inner.record(classification, nowMs));
    }
    recordSent(classification, sentMs, nowMs) {
      call(() => this.#inner.recordSent(classification, sentMs, nowMs));
    }
    get rate() {
      return call(() => this.#inner.rate()) ?? null;
    }
    pace(nowMs) {
      return call(() => this.#inner.pace(nowMs)) ?? null;
    }
    get cuts() {
      return call(() => this.#inner.cuts());
    }
    measuredRate(nowMs) {
      return call(() => this.#inner.measuredRate(nowMs));
    }
    toJSON() {
      return call(() => this.#inner.snapshot());
    }
    static fromJSON(snapshot) {
      return new Pacer(undefined, call(() => raw.Pacer.restore(snapshot)));
    }
  }

  /** The breaker, budget and pacer of each origin, shared by every call that uses it. */
  class SharedState {
    #options;
    #origins = new Map();
    constructor(options = {}) {
      const known = new Set(['breaker', 'budget', 'pacer']);
      for (const k of Object.keys(options)) {
        if (!known.has(k)) throw new InvalidOptionError(`unknown SharedState option \`${k}\``, k);
      }
      this.#options = options;
      // Build once now so bad options fail here, not on the first request.
      this.#make();
    }
    #make() {
      return {
        breaker: new CircuitBreaker(this.#options.breaker),
        budget: new RetryBudget(this.#options.budget),
        pacer: new Pacer(this.#options.pacer),
      };
    }
    /** The machines of one origin (`https://api.example.com`), made on first use. */
    forOrigin(origin) {
      let m = this.#origins.get(origin);
      if (!m) {
        m = this.#make();
        this.#origins.set(origin, m);
      }
      return m;
    }
    /** `{origin: {breaker, budget, pacer}}` snapshots. */
    toJSON() {
      const out = {};
      for (const [o, m] of this.#origins) {
        out[o] = {
          breaker: m.breaker.toJSON(),
          budget: m.budget.toJSON(),
          pacer: m.pacer.toJSON(),
        };
      }
      return out;
    }
  }

  let defaultState;
  const FETCH_OPTION_KEYS = new Set([
    'policy',
    'deadlineMs',
    'idempotencyKey',
    'onDecision',
    'state',
    'rules',
    'fetch',
    'random',
  ]);

  async function fetchWithRetry(input, init = {}, options = {}) {
    for (const k of Object.keys(options)) {
      if (!FETCH_OPTION_KEYS.has(k)) throw new InvalidOptionError(`unknown fetchWithRetry option \`${k}\``, k);
    }
    const doFetch = options.fetch ?? globalThis.fetch;
    const random = options.random ?? Math.random;
    const state = options.state ?? (defaultState ??= new SharedState());
    const isRequest = typeof Request !== 'undefined' && input instanceof Request;
    const url = new URL(isRequest ? input.url : String(input), globalThis.location?.href);
    const origin = url.origin;
    const machines = state.forOrigin(origin);
    const method = (init.method ?? (isRequest ? input.method : 'GET')).toUpperCase();
    const deadlineMs = options.deadlineMs;
    if (deadlineMs !== undefined && !(Number.isFinite(deadlineMs) && deadlineMs > 0)) {
      throw new InvalidOptionError('deadlineMs must be a positive number of milliseconds', 'deadlineMs');
    }
    const policyOptions = options.policy instanceof RetryPolicy ? null : { ...(options.policy ?? {}) };
    if (policyOptions && deadlineMs !== undefined) {
      policyOptions.deadlineMs = Math.min(policyOptions.deadlineMs ?? Infinity, deadlineMs);
    }
    const policy = policyOptions ? new RetryPolicy(policyOptions) : options.policy;

    // One Idempotency-Key for every attempt: the caller's header, the caller's key, or (by
    // default for POST) a fresh one. Without a key a POST is repeated only when the core says
    // the server never saw it.
    const headers = new Headers(init.headers ?? (isRequest ? input.headers : undefined));
    const opt = options.idempotencyKey;
    if (!headers.has('idempotency-key')) {
      if (typeof opt === 'string' && opt !== '') headers.set('Idempotency-Key', opt);
      else if (opt === true || (opt === undefined && method === 'POST')) headers.set('Idempotency-Key', newKey());
    }
    const hasKey = headers.has('idempotency-key');

    const streamBody = isStream(init.body);
    const userSignal = init.signal ?? (isRequest ? input.signal : undefined);
    const started = monotonic();
    const deadlineAt = deadlineMs === undefined ? Infinity : started + deadlineMs;

    const deadlineError = () =>
      new DeadlineExceededError(`fetchWithRetry: the ${deadlineMs} ms deadline passed`);
    /** Wait `ms`, but never past the deadline, and stop at the caller's abort. */
    const wait = async (ms) => {
      if (!(ms > 0)) return;
      const until = performance.now() + ms;
      // Never go on (send, or report the deadline) before the time.
      await sleepUntil(Math.min(until, deadlineAt), userSignal);
      if (until > deadlineAt) throw deadlineError();
    };

    let number = 0;
    let polls = 0;
    let rateLimited = 0;
    let nextIsPoll = false;
    let previousDelayMs;
    let sentStream = false;

    for (;;) {
      // 1. The origin's pacer hands out this attempt's send time. A throttle that cut the rate
      //    while we waited means the slot was paced at the old rate: ask again (at most 4
      //    times, as the Rust driver does). The pacer also holds sends through a long
      //    Retry-After, so no separate gate is needed (a gate stalls every caller for a whole
      //    whole-second Retry-After and lets them stampede at reopening).
      let sentAt;
      for (let asks = 0; ; asks += 1) {
        const now = monotonic();
        sentAt = machines.pacer.acquire(now);
        const cuts = machines.pacer.cuts;
        await wait(sentAt - now);
        if (asks >= 3 || machines.pacer.cuts === cuts) break;
      }
      // 2. The origin's breaker.
      {
        const now = monotonic();
        const a = machines.breaker.admit(now);
        if (a.admission === 'rejected') {
          throw new CircuitOpenError(
            `the circuit breaker for ${origin} is open`,
            Math.max(0, (a.retryAtMs ?? now) - now),
          );
        }
      }
      if (streamBody && sentStream) {
        // Unreachable by construction (a retry of a stream throws below); kept as a guard.
        throw new BodyNotReplayableError('the request body is a stream and was already sent');
      }

      // 3. Send, within the deadline and the caller's signal.
      if (nextIsPoll) polls += 1;
      else number += 1;
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort(userSignal.reason);
      if (userSignal?.aborted) throw userSignal.reason;
      userSignal?.addEventListener('abort', onAbort, { once: true });
      let deadlineFired = false;
      const timer =
        deadlineAt === Infinity
          ? undefined
          : timerAt(deadlineAt, () => {
              deadlineFired = true;
              ctrl.abort(deadlineError());
            });
      const attemptInit = { ...init, headers, signal: ctrl.signal, method };
      if (streamBody) {
        attemptInit.duplex = 'half';
        sentStream = true;
      }
      let response;
      let c;
      try {
        try {
          response = await doFetch(isRequest ? input.clone() : input, attemptInit);
          c = await classifyResponse(response, { method, idempotencyKey: hasKey, rules: options.rules });
        } catch (err) {
          if (userSignal?.aborted) throw userSignal.reason;
          if (deadlineFired) throw deadlineError();
          if (err instanceof HttpTriageError) throw err;
          c = classifyError(err, { method, idempotencyKey: hasKey });
          if (c === null) throw err;
          response = undefined;
          c.error = err;
        }
      } finally {
        clearTimeout(timer?.id);
        userSignal?.removeEventListener('abort', onAbort);
      }
      const transportErr = c.error;
      delete c.error;

      // 4. Record in the origin's machines, then decide.
      const now = monotonic();
      // One cut per round trip: the pacer needs to know when this request left.
      machines.pacer.recordSent(c, sentAt, now);
      machines.breaker.record(c, now);
      machines.budget.record(c);
      const canRetry = machines.budget.canRetry();
      if (c.reason === 'rate_limited') rateLimited += 1;
      const d = policy.decide(
        c,
        {
          number: Math.max(1, number),
          polls,
          elapsedMs: now - started,
          nowMs: now,
          previousDelayMs,
          rateLimited,
        },
        random(),
      );
      const refused = d.decision === 'retry' && !canRetry;
      const event = {
        attempt: number + polls,
        status: c.status,
        transportError: c.transportError,
        category: c.category,
        reason: c.reason,
        code: c.code,
        decision: refused ? 'budget_exhausted' : d.decision,
        delayMs: refused ? null : d.delayMs,
        source: refused ? null : d.source,
        requestId: c.requestId,
        elapsedMs: now - started,
      };
      if (options.onDecision) {
        try {
          options.onDecision(event);
        } catch {
          // A hook's bug must not change what happens to the request.
        }
      }

      if (!refused && (d.decision === 'retry' || d.decision === 'poll')) {
        if (streamBody) {
          response?.body?.cancel().catch(() => {});
          throw new BodyNotReplayableError(
            `the core decided to ${d.decision} (${c.reason}), but the request body is a stream that was ` +
              'already sent and cannot be sent again; pass a string, Blob, ArrayBuffer, FormData or ' +
              'URLSearchParams body to make the request retryable',
            { classification: c, decision: d, response: response ?? null },
          );
        }
        response?.body?.cancel().catch(() => {});
        previousDelayMs = d.decision === 'retry' ? d.delayMs : previousDelayMs;
        nextIsPoll = d.decision === 'poll';
        // The core's delay already honours the server's Retry-After; the pacer's send time
        // only ever lengthens it.
        await wait(d.delayMs);
        continue;
      }
      // done, give_up, stop, defer, or a retry the budget refused: hand back what came back.
      if (response) return response;
      throw transportErr;
    }
  }

  return {
    classify,
    classifyResponse,
    classifyError,
    parseEnvelope,
    readHeaders,
    RetryPolicy,
    CircuitBreaker,
    RetryBudget,
    RateGate,
    Pacer,
    SharedState,
    fetchWithRetry,
    version: () => raw.version(),
    InternalError,
  };
}
