"""HTTP load generator, run as a process of its own so that it never shares a core's time slices
or an event loop with the service under test:

    python -m bench.loadgen --url http://127.0.0.1:8002 --spec spec.json --concurrency 16 \
        --warmup 1 --duration 5 [--watch PID ...] [--postmaster PID]

A closed loop of ``concurrency`` workers, each on its own keep-alive HTTP/1.1 connection, written
on asyncio streams (with uvloop when installed) rather than a full client library: the generator
must cost far less CPU than the service it drives on this 2-core machine. Prints one JSON object
(``bench.measure.Outcome``). The spec file says what to send:

- ``{"kind": "orders", "token", "customer_ids", "product_ids", "employees", "lines": [2, 3]}``:
  ``POST /orders`` for a random customer with 2-3 distinct random products and a fresh
  ``Idempotency-Key`` (what a till retrying safely sends);
- ``{"kind": "paths", "token", "paths": [...]}``: ``GET`` of a random path from the list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from bench.measure import Window, outcome
from bench.procstat import CpuWatch


class HttpError(Exception):
    pass


def request_factory(spec: dict, host: str, seed: int) -> Callable[[], bytes]:
    rnd = random.Random(seed)
    auth = f"Authorization: Bearer {spec['token']}\r\n"
    if spec["kind"] == "orders":
        customers, products = spec["customer_ids"], spec["product_ids"]
        employees = spec.get("employees") or ["emp-1"]
        fewest, most = spec.get("lines", [2, 3])

        def order() -> bytes:
            lines = [{"product_id": p, "quantity": rnd.randint(1, 5)}
                     for p in rnd.sample(products, rnd.randint(fewest, most))]
            body = json.dumps({"customer_id": rnd.choice(customers), "lines": lines, "channel": "store",
                               "sales_employee_id": rnd.choice(employees)}).encode()
            head = (f"POST /orders HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
                    f"Idempotency-Key: {uuid.UUID(int=rnd.getrandbits(128))}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n")
            return head.encode() + body

        return order
    if spec["kind"] == "paths":
        prepared = [f"GET {p} HTTP/1.1\r\nHost: {host}\r\n{auth}Accept: application/json\r\n\r\n".encode()
                    for p in spec["paths"]]
        return lambda: rnd.choice(prepared)
    raise SystemExit(f"unknown spec kind {spec['kind']!r}")


_ORDER_ID = re.compile(rb'"id":\s*"([^"]+)"')


def _new_order(body: bytes, placed: set[bytes]) -> bool:
    """Whether a 201 is a new order (not the stored answer to a key used before)."""
    match = _ORDER_ID.search(body)
    if match is None or match.group(1) in placed:
        return False
    placed.add(match.group(1))
    return True


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Read one response; returns (status, whether the server will close the connection, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = 0, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    body = b""
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    elif length:
        body = await reader.readexactly(length)
    return status, close, body


async def drive(url: str, spec: dict, concurrency: int, window: Window, watch: CpuWatch) -> str:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    first_sent, last_done = [float("inf")], [0.0]
    answered: set[int] = set()
    placed: set[bytes] = set()
    all_answered = asyncio.Event()

    warm: list[float] = []  # latencies before the window, to size it

    async def worker(n: int) -> None:
        # A seed from the OS, not the clock: two runs started within one second (a warm-up and
        # the measured run) drew the same Idempotency-Keys, and the second run's orders were replays.
        build = request_factory(spec, f"{host}:{port}", seed=random.SystemRandom().getrandbits(64))
        if window.requests is None:
            # Ramp up over the first half of the warm-up: 64 first requests at once are a burst
            # that a slow service takes many seconds to work through, not its steady state.
            await asyncio.sleep(window.warmup / 2 * n / concurrency)
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while window.take():
                request = build()
                sent = time.perf_counter()
                first_sent[0] = min(first_sent[0], sent)
                try:
                    writer.write(request)
                    status, close, body = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    status, close, body = type(exc).__name__, True, b""  # type: ignore[assignment]
                done = time.perf_counter()
                answered.add(n)
                if len(answered) == concurrency:
                    all_answered.set()
                ok = isinstance(status, int) and 200 <= status < 300
                if window.counts(done):
                    last_done[0] = max(last_done[0], done)
                    if ok and spec["kind"] == "orders" and not _new_order(body, placed):
                        errors["201 replaying an earlier order"] += 1  # the same Idempotency-Key again
                    elif ok:
                        latencies.append(done - sent)
                    else:
                        errors[str(status)] += 1
                elif not ok and done >= window.end:
                    errors[f"{status} after the window"] += 1  # not counted, but a failure worth knowing of
                elif ok and done < window.start:
                    warm.append(done - sent)
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    window.open()
    opened = time.perf_counter()
    workers = [asyncio.create_task(worker(n)) for n in range(concurrency)]
    if window.requests is None:
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        if not all_answered.is_set():
            # Some worker still waits for its first answer: no steady state yet. Wait for it, then
            # let a warm-up pass, so that the window does not open on the burst that answer ends.
            window.hold()
            await asyncio.wait_for(all_answered.wait(), 300)
            await asyncio.sleep(window.warmup)
        # A window shorter than a few latencies counts bursts, not a rate: at least 3 median latencies
        # (at most twice the planned length, so a quick run stays quick).
        typical = sorted(warm)[len(warm) // 2] if warm else 0.0
        window.begin(time.perf_counter(), duration=min(max(window.duration or 0.0, 3 * typical),
                                                       2 * (window.duration or 0.0)))
        watch.start()
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        cpu = watch.stop()
        elapsed = window.end - window.start
        # Let the requests in flight finish (none is counted), so the service is not left
        # cancelling transactions while the next measurement starts.
        await asyncio.wait_for(asyncio.gather(*workers), 120)
    else:
        watch.start()
        await asyncio.wait_for(asyncio.gather(*workers), 600)
        cpu = watch.stop()
        elapsed = last_done[0] - first_sent[0]
    warmup = window.start - opened if window.requests is None else 0.0
    return outcome(latencies, dict(errors), elapsed, cpu, warmup).to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--spec", required=True, help="JSON file: what to send")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=None, help="run exactly this many instead of a duration")
    parser.add_argument("--watch", type=int, action="append", default=[], help="pid whose CPU to report")
    parser.add_argument("--postmaster", type=int, default=None, help="PostgreSQL server whose CPU to report")
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    window = Window(warmup=args.warmup, duration=None if args.requests else args.duration, requests=args.requests)
    watch = CpuWatch(args.watch, args.postmaster)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    print(runner(drive(args.url, spec, args.concurrency, window, watch)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
