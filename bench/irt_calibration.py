"""MML item calibration: qbank (JAX EM) against girth on the same simulated data.

    python bench/irt_calibration.py                                   # qbank only
    python bench/irt_calibration.py --girth-python /work/girth-venv/bin/python
    python bench/irt_calibration.py --whole-process --girth-python /work/girth-venv/bin/python

``--whole-process`` times one-off runs as a user starts them, whole processes with warm caches:
``qbank calibrate-irt --responses`` on a 1 000 × 20 long CSV against a girth process that reads
the same CSV and fits the 2PL (runs alternate, medians of ``--runs``), and ``qbank calibrate-sh``
on the built-in pool. qbank's compilation cache lives in a temporary QBANK_DATA_DIR that one
unmeasured run fills first.

girth (PyPI, not a project dependency) runs in its own interpreter because its 3PL needs
numpy < 2: create one with ``python -m venv /work/girth-venv && /work/girth-venv/bin/pip install
numpy==1.26.4 scipy==1.13.1 girth==0.8.0``. The data are written to a temporary .npy file, girth
fits them in a subprocess and times only its own fit call (not its imports). girth computes no
standard errors, so the ratio compares it with qbank's estimates only
(``MmlSettings(standard_errors=False)``); qbank's time with its full-information SEs is shown
beside it.

girth uses the logistic metric without D; its discriminations are divided by 1.7 before the
RMSE against the generating a (D = 1.7 metric of DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from qbank.irt import MmlSettings, calibrate_mml

D = 1.7

GIRTH_SCRIPT = """
import json, sys, time
import numpy as np
import girth
data = np.load(sys.argv[1])
fit = {"2pl": girth.twopl_mml, "3pl": girth.threepl_mml}[sys.argv[2]]
start, cpu = time.perf_counter(), time.process_time()
result = fit(data.T.astype(int))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
guessing = result.get("Guessing", np.zeros(data.shape[1]))
print(json.dumps({"seconds": seconds, "cpu": cpu,
                  "a": (np.asarray(result["Discrimination"]) / 1.7).tolist(),
                  "b": np.asarray(result["Difficulty"]).tolist(),
                  "c": np.asarray(guessing).tolist()}))
"""


GIRTH_WHOLE = """
import csv, sys
import numpy as np
import girth
with open(sys.argv[1], newline="") as handle:
    rows = list(csv.reader(handle))[1:]
persons = {p: i for i, p in enumerate(dict.fromkeys(r[0] for r in rows))}
items = {q: i for i, q in enumerate(dict.fromkeys(r[1] for r in rows))}
data = np.zeros((len(items), len(persons)), int)
for person, item, score in rows:
    data[items[item], persons[person]] = int(score)
