"""``qbank calibrate-irt`` on a response file (end to end) and on an exam's stored responses."""

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import insert

from qbank.irt.datasets import (
    LSAT6_FREQUENCIES,
    LSAT6_LTM_2PL_DIFFICULTY,
    LSAT6_LTM_2PL_DISCRIMINATION,
)


def qbank(*args):
    return subprocess.run([sys.executable, "-m", "qbank.cli", *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def write_csv(path, rows, header=("person", "item", "score")):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def lsat_csv(tmp_path):
    rows, person = [], 0
    for pattern, count in LSAT6_FREQUENCIES.items():
        for _ in range(count):
            rows.extend((f"p{person}", f"Item {i + 1}", score) for i, score in enumerate(pattern))
            person += 1
    return write_csv(tmp_path / "lsat.csv", rows)


def test_responses_file_json_is_one_object_with_the_agreed_fields(lsat_csv):
    done = qbank("calibrate-irt", "--responses", str(lsat_csv), "--model", "2pl", "--tol", "1e-6",
                 "--max-cycles", "3000", "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    report = json.loads(done.stdout)
    assert set(report) >= {"items", "loglik", "cycles", "converged"}
    assert report["converged"]
    items = {row["item"]: row for row in report["items"]}
    assert set(items["Item 1"]) == {"item", "a", "b", "c", "se_a", "se_b", "se_c", "n"}
    assert (len(items), items["Item 1"]["n"], items["Item 1"]["se_c"]) == (5, 1000, None)
    for index in range(5):
        row = items[f"Item {index + 1}"]
        assert row["a"] * 1.7 == pytest.approx(LSAT6_LTM_2PL_DISCRIMINATION[index], abs=5e-3)
        assert row["b"] == pytest.approx(LSAT6_LTM_2PL_DIFFICULTY[index], abs=5e-3)


@pytest.mark.parametrize(
    ("rows", "header", "args", "message"),
    [
        ([("p1", "i1", "1")], ("person", "item", "score"), ["--model", "4pl"], "4pl"),
        ([("p1", "i1", "1")], ("person", "item", "answer"), [], "missing column(s) score"),
        ([("p1", "i1", "1"), ("p2", "i1", "2")], ("person", "item", "score"), [],
         "line 3: score must be 0 or 1"),
        ([("p1", "i1", "1"), ("p1", "i2", "")], ("person", "item", "score"), [],
         "item 'i2' was answered by nobody"),
        ([("p1", "i1", "1"), ("p1", "i1", "0")], ("person", "item", "score"), [],
         "already answered item 'i1' on line 2"),
        ([], ("person", "item", "score"), [], "no responses"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path, rows, header, args, message):
    path = write_csv(tmp_path / "responses.csv", rows, header)
    done = qbank("calibrate-irt", "--responses", str(path), *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--responses", "/nonexistent/responses.csv"], "cannot read /nonexistent/responses.csv"),
        ([], "give one of --exam and --responses"),
        (["--responses", "x.csv", "--dry-run"], "--dry-run needs --exam"),
    ],
)
def test_bad_command_lines_are_one_line_and_exit_2(args, message):
    done = qbank("calibrate-irt", *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr


def test_exam_calibration_records_a_dry_run_that_runs_show_prints(tmp_path, monkeypatch, capsys):
    from qbank.cli.main import main
    from qbank.services.calibration.run_views import get_run
    from qbank.store.db import init_schema, make_engine, make_session_factory
    from qbank.store.models import UserResponse
    from tests.services.conftest import EXAM, TENANT, build_exam

    url = f"sqlite:///{tmp_path / 'qbank.db'}"
    engine = make_engine(url)
    init_schema(engine)
    sessions = make_session_factory(engine)
    items = build_exam(sessions, n_items=10)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=(300, 1))
    correct = rng.random((300, 10)) < 1 / (1 + np.exp(-1.7 * (theta - np.linspace(-1, 1, 10))))
    rows = [{"user_id": f"u{p}", "tenant_id": TENANT, "question_id": items[i].question_id,
             "version": 1, "option_label": "A", "is_correct": bool(correct[p, i]),
             "created_at": datetime(2026, 11, 1, tzinfo=UTC)}
            for p in range(300) for i in range(10)]  # fmt: skip
    with sessions.begin() as session:
        session.execute(insert(UserResponse), rows)
    monkeypatch.setenv("QBANK_DATABASE_URL", url)
    monkeypatch.setenv("QBANK_TENANT_ID", TENANT)
    monkeypatch.delenv("QBANK_REDIS_URL", raising=False)
    main(["calibrate-irt", "--exam", EXAM, "--model", "2pl", "--min-respondents", "100",
          "--dry-run", "--json", "--quiet"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["dry_run"], report["updated"]) == ("done", True, 10)
    assert [row["item"] for row in report["items"]] == [item.question_id for item in items]
    assert np.corrcoef([row["b"] for row in report["items"]], np.linspace(-1, 1, 10))[0, 1] > 0.95
    run = get_run(sessions, TENANT, report["run_id"])
    assert (run.kind, run.applied_at) == ("irt", None)
    main(["runs", "show", report["run_id"]])
    assert "10 items estimated" in capsys.readouterr().out
    engine.dispose()
