// Test helpers: spawn the real `http-triage serve` on loopback, and pick files by their fate.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** The `http-triage` binary (feature `cli`): $HTTP_TRIAGE_BIN, else the debug build. */
export const BIN = process.env.HTTP_TRIAGE_BIN ?? join(ROOT, 'target/debug/http-triage');
export const KEY = 'demo-key';

/** Start `http-triage serve ARGS` on a free port; resolves `{url, stop}` once it listens. */
export function startServe(args = []) {
  const child = spawn(BIN, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 20 s: ${stderr}`)), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stats: async () => (await fetch(`${m[1]}/stats`)).json(),
          stop: () =>
            new Promise((res) => {
              child.removeAllListeners('exit');
              child.on('exit', res);
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

// serve's fate of a file (core/src/serve/mod.rs `fate_of_digest`), so a test can pick a file
// that fails the way it needs.
function unit(b) {
  let x = 0n;
  for (let i = 0; i < 8; i += 1) x = (x << 8n) | BigInt(b[i]);
  return Number(x >> 11n) / 2 ** 53;
}
function pick(u, options) {
  const total = options.reduce((s, o) => s + o[1], 0);
  let x = u * total;
  for (const [t, w] of options) {
    if (x < w) return t;
    x -= w;
  }
  return options[options.length - 1][0];
}
export function fateOf(bytes, { seed = 0, permanentRate = 0.03, transientRate = 0.05 } = {}) {
  const content = createHash('sha256').update(bytes).digest();
  const seedLe = Buffer.alloc(8);
  seedLe.writeBigUInt64LE(BigInt(seed));
  const h = createHash('sha256').update('http-triage fate v1\0').update(seedLe).update(content).digest();
  const u = unit(h.subarray(0, 8));
  if (u < permanentRate) {
    const kind = pick(unit(h.subarray(8, 16)), [
      ['corrupted', 30],
      ['encrypted', 20],
      ['unsupported_variant', 30],
      ['too_large', 10],
      ['bad_request', 10],
    ]);
    return { fate: 'permanent', kind };
  }
  if (u < permanentRate + transientRate) {
    const kind = pick(unit(h.subarray(17, 25)), [
      ['500', 25],
      ['502_html', 15],
      ['503', 20],
      ['504', 15],
      ['drop', 15],
      ['hang', 10],
    ]);
    return { fate: 'transient', failures: 1 + (h[16] & 1), kind };
  }
  return { fate: 'ok' };
}

/** A file body whose fate matches `want` (fields compared), unique per `tag`. */
export function fileWithFate(rates, want, tag = '') {
  for (let i = 0; i < 100_000; i += 1) {
    const body = `file ${tag} ${i} ${process.pid}`;
    const f = fateOf(Buffer.from(body), rates);
    if (Object.entries(want).every(([k, v]) => f[k] === v)) return body;
  }
  throw new Error(`no file with fate ${JSON.stringify(want)}`);
}
