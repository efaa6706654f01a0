"""The database commands end to end on the embedded default (SQLite, in-process)."""

import json
import os
import subprocess
import sys

import pytest


def qbank(tmp_path, *args):
    env = {**os.environ, "QBANK_DATABASE_URL": f"sqlite:///{tmp_path / 'qbank.db'}",
           "QBANK_TENANT_ID": "acme"}  # fmt: skip
    env.pop("QBANK_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "qbank.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip


QUESTIONS = [
    {"external_ref": f"IMP-{i}", "topic_name": ["Cardiology", "Nephrology"][i % 2],
     "exam_code": "EX", "stem_md": f"Stem {i}", "lead_in": "Diagnosis?",
     "rationale_md": "Because.", "difficulty_label": "medium", "a": 1.0 + i / 20, "b": i / 10 - 1,
     "c": 0.2, "options": [{"label": "A", "text_md": "Yes", "is_correct": True},
                           {"label": "B", "text_md": "No"}]}
    for i in range(20)
]  # fmt: skip


def test_import_calibrate_exam_and_runs(tmp_path):
    source = tmp_path / "questions.json"
    source.write_text(json.dumps(QUESTIONS))
    assert "schema ready" in qbank(tmp_path, "db", "init").stdout
    imported = qbank(tmp_path, "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "imported 20 questions" in imported.stdout
    again = qbank(tmp_path, "import", str(source))
    assert again.returncode == 2
    assert "IMP-0" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    done = qbank(tmp_path, "calibrate-sh", "--exam", "EX", "--n", "100", "--test-len", "4",
                 "--iters", "2", "--dry-run", "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert (run["status"], run["dry_run"], run["applied_at"]) == ("done", True, None)
    assert len(run["result"]["diff"]) == 20

    listed = json.loads(qbank(tmp_path, "runs", "list", "--json").stdout)
    assert listed["total"] == 1
    assert listed["runs"][0]["id"] == run["id"]
    assert listed["items"] == listed["runs"]  # the API's list shape, the old key kept
    assert listed["items"][0]["kind"] == "sh"
    csv_text = qbank(tmp_path, "runs", "show", run["id"], "--diff-csv").stdout
    assert csv_text.splitlines()[0] == "qid,ver,sh_p_before,sh_p_after,delta"
    assert len(csv_text.splitlines()) == 21
    assert "applied k of 20 items" in qbank(tmp_path, "runs", "apply", run["id"]).stdout
    assert "restored k of 20" in qbank(tmp_path, "runs", "rollback", run["id"]).stdout
    shown = qbank(tmp_path, "runs", "show", run["id"])
    assert "status done" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "show", "not-a-run"], "not found"),
        (["runs", "list", "--start", "last week"], "ISO date"),
        (["calibrate-sh", "--exam", "NOPE"], "no live published items"),
        (["import", "missing.json"], "not found"),
    ],
)
def test_store_commands_refuse_bad_input(tmp_path, args, message):
    done = qbank(tmp_path, *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr


def test_unreachable_database_is_one_line(tmp_path):
    env = {**os.environ, "QBANK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "qbank.cli", "runs", "list"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "cannot reach the database" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
