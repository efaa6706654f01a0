"""The README's shell and Python examples, run as written from a fresh directory.

Each test takes a block by a line it contains, so an edited example is still the one that
runs. Where a block names a file or id the reader supplies (``answers.csv``, ``RUN_ID``,
``questions.json``), the test makes one and says so; nothing else is changed. The HTTP API's
curl blocks run against a live demo in tests/api/test_readme_examples.py; the notebooks run
under nbval, and the girth bench needs a second venv, so those blocks are not run here.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```(sh|python)\n(.+?)\n```", flags=re.S)


def readme_block(containing: str, language: str) -> str:
    """The one README block of ``language`` that has a line containing ``containing``."""
    blocks = [body for lang, body in BLOCK.findall((ROOT / "README.md").read_text())
              if lang == language and containing in body]  # fmt: skip
    assert len(blocks) == 1, f"{len(blocks)} README {language} blocks contain {containing!r}"
    return blocks[0]


@pytest.fixture
def workdir(tmp_path, tmp_path_factory):
    """A fresh directory and environment: ``qbank`` on PATH, an empty data dir, no secrets."""
    cache = tmp_path_factory.getbasetemp() / "readme-jax-cache"  # shared: later blocks reuse it
    env = {**os.environ, "QBANK_DATA_DIR": str(tmp_path / "data"),
           "QBANK_COMPILE_CACHE": str(cache),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    for name in ("QBANK_DATABASE_URL", "QBANK_REDIS_URL", "QBANK_ENV", "QBANK_SECRET"):
        env.pop(name, None)
    return tmp_path, env


def run_sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done


def run_python(code: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_calibrate_sh_examples_run_and_the_second_reads_the_first_ones_pool(workdir):
    cwd, env = workdir
    run_sh(readme_block("qbank calibrate-sh --synthetic 1000", "sh"), cwd, env)
    with open(cwd / "k.csv", newline="") as pool:
        rows = list(csv.DictReader(pool))
    assert len(rows) == 1000
    assert {"qid", "ver", "topic", "a", "b", "c", "k"} <= set(rows[0])
    report = json.loads((cwd / "report.json").read_text())
    assert len(report["k"]) == 1000  # the --pool run read all of k.csv back
    assert min(float(row["k"]) for row in rows) < 1.0  # the first run did calibrate


def test_the_simulate_examples_run_their_design_file_then_an_r_max_cap(workdir):
    cwd, env = workdir
    done = run_sh(readme_block("cat > design.json", "sh"), cwd, env)
    assert "blueprint     met by" in done.stdout
    assert "classification cut 0.5" in done.stdout
    capped = run_sh(readme_block('"r_max": 0.2}', "sh"), cwd, env)  # on the pool made above
    max_exposure = float(re.search(r"^exposure +max ([0-9.]+)", capped.stdout, re.M).group(1))
    assert max_exposure <= 0.2 + 0.8 * 100 / 2000  # the bound the README states for 20 waves


def test_the_calibrate_irt_examples_run_on_a_csv_and_on_the_demo_exam(workdir):
    cwd, env = workdir
    # The reader's answers.csv (person,item,score): 400 simulated persons on 10 2PL items.
    rng = np.random.default_rng(0)
    theta, b = rng.normal(size=400), np.linspace(-1.5, 1.5, 10)
    scores = rng.random((400, 10)) < 1 / (1 + np.exp(-1.2 * (theta[:, None] - b)))
    with open(cwd / "answers.csv", "w") as out:
        out.write("person,item,score\n")
        out.writelines(f"p{p},i{i},{int(scores[p, i])}\n" for p in range(400) for i in range(10))
    lines = readme_block("qbank calibrate-irt --responses answers.csv", "sh").splitlines()
    fit = run_sh(lines[0], cwd, env)
    assert len(json.loads(fit.stdout)["items"]) == 10
    run_sh(lines[1], cwd, env)  # seed-demo with enough responses
    run_sh(lines[2], cwd, env)
    runs = json.loads(run_sh("qbank runs list --json", cwd, env).stdout)["items"]
    run_id = str(runs[0]["id"])  # RUN_ID: the dry run the line above recorded
    run_sh(lines[3].replace("RUN_ID", run_id), cwd, env)
    shown = json.loads(run_sh(f"qbank runs show {run_id} --json", cwd, env).stdout)
    assert shown["applied_at"] is not None


def test_the_cli_reference_commands_run_in_order(workdir):
    cwd, env = workdir
    block = readme_block("qbank db init", "sh")
    (cwd / "questions.json").write_text(json.dumps([{  # the reader's questions.json
        "external_ref": "README-1", "topic_name": "Cardiology", "stem_md": "Chest pain at rest?",
        "lead_in": "Most likely diagnosis?", "rationale_md": "Typical story.",
        "difficulty_label": "medium", "exam_code": "README",
        "options": [{"label": "A", "text_md": "Angina", "is_correct": True},
                    {"label": "B", "text_md": "Reflux"}]}]))  # fmt: skip
    ran = 0
    for line in block.splitlines():
        command = line.split("  #", 1)[0].strip()
        if not command.startswith("qbank ") or "[" in command or "RUN_ID" in command:
            continue  # a synopsis with [options], a placeholder id, or a long-running server
        run_sh(command, cwd, env)
        ran += 1
    assert ran >= 4
    runs = json.loads(run_sh("qbank runs list --json", cwd, env).stdout)
    assert runs["total"] == 1  # the calibrate-sh --dry-run line recorded its run
    run_id = runs["items"][0]["id"]
    for line in block.splitlines():  # the RUN_ID lines, in their simplest form
        command = line.split("  #", 1)[0].strip()
        if "RUN_ID" in command:
            command = re.sub(r"\s*\[.*\]", "", command).replace("RUN_ID", str(run_id))
            run_sh(command, cwd, env)
    secret = run_sh(re.search(r"^export QBANK_SECRET=.*?(?=  #)", block, re.M).group(0) +
                    ' && test ${#QBANK_SECRET} -ge 32 && echo ok', cwd, env)  # fmt: skip
    assert secret.stdout.strip() == "ok"


@pytest.mark.parametrize("containing", [
    'register_rule("closest_b", closest_difficulty)',
    'next_item(items, given, answers, "kl")',
    "result = calibrate_sh(params, items, np.ones(300), on_iteration=print)",
])  # fmt: skip
def test_the_python_examples_run(workdir, containing):
    cwd, env = workdir
    run_python(readme_block(containing, "python"), cwd, env)
