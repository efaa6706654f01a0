import csv
import json
import subprocess
import sys

import pytest

from qbank.services.calibration.pool_files import read_pool_csv

FAST = ["--n", "60", "--test-len", "5", "--iters", "2"]


def qbank(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "qbank.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def pool_csv(tmp_path):
    path = tmp_path / "pool.csv"
    rows = [
        ("Q1", 1, "Cardiology", 1.2, -0.5, 0.2, 1.0),
        ("Q2", 1, "Cardiology", 0.9, 0.3, 0.15, 0.8),
        ("Q3", 2, "Nephrology", 1.6, 0.0, 0.2, 1.0),
        ("Q4", 1, "Nephrology", "", "", "", ""),
        ("Q5", 1, "Nephrology", 0.7, 1.2, 0.1, 0.5),
        ("Q6", 1, "Neurology", 1.1, -1.0, 0.2, 1.0),
        ("Q7", 1, "Neurology", 1.3, 0.6, 0.2, 1.0),
        ("Q8", 1, "Neurology", 1.0, 2.0, 0.2, 1.0),
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["qid", "ver", "topic", "a", "b", "c", "k"])
        writer.writerows(rows)
    return path


def test_json_output_is_exactly_one_object(pool_csv):
    done = qbank("calibrate-sh", "--pool", str(pool_csv), *FAST, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"update_rule", "conditional", "strata", "history", "metrics",
                           "stop_reason", "timing", "k"}  # fmt: skip
    assert [row["iter"] for row in report["history"]] == [1, 2]
    assert set(report["history"][0]) >= {"iter", "avg_exp", "max_over", "max_exp"}
    assert set(report["metrics"]) >= {"max_exp", "chi2", "overlap", "unused_share", "bias", "rmse"}
    assert set(report["timing"]) == {"compile_s", "run_s", "simulee_steps_per_s"}
    assert report["k"][1] == {
        "qid": "Q2",
        "ver": 1,
        "before": pytest.approx(0.8),
        "after": report["k"][1]["after"],
    }
    assert len(report["k"]) == 8
    assert "iter   2/2" in done.stderr  # progress goes to stderr


def test_summary_table_and_out_file_round_trip(pool_csv, tmp_path):
    out = tmp_path / "new_k.csv"
    done = qbank(
        "calibrate-sh",
        "--pool",
        str(pool_csv),
        *FAST,
        "--tau",
        "0.5",
        "--topic-tau",
        '{"Neurology": 0.3}',
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "final" in done.stdout
    assert "simulee-steps/s" in done.stdout
    again = read_pool_csv(out)
    report = json.loads(
        qbank("calibrate-sh", "--pool", str(pool_csv), *FAST, "--tau", "0.5", "--topic-tau",
              '{"Neurology": 0.3}', "--json", "--quiet").stdout
    )  # fmt: skip
    assert again.k.tolist() == pytest.approx([row["after"] for row in report["k"]], abs=1e-7)
    assert any(row["after"] != row["before"] for row in report["k"])
    assert again.qids == [f"Q{i}" for i in range(1, 9)]
    assert again.versions[2] == 2
    assert float(again.items.a[3]) == pytest.approx(1.0)  # empty cell took the default


def test_same_seed_same_json(pool_csv):
    runs = [
        json.loads(
            qbank(
                "calibrate-sh", "--pool", str(pool_csv), *FAST, "--seed", "9", "--json", "--quiet"
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs[0]["k"] == runs[1]["k"]
    assert runs[0]["history"] == runs[1]["history"]


def test_synthetic_pool(tmp_path):
    done = qbank("calibrate-sh", "--synthetic", "50", *FAST, "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["k"]) == 50
    assert done.stderr == ""


def test_conditional_run_reports_k_and_exposure_by_stratum(pool_csv):
    done = qbank("calibrate-sh", "--pool", str(pool_csv), *FAST, "--conditional",
                 "--strata=-0.5,0.5", "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["conditional"], report["strata"]) == (True, [-0.5, 0.5])
    assert all(len(row["after"]) == 3 for row in report["k"])
    assert len(report["metrics"]["conditional_max_exp"]) == 3
    assert len(report["metrics"]["calibrated_conditional_max_exp"]) == 3
    assert len(report["history"][0]["conditional_max_exp"]) == 3


def test_published_rule_until_converged(pool_csv):
    """tau 1 is met at once: the run stops after 3 iterations of 10 and says so."""
    done = qbank("calibrate-sh", "--pool", str(pool_csv), "--n", "60", "--test-len", "5",
                 "--iters", "10", "--tau", "1", "--update-rule", "sympson-hetter",
                 "--until-converged", "--tol", "0", "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["update_rule"] == "sympson-hetter"
    assert len(report["history"]) == 3
    assert report["stop_reason"].startswith("converged")
    text = qbank("calibrate-sh", "--pool", str(pool_csv), *FAST, "--update-rule",
                 "sympson-hetter", "--quiet")  # fmt: skip
    assert "rule=sympson-hetter" in text.stdout
    assert "stopped: iters: ran all 2 iterations" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pool", "missing.csv"], "not found"),
        (["--update-rule", "additive"], "--update-rule"),
        (["--conditional", "--strata", "1,0"], "strata cut points must increase"),
        (["--conditional", "--strata", "a,b"], "--strata must be numbers"),
        (["--conditional", "--out", "k.csv"], "--out writes one k per item"),
        (["--tol", "-1", "--until-converged"], "tol must be"),
        (["--tau", "1.5"], "tau must be in (0.0, 1.0]"),
        (["--tau", "0"], "tau must be"),
        (["--n", "0"], "n must be"),
        (["--n", "abc"], "'abc' is not a valid integer"),
        (["--ability", "guess"], "--ability"),
        (["--theta-dist", "cauchy"], "theta_dist"),
        (["--topic-tau", "{bad"], "not valid JSON"),
        (["--topic-tau", '{"Nowhere": 0.1}'], "not in the pool"),
        (["--test-len", "601"], "exceeds the pool size"),
        (["--synthetic", "0"], "at least 1 item"),
        (["--pool", "x.csv", "--synthetic", "5"], "give one of --pool, --synthetic and --exam"),
        (["--dry-run"], "--dry-run needs --exam"),
        (["--no-such-option"], "No such option"),
        (["--theta-dist", "normal0,1e39"], "[-10, 10]"),
        (["--pool-seed", "99999999999999999999"], "--pool-seed"),
        (["--synthetic", "1000000000"], "at most 100000 items"),
        (["--n", "1000000", "--test-len", "1000"], "n × test_len must be at most"),
        (["--topic-weights", '{"Cardiology": 1e-320}'], "topic_weights[Cardiology]"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = qbank("calibrate-sh", *args, "--quiet")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert message in lines[0]


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("qid,ver,topic,a,b,c", "Q1,1,T,1,0,0.2", "missing column(s) k"),
        ("qid,ver,topic,a,b,c,k", "Q1,1,T,one,0,0.2,1", "line 2: column a is not a number"),
        ("qid,ver,topic,a,b,c,k", "Q1,1,T,1,0,0.2,1.5", "line 2: k must be in [0, 1]"),
        ("qid,ver,topic,a,b,c,k", "Q1,1,T,-1,0,0.2,1", "line 2: a must be in (0, 10]"),
        ("qid,ver,topic,a,b,c,k", "Q1,x,T,1,0,0.2,1", "ver must be a positive integer"),
        ("qid,ver,topic,a,b,c,k", "Q1,1,T,1,0,0.2,1\nQ1,1,T,1,0,0.2,1", "line 3: duplicate"),
        ("qid,ver,topic,a,b,c,k", "", "has no items"),
        ("qid,ver,topic,a,b,c,k", "Q1,1,T,3e38,0,0.2,1", "line 2: a must be in (0, 10]"),
        ("qid,ver,topic,a,b,c,k", "Q1,1,T,1,1e30,0.2,1", "line 2: b must be in"),
        ("qid,ver,topic,a,b,c,k", "Q1,²,T,1,0,0.2,1", "ver must be a positive integer"),
        ("qid,ver,topic,a,b,c,k", "\n\nQ1,1,T,1,0,0.2,1\n\nQ2,1,T,x,0,0.2,1", "line 6: column a"),
    ],
)
def test_bad_pool_files_are_refused(tmp_path, header, row, message):
    path = tmp_path / "pool.csv"
    path.write_text(f"{header}\n{row}\n")
    done = qbank("calibrate-sh", "--pool", str(path), "--quiet", "--test-len", "1")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
