// jose-bench.mjs: the baseline of vault-bench's ES256 JWT row (issue 14):
// npm `jose` signing ES256 JWTs with an in-memory P-256 key, one thread
// (node's event loop, one token at a time), for SECONDS seconds.
//
//   node jose-bench.mjs SECONDS
//
// The token carries what vaultd's POST /v1/jwt/bench-p256-jwt/issue makes of
// vault-bench's request ({"claims":{"sub":"vault-bench"},"ttl":60} with the
// bench config's issuer): header alg ES256, typ JWT, a kid; claims sub, iss,
// iat, exp. Prints "ops_per_sec N", "p50_us N", "p99_us N", "tokens N".
// jose comes from NODE_PATH or the node_modules next to the script's
// caller (bench.sh points NODE_PATH at tests/interop's installed packages).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const seconds = Number(process.argv[2] ?? '1.5');
if (!(seconds > 0 && seconds <= 600)) {
  console.error('usage: node jose-bench.mjs SECONDS');
  process.exit(2);
}

// ESM ignores NODE_PATH: resolve jose through it by hand.
async function loadJose() {
  const dirs = (process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const d of dirs) {
    try {
      const req = createRequire(path.join(d, 'noop.js'));
      const p = req.resolve('jose');
      return await import(pathToFileURL(p).href);
    } catch {
      /* next */
    }
  }
  return import('jose');
}

const { SignJWT, generateKeyPair, jwtVerify, exportJWK, calculateJwkThumbprint } = await loadJose();
const { privateKey, publicKey } = await generateKeyPair('ES256');
const kid = await calculateJwkThumbprint(await exportJWK(publicKey));

async function issue() {
  return new SignJWT({ sub: 'vault-bench' })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
    .setIssuer('https://vault-bench.invalid')
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(privateKey);
}

// Warm up (and check one token), then measure.
const first = await issue();
await jwtVerify(first, publicKey, { issuer: 'https://vault-bench.invalid' });
for (let i = 0; i < 200; i++) await issue();

const lat = [];
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(seconds * 1e9));
let now = t0;
while (now < end) {
  const a = now;
  await issue();
  now = process.hrtime.bigint();
  lat.push(Number(now - a) / 1e3);
}
const elapsed = Number(now - t0) / 1e9;
lat.sort((x, y) => x - y);
const pick = (q) => lat[Math.floor((lat.length - 1) * q)];
console.log(`ops_per_sec ${(lat.length / elapsed).toFixed(1)}`);
console.log(`p50_us ${pick(0.5).toFixed(1)}`);
console.log(`p99_us ${pick(0.99).toFixed(1)}`);
console.log(`tokens ${lat.length}`);
