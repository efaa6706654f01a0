"""How soon a queued calibration run starts iterating, as the dashboard and the API see it.

    python bench/run_start_latency.py                                # in-process job runner
    python bench/run_start_latency.py --redis redis://127.0.0.1:6379/0   # and an RQ worker

In a temporary data dir with the demo exam (``qbank seed-demo``), an S–H run and a 2PL IRT run
are started through the services (``start_run``, ``start_irt_run``; items with 10 or more
respondents estimated, the rest anchored) and the run's row is
polled as the dashboard polls it: the figure is the time from the start call to the first row
with ``current_iter >= 1``. One unmeasured process runs both kinds first, so the compilation
cache (``QBANK_COMPILE_CACHE``, on by default) holds their shapes; then each runtime is measured
twice: its first run of each kind (a process that has not run them yet: the cache on disk
serves it) and a second run (the process's own compiled functions).

The in-process runner is measured in a new Python process that has imported the service and
queue layers, as a just-started ``qbank serve`` or ``qbank dashboard`` has. The RQ worker is a
``qbank worker`` started before the runs and idle when they are queued.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CHILD = """
import json, sys, time
from qbank.settings import Settings, enable_compile_cache
settings = Settings.from_env()
enable_compile_cache(settings)
from qbank.cat import CalibrationParams
from qbank.cli.store import open_sessions
from qbank.jobs.queue import make_job_queue
from qbank.services.calibration.irt import IrtParams, start_irt_run
from qbank.services.calibration.sh import start_run
from qbank.store.models import CalibrationRun
import uuid

sessions = open_sessions(settings)
queue = make_job_queue(settings.redis_url, settings.rq_queue)
tenant = settings.tenant_id

def first_iteration(start):
    began = time.perf_counter()
    _, run_id = start()
    while True:
        with sessions() as session:
            run = session.get(CalibrationRun, uuid.UUID(run_id))
            if run.current_iter >= 1 or run.status in ("failed", "cancelled"):
                if run.status == "failed":
                    raise SystemExit(f"run failed: {run.error}")
                return time.perf_counter() - began, run_id
        time.sleep(0.005)

def wait_done(run_id):
    while True:
        with sessions() as session:
            run = session.get(CalibrationRun, uuid.UUID(run_id))
            if run.status not in ("queued", "running"):
                return
        time.sleep(0.02)

starts = {
    "sh": lambda: start_run(sessions, queue, tenant, "DEMO-EXAM", CalibrationParams(),
                            dry_run=True),
    "irt": lambda: start_irt_run(sessions, queue, tenant, "DEMO-EXAM",
                                 IrtParams(model="2pl", min_respondents=10), dry_run=True),
}
figures = {}
for attempt in ("first", "second"):
    for kind, start in starts.items():
        seconds, run_id = first_iteration(start)
        figures[f"{kind} {attempt}"] = seconds
        wait_done(run_id)
print(json.dumps(figures))
"""


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{done.stderr.strip()[-2000:]}")
    return done.stdout


def _measure(env: dict[str, str]) -> dict[str, float]:
    figures: dict[str, float] = json.loads(
        _run([sys.executable, "-c", CHILD], env).splitlines()[-1]
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", help="Redis URL: also measure a qbank worker")
    parser.add_argument("--responses", type=int, default=5000, help="demo responses to seed")
    args = parser.parse_args()
    qbank = str(Path(sys.executable).with_name("qbank"))
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "QBANK_DATA_DIR": folder, "QBANK_ENV": "dev"}
        env.pop("QBANK_REDIS_URL", None)
        env.pop("QBANK_DATABASE_URL", None)
        _run([qbank, "seed-demo", "--responses", str(args.responses)], env)
        _measure(env)  # fills the compilation cache: these shapes have been seen
        results = {"in-process runner": _measure(env)}
        if args.redis:
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            rq_env = {**env, "QBANK_REDIS_URL": args.redis, "QBANK_RQ_QUEUE": queue,
                      "QBANK_STATE_PREFIX": queue}  # fmt: skip
            worker = subprocess.Popen([qbank, "worker"], env=rq_env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                time.sleep(3.0)  # the worker is up and idle before the runs are queued
                results["RQ worker"] = _measure(rq_env)
            finally:
                worker.terminate()
                worker.wait(timeout=30)
    print("seconds from starting a run to its first iteration (warm compilation cache)")
    print(f"{'runtime':<20}{'S-H 1st':>9}{'S-H 2nd':>9}{'IRT 1st':>9}{'IRT 2nd':>9}")
    for runtime, figures in results.items():
        row = "".join(f"{figures[f'{kind} {attempt}']:>9.2f}" for kind in ("sh", "irt")
                      for attempt in ("first", "second"))  # fmt: skip
        print(f"{runtime:<20}{row}")


if __name__ == "__main__":
    main()
