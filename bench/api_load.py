"""Load test of quiz delivery: concurrent students doing next → answer against uvicorn.

    python bench/api_load.py                      # 16 students, 30 s, 5 000-item exam
    python bench/api_load.py --students 4 --seconds 10 --items 1000
    python bench/api_load.py --login-flood 32     # the same, then again under a login flood

Runs `qbank serve` on PostgreSQL + Redis (QBANK_TEST_DATABASE_URL / QBANK_TEST_REDIS_URL or the
local defaults) in a schema and key prefix of its own, seeds an exam, and prints p50/p99 latency
of `GET /next` and `POST /answers`, quiz steps per second and the error count.

With ``--login-flood N`` the students run twice on the same server: alone, then while N
clients post logins with wrong passwords as fast as the server answers. Each flooding client
has a loopback address of its own (127.0.0.2, 127.0.0.3, …) and tries a new username every
time, the worst case for the hashing: neither an account's nor one address's throttle stops it
before its free attempts are spent. It prints both throughputs, their ratio and what the flood
got (401: a password was hashed and refused; 429: throttled without hashing).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qbank.services.access.auth import Principal, issue_token
from qbank.services.authoring.importing import insert_items
from qbank.services.demo.content import DEMO_EXAM_CODE, demo_questions
from qbank.services.demo.seeding import _as_import_item
from qbank.store.db import init_schema, make_engine, make_session_factory
from tests.backends import PG_URL, REDIS_URL, postgres_schema

SECRET = secrets.token_urlsafe(48)  # the server's key for this run only


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(database_url: str, n_items: int) -> None:
    engine = make_engine(database_url)
    init_schema(engine)
    sessions = make_session_factory(engine)
    items = [_as_import_item(q) for q in demo_questions(n_items=n_items, seed=7)]
    with sessions.begin() as session:
        insert_items(session, "bench", items)
    engine.dispose()


async def _student(
    client: httpx.AsyncClient, token: str, deadline: float, stats: dict, think_s: float = 0.0
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(token)
    while time.perf_counter() < deadline:
        created = await client.post(
            "/v1/quizzes",
            headers=headers,
            json={"filters": {"num_questions": 30, "exam_code": DEMO_EXAM_CODE}, "adaptive": True},
        )
        if created.status_code != 201:
            stats["errors"].append(created.status_code)
            return
        quiz_id = created.json()["quiz_id"]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            served = await client.get(f"/v1/quizzes/{quiz_id}/next", headers=headers)
            stats["next"].append(time.perf_counter() - started)
            if served.status_code == 404:
                break
            if served.status_code != 200:
                stats["errors"].append(served.status_code)
                break
            item = served.json()
            started = time.perf_counter()
            answered = await client.post(
                f"/v1/quizzes/{quiz_id}/answers",
                headers=headers,
                json={
                    "question_id": item["question_id"],
                    "selected": rng.choice(item["payload"]["options"])["label"],
                },
            )
            stats["answers"].append(time.perf_counter() - started)
            if answered.status_code != 200:
                stats["errors"].append(answered.status_code)
                break
            stats["steps"] += 1
            if think_s:  # a student reads the next question before asking for it
                await asyncio.sleep(think_s)


async def _load(base: str, students: int, seconds: float, think_s: float = 0.0) -> dict:
    stats: dict = {"next": [], "answers": [], "errors": [], "steps": 0}
    tokens = [
        issue_token(SECRET, Principal(f"student-{i}", "bench", ("student",)))
        for i in range(students)
    ]
    limits = httpx.Limits(max_connections=students + 4)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_student(client, t, deadline, stats, think_s) for t in tokens))
        stats["elapsed"] = time.perf_counter() - started
    return stats


async def _flooder(base: str, index: int, deadline: float, flood: dict) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + index % 250}")
    async with httpx.AsyncClient(base_url=base, timeout=60, transport=transport) as client:
        attempt = 0
        while time.perf_counter() < deadline:
            attempt += 1
            guess = {"username": f"guess-{index}-{attempt}", "password": "not the password"}
            response = await client.post("/v1/auth/login", json=guess)
            flood[response.status_code] = flood.get(response.status_code, 0) + 1
            if response.status_code == 429:  # an attacker retries at once; so does this one
                await asyncio.sleep(0)


async def _load_with_flood(
    base: str, students: int, seconds: float, think_s: float, flooders: int
) -> tuple[dict, dict]:
    flood: dict = {}
    deadline = time.perf_counter() + seconds
    flooding = [asyncio.create_task(_flooder(base, i, deadline, flood)) for i in range(flooders)]
    await asyncio.sleep(0.5)  # the flood is under way before the students start
    stats = await _load(base, students, seconds - 0.5, think_s)
    await asyncio.gather(*flooding)
    return stats, flood


def _scrypt_ms() -> float:
    """Median CPU time of one password check (scrypt n=2^14, r=8, p=1), hashed right here.

    Not through qbank's hashing process: that one runs at the lowest priority, so its wall time
    says how busy the machine is rather than what a check costs.
    """
    salt = secrets.token_bytes(16)
    times = []
    for _ in range(15):
        started = time.process_time()
        hashlib.scrypt(b"wrong password", salt=salt, n=2**14, r=8, p=1, dklen=32)
        times.append(time.process_time() - started)
    return 1000 * float(np.median(times))


def _cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(stat.parent.name), int(fields[1])
        if pid == root_pid or parent == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _ms(values: list[float], q: float) -> str:
    return f"{1000 * float(np.quantile(values, q)):7.1f} ms" if values else "    n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause of each student after an answer (0: a closed loop that saturates the server)",
    )
    parser.add_argument(
        "--login-flood",
        type=int,
        default=0,
        metavar="N",
        help="run the students again while N clients post wrong logins; print both throughputs",
    )
    args = parser.parse_args()

    with postgres_schema() as database_url:
        print(f"seeding {args.items} items into PostgreSQL ({PG_URL.split('@')[-1]}) …")
        _seed(database_url, args.items)
        port = _free_port()
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "QBANK_DATABASE_URL": database_url,
            "QBANK_REDIS_URL": REDIS_URL,
            "QBANK_TENANT_ID": "bench",
            "QBANK_SECRET": SECRET,
            "QBANK_ENV": "prod",
            "QBANK_STATE_PREFIX": prefix,
            "QBANK_RQ_QUEUE": prefix,
            "QBANK_MAX_DAILY_EXPOSURES": "1000000",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qbank.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            asyncio.run(_load(base, min(args.students, 2), 3))  # warm up each worker
            cpu_before = _cpu_seconds(server.pid)
            stats = asyncio.run(_load(base, args.students, args.seconds, args.think_ms / 1000))
            stats["server_cpu_s"] = _cpu_seconds(server.pid) - cpu_before
            if args.login_flood:
                flooded, flood = asyncio.run(
                    _load_with_flood(base, args.students, args.seconds, args.think_ms / 1000,
                                     args.login_flood)
                )  # fmt: skip
                # and alone again: the reference is the mean of the runs before and after, so
                # a drift of the machine (other load, a growing database) does not pass for
                # the flood's cost
                after = asyncio.run(_load(base, args.students, args.seconds, args.think_ms / 1000))
        finally:
            server.terminate()
            server.wait(timeout=30)
            import redis

            from tests.backends import purge_rq_queue

            purge_rq_queue(REDIS_URL, prefix)
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
    print(
        f"{args.students} students, {args.seconds:.0f} s, {args.items}-item exam, "
        f"{args.workers} uvicorn workers, think {args.think_ms:.0f} ms, PostgreSQL + Redis"
    )
    for label, key in (("GET  /next    ", "next"), ("POST /answers ", "answers")):
        print(f"  {label} p50 {_ms(stats[key], 0.5)}   p99 {_ms(stats[key], 0.99)}")
    steps_per_s = stats["steps"] / stats["elapsed"]
    print(f"  quiz steps/s   {steps_per_s:7.1f}   errors {len(stats['errors'])}")
    if stats["steps"]:  # machine-independent-ish: what one step costs the API processes
        per_step = 1000 * stats["server_cpu_s"] / stats["steps"]
        print(f"  API CPU per step (next + answer) {per_step:5.1f} ms")
    if args.login_flood:
        after_rate = after["steps"] / after["elapsed"]
        reference = (steps_per_s + after_rate) / 2
        print(f"  again after the flood: quiz steps/s {after_rate:7.1f}   errors "
              f"{len(after['errors'])}; reference (mean) {reference:.1f}")  # fmt: skip
        flooded_rate = flooded["steps"] / flooded["elapsed"]
        seconds = args.seconds - 0.5
        attempts = sum(flood.values())
        print(f"under a flood of {args.login_flood} login clients (wrong passwords):")
        for label, key in (("GET  /next    ", "next"), ("POST /answers ", "answers")):
            print(f"  {label} p50 {_ms(flooded[key], 0.5)}   p99 {_ms(flooded[key], 0.99)}")
        ratio = 100 * flooded_rate / reference
        print(f"  quiz steps/s   {flooded_rate:7.1f}   errors {len(flooded['errors'])}   "
              f"{ratio:.0f} % of the steps/s without the flood")  # fmt: skip
        print(f"  flood: {attempts / seconds:.1f} logins/s answered "
              f"({', '.join(f'{n} × {code}' for code, n in sorted(flood.items()))})")  # fmt: skip
        print(f"  one password check (scrypt n=2^14, r=8, p=1): {_scrypt_ms():.0f} ms of CPU")


if __name__ == "__main__":
    main()
