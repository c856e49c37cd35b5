// Verifies JWTs issued by a running vaultd with the npm package `jose`,
// against the JWK Set that jose itself fetches from the service
// (GET /.well-known/jwks.json). Used by tests/integration/vaultd_jose_interop.sh.
//
//   node jwt_jose.mjs (--socket PATH | --jwks-url URL) --issuer ISS --audience AUD CASE...
//
// The JWK Set is fetched with createRemoteJWKSet — the way a relying party
// does it — either over vaultd's Unix socket (--socket: an http.Agent whose
// connections go to the socket, the URL being
// http://vaultd/.well-known/jwks.json) or from vaultd's TLS listener
// (--jwks-url https://127.0.0.1:PORT/.well-known/jwks.json, the test CA in
// NODE_EXTRA_CA_CERTS). Each run starts with an empty cache, so each run
// sees the service's current set.
//
// CASE is FILE:ALG:KID:EXPECT, where FILE holds one compact JWS, ALG is the
// JWS algorithm the token must have (jwtVerify is limited to it), KID the kid
// its header must name, and EXPECT is `ok` or the jose error code the
// verification must fail with (e.g. ERR_JWKS_NO_MATCHING_KEY,
// ERR_JWS_SIGNATURE_VERIFICATION_FAILED).
//
// For `ok`, jose checks the signature, `iss`, `aud` and the time claims
// (exp, nbf); this script also insists on the header's alg/kid/typ, numeric
// iat/nbf/exp with nbf == iat < exp, and a 22-character jti.
//
// Prints one line per case; exit 0 when every case came out as expected,
// 1 when one did not, 2 on a usage or setup error (JWK Set unreachable).
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as jose from 'jose';

function usage(msg) {
	console.error(`jwt_jose: ${msg}`);
	console.error('usage: node jwt_jose.mjs --socket PATH --issuer ISS --audience AUD FILE:ALG:KID:EXPECT...');
	process.exit(2);
}

function parseArgs(argv) {
	const o = { cases: [] };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const opt = { '--socket': 'socket', '--jwks-url': 'jwksUrl', '--issuer': 'issuer', '--audience': 'audience' }[a];
		if (opt) {
			if (i + 1 >= argv.length) usage(`${a} needs a value`);
			o[opt] = argv[++i];
		} else if (a.startsWith('--')) {
			usage(`unknown option ${a}`);
		} else {
			// split from the right: the path may contain ':'
			const p = a.split(':');
			if (p.length < 4) usage(`not FILE:ALG:KID:EXPECT: ${a}`);
			const expect = p.pop(), kid = p.pop(), alg = p.pop();
			o.cases.push({ file: p.join(':'), alg, kid, expect });
		}
	}
	if (!o.socket === !o.jwksUrl) usage('one of --socket and --jwks-url is required');
	if (!o.issuer || !o.audience) usage('--issuer and --audience are required');
	if (o.jwksUrl && !o.jwksUrl.startsWith('https://')) usage('--jwks-url must be https (vaultd has no plain TCP)');
	if (o.cases.length === 0) usage('no cases');
	return o;
}

// An agent that sends every request to the Unix socket, whatever the host.
class UnixSocketAgent extends http.Agent {
	constructor(path) {
		super({ keepAlive: false });
		this.socketPath = path;
	}

	createConnection(_options, callback) {
		const s = net.createConnection(this.socketPath);
		if (callback) {
			s.once('connect', () => callback(null, s));
			s.once('error', (e) => callback(e));
		}
		return s;
	}
}

function checkClaims(c, header, payload, issuer) {
	const errs = [];
	if (header.alg !== c.alg) errs.push(`header alg ${header.alg}, want ${c.alg}`);
	if (header.kid !== c.kid) errs.push(`header kid ${header.kid}, want ${c.kid}`);
	if (header.typ !== 'JWT') errs.push(`header typ ${header.typ}, want JWT`);
	if (payload.iss !== issuer) errs.push('iss differs'); // jose checked it too
	for (const k of ['iat', 'nbf', 'exp'])
		if (!Number.isInteger(payload[k])) errs.push(`${k} is not an integer`);
	if (payload.nbf !== payload.iat) errs.push('nbf != iat');
	if (!(payload.exp > payload.iat)) errs.push('exp <= iat');
	if (!(payload.exp > Date.now() / 1000)) errs.push('exp is in the past');
	if (typeof payload.jti !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(payload.jti))
		errs.push('jti is not 22 base64url characters');
	return errs;
}

async function runCase(jwks, c, o) {
	let token;
	try {
		token = readFileSync(c.file, 'utf8').trim();
	} catch (e) {
		return { pass: false, why: `cannot read ${c.file}: ${e.code}` };
	}
	try {
		const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
			issuer: o.issuer,
			audience: o.audience,
			algorithms: [c.alg],
			requiredClaims: ['iat', 'nbf', 'exp', 'jti', 'iss', 'aud'],
		});
		if (c.expect !== 'ok') return { pass: false, why: `verified, want ${c.expect}` };
		const errs = checkClaims(c, protectedHeader, payload, o.issuer);
		return errs.length ? { pass: false, why: errs.join('; ') } : { pass: true, why: 'verified' };
	} catch (e) {
		const code = e.code || e.name;
		if (code === 'ERR_JWKS_TIMEOUT' || (e instanceof jose.errors.JOSEError && /HTTP response/.test(e.message)))
			throw e; // the service, not the token
		if (c.expect === code) return { pass: true, why: `refused: ${code}` };
		return { pass: false, why: `${code}: ${e.message}` };
	}
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	const agent = o.socket ? new UnixSocketAgent(o.socket) : undefined;
	const url = new URL(o.socket ? 'http://vaultd/.well-known/jwks.json' : o.jwksUrl);
	const jwks = jose.createRemoteJWKSet(url, { agent, timeoutDuration: 10000, cooldownDuration: 0 });
	const ver = JSON.parse(readFileSync(new URL('./node_modules/jose/package.json', import.meta.url), 'utf8')).version;
	console.log(`jwt_jose: node ${process.version}, jose ${ver}, JWK Set from ${o.socket ? `${url} over ${o.socket}` : url}`);
	try {
		await jwks.reload();
	} catch (e) {
		console.error(`jwt_jose: cannot fetch the JWK Set: ${e.code || e.name}: ${e.message}`);
		process.exit(2);
	}
	let bad = 0;
	for (const c of o.cases) {
		let r;
		try {
			r = await runCase(jwks, c, o);
		} catch (e) {
			console.error(`jwt_jose: cannot fetch the JWK Set: ${e.code || e.name}: ${e.message}`);
			process.exit(2);
		}
		if (!r.pass) bad++;
		console.log(`${r.pass ? 'ok  ' : 'FAIL'} ${c.alg} kid=${c.kid} expect=${c.expect} (${c.file}): ${r.why}`);
	}
	if (agent) agent.destroy();
	console.log(`jwt_jose: ${o.cases.length - bad} as expected, ${bad} not`);
	process.exit(bad ? 1 : 0);
}

main().catch((e) => {
	console.error(`jwt_jose: ${e.stack || e}`);
	process.exit(2);
});