result = girth.twopl_mml(data)
print(len(result["Discrimination"]))
"""


def simulate(seed: int, n_persons: int, n_items: int, model: str) -> tuple[np.ndarray, dict]:
    """Responses (persons × items) and the generating parameters, D = 1.7 metric."""
    rng = np.random.default_rng(seed)
    a = np.clip(np.exp(rng.normal(0.0, 0.3, n_items)), 0.4, 2.5)
    b = rng.normal(0.0, 1.0, n_items)
    c = rng.uniform(0.1, 0.25, n_items) if model == "3pl" else np.zeros(n_items)
    theta = rng.normal(size=(n_persons, 1))
    p = c + (1 - c) / (1 + np.exp(-D * a * (theta - b)))
    return (rng.random((n_persons, n_items)) < p).astype(np.float64), {"a": a, "b": b, "c": c}


def rmse(estimate: object, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(estimate, float) - truth) ** 2)))


def run_qbank(responses: np.ndarray, model: str, repeats: int, errors: bool = True) -> dict:
    """Best of ``repeats`` compiled fits without SEs (girth computes none) and, if ``errors``,
    with them; the first call (which compiles) is timed apart. CPU time (all threads) beside
    wall time."""
    times: dict[str, list[tuple[float, float]]] = {}
    result = None
    for label, with_errors in (("estimates", False), ("with_se", True)):
        if with_errors and not errors:
            continue
        settings = MmlSettings(model=model, standard_errors=with_errors)
        for run in range(repeats + 1):
            start, cpu = time.perf_counter(), time.process_time()
            result = calibrate_mml(responses, settings=settings)
            spent = (time.perf_counter() - start, time.process_time() - cpu)
            times.setdefault("first" if run == 0 else label, []).append(spent)
    assert result is not None
    best = {name: min(values) for name, values in times.items()}
    return {"first_s": best["first"][0], "seconds": best["estimates"][0],
            "cpu": best["estimates"][1],
            "with_se_s": best["with_se"][0] if "with_se" in best else None,
            "with_se_cpu": best["with_se"][1] if "with_se" in best else None,
            "cycles": result.cycles, "converged": result.converged,
            "a": np.asarray(result.items.a), "b": np.asarray(result.items.b),
            "c": np.asarray(result.items.c)}  # fmt: skip


def run_girth(python: str, responses: np.ndarray, model: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.npy"
        np.save(path, responses.astype(np.int8))
        done = subprocess.run([python, "-c", GIRTH_SCRIPT, str(path), model], capture_output=True,
                              text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"girth failed ({python}):\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + sys of the child and its threads) of one whole process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{done.stderr.strip()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def whole_process(args: argparse.Namespace) -> None:
    """Medians of whole-process times, qbank and girth alternating."""
    import os
    import statistics
    import sys

    responses, _ = simulate(args.seed, 1000, 20, "2pl")
    qbank = [str(Path(sys.executable).with_name("qbank"))]
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.csv"
        with path.open("w") as handle:
            handle.write("person,item,score\n")
            for person, row in enumerate(responses.astype(int)):
                handle.writelines(f"p{person},i{item},{score}\n" for item, score in enumerate(row))
        env = {**os.environ, "QBANK_DATA_DIR": str(Path(folder) / "data")}
        irt = [*qbank, "calibrate-irt", "--responses", str(path), "--model", "2pl", "--json",
               "--quiet"]  # fmt: skip
        sh = [*qbank, "calibrate-sh", "--json", "--quiet"]
        girth = [args.girth_python, "-c", GIRTH_WHOLE, str(path)] if args.girth_python else None
        for command in (irt, sh, *([girth] if girth else [])):  # warm the caches
            _seconds(command, env)
        times: dict[str, list[tuple[float, float]]] = {"irt": [], "sh": [], "girth": []}
        for _ in range(args.runs):
            times["irt"].append(_seconds(irt, env))
            if girth:
                times["girth"].append(_seconds(girth, env))
            if not args.no_sh:
                times["sh"].append(_seconds(sh, env))
        load.append(os.getloadavg()[0])
    print(f"whole processes, warm caches, median of {args.runs} (min–max); load average "
          f"{load[0]:.1f} before, {load[1]:.1f} after")  # fmt: skip
    labels = {"irt": "qbank calibrate-irt 1000x20 2PL", "girth": "girth 0.8 2PL, same CSV",
              "sh": "qbank calibrate-sh, built-in pool"}  # fmt: skip
    for name, label in labels.items():
        if times[name]:
            parts = []
            for kind, values in (("wall", [t[0] for t in times[name]]),
                                 ("cpu", [t[1] for t in times[name]])):  # fmt: skip
                parts.append(f"{kind} {statistics.median(values):5.2f} s "
                             f"({min(values):.2f}–{max(values):.2f})")  # fmt: skip
            print(f"{label:<36}" + "   ".join(parts))
    if times["girth"]:
        for index, kind in enumerate(("wall", "cpu")):
            pairs = [g[index] / q[index] for q, g in zip(times["irt"], times["girth"], strict=True)]
            print(f"girth / qbank calibrate-irt, {kind}: median of pairs "
                  f"{statistics.median(pairs):.2f} ({min(pairs):.2f}–{max(pairs):.2f}), "
                  f"qbank faster in {sum(p > 1 for p in pairs)} of {len(pairs)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--models", default="2pl,3pl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed qbank fits after the first")
    parser.add_argument("--girth-python", help="interpreter with girth installed (see above)")
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="time one-off CLI runs on small data (see above)",
    )
    parser.add_argument("--runs", type=int, default=5, help="whole-process runs of each command")
    parser.add_argument("--no-sh", action="store_true", help="whole-process: skip calibrate-sh")
    parser.add_argument(
        "--no-standard-errors",
        action="store_true",
        help="skip the timing with standard errors (estimates only are always timed)",
    )
    args = parser.parse_args()
    if args.whole_process:
        whole_process(args)
        return
    import os

    header = (f"{'model':<6}{'impl':<20}{'wall s':>9}{'cpu s':>9}{'rmse a':>9}{'rmse b':>9}"
              f"{'rmse c':>9}")  # fmt: skip
    rows, ratios = [header, "-" * len(header)], []
    for model in args.models.split(","):
        responses, truth = simulate(args.seed, args.persons, args.items, model)
        ours = run_qbank(responses, model, args.repeats, errors=not args.no_standard_errors)
        if args.girth_python:  # girth, then qbank again: both see the same load
            theirs = run_girth(args.girth_python, responses, model)
            again = run_qbank(responses, model, args.repeats, errors=not args.no_standard_errors)
            for key in ("seconds", "cpu", "with_se_s", "with_se_cpu"):
                if ours[key] is not None:
                    ours[key] = min(ours[key], again[key])
        fits = [("qbank, estimates", ours["seconds"], ours["cpu"], ours),
                ("qbank (1st, +jit)", ours["first_s"], None, ours)]  # fmt: skip
        if ours["with_se_s"] is not None:
            fits.insert(1, ("qbank, with SEs", ours["with_se_s"], ours["with_se_cpu"], ours))
        if args.girth_python:
            fits.append(("girth 0.8", theirs["seconds"], theirs["cpu"], theirs))
            with_se = (f", {theirs['seconds'] / ours['with_se_s']:.0f}x with qbank's SEs"
                       if ours["with_se_s"] is not None else "")  # fmt: skip
            ratios.append(f"{model}: girth / qbank = {theirs['seconds'] / ours['seconds']:.0f}x "
                          f"wall, {theirs['cpu'] / ours['cpu']:.0f}x CPU, compiled, estimates "
                          f"only (like girth){with_se}, "
                          f"{theirs['seconds'] / ours['first_s']:.1f}x including the "
                          f"compile")  # fmt: skip
        for name, seconds, cpu, fit in fits:
            errors = "".join(f"{rmse(fit[p], truth[p]):>9.4f}" for p in ("a", "b", "c"))
            cpu_text = "-" if cpu is None else f"{cpu:.2f}"
            rows.append(f"{model:<6}{name:<20}{seconds:>9.2f}{cpu_text:>9}{errors}")
        rows.append(f"{'':<6}qbank: {ours['cycles']} EM cycles, converged {ours['converged']}")
    print(f"{args.items} items x {args.persons} persons, seed {args.seed}, "
          f"load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print("\n".join(rows + ratios))


if __name__ == "__main__":
    main()
