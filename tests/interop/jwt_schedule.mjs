// Scheduled rotation as relying parties see it (tests/integration/key_schedule_replicas.sh):
// node jwt_schedule.mjs --log FILE --issuer ISS --audience AUD
//
// FILE has one JSON object a line, in the order the test made them, with
// the test's simulated time t (unix seconds):
//   {"kind":"jwks","t":T,"from":"A","max_age":60,"jwks":{...}}  a JWK Set fetched (t: after the fetch)
//   {"kind":"token","t":T,"from":"B","ttl":7200,"token":"..."} a JWT issued (t: before the request)
//
// Every token must verify with jose against every JWK Set fetched at an
// earlier moment within that set's max-age (t_jwks <= t_token <= t_jwks +
// max_age: a relying party's cache at the moment the token was issued),
// and against every JWK Set fetched later while the token is still valid
// (t_token <= t_jwks <= t_token + ttl). jose checks the claims at the
// token's own iat (vaultd stamps iat with the real clock; the pairing
// uses the simulated one). Prints the counts; exits 1 on any failure.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

function arg(name) {
	const i = process.argv.indexOf(name);
	if (i < 0 || i + 1 >= process.argv.length) {
		console.error(`usage: jwt_schedule.mjs --log FILE --issuer ISS --audience AUD (missing ${name})`);
		process.exit(2);
	}
	return process.argv[i + 1];
}

const issuer = arg('--issuer');
const audience = arg('--audience');
const lines = readFileSync(arg('--log'), 'utf8').split('\n').filter((l) => l.length > 0);
const sets = [];
const tokens = [];
for (const l of lines) {
	const o = JSON.parse(l);
	if (o.kind === 'jwks') {
		o.keyset = createLocalJWKSet(o.jwks);
		o.kids = new Set(o.jwks.keys.map((k) => k.kid));
		sets.push(o);
	} else if (o.kind === 'token') {
		o.kid = decodeProtectedHeader(o.token).kid;
		o.iat = decodeJwt(o.token).iat;
		tokens.push(o);
	}
}

let checked = 0;
let earlier = 0;
let later = 0;
let gone = 0;
const failures = [];
for (const tk of tokens) {
	for (const s of sets) {
		const before = s.t <= tk.t && tk.t <= s.t + s.max_age;
		const after = tk.t <= s.t && s.t <= tk.t + tk.ttl;
		if (!before && !after) {
			// long after the token expired, a retired key may be gone
			if (s.t > tk.t + tk.ttl && !s.kids.has(tk.kid))
				gone++;
			continue;
		}
		checked++;
		if (before)
			earlier++;
		else
			later++;
		try {
			await jwtVerify(tk.token, s.keyset, {
				issuer,
				audience,
				currentDate: new Date(tk.iat * 1000),
			});
		} catch (e) {
			failures.push(
				`token from ${tk.from} at t=${tk.t} (kid ${tk.kid}) against the JWK Set from ${s.from} ` +
					`at t=${s.t} (${before ? 'fetched earlier, within max-age' : 'fetched later, token still valid'}; ` +
					`kids ${[...s.kids].join(',')}): ${e.code || e.message}`,
			);
		}
	}
}
const kids = new Set(tokens.map((t) => t.kid));
console.log(
	`tokens ${tokens.length}, JWK Sets ${sets.length}, signing kids ${kids.size}, ` +
		`pairs checked ${checked} (JWK Set earlier within max-age ${earlier}, later within the token's lifetime ${later}), ` +
		`pairs with the key gone long after expiry ${gone}, failures ${failures.length}`,
);
for (const f of failures.slice(0, 20))
	console.error(f);
process.exit(failures.length === 0 ? 0 : 1);
