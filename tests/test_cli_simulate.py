"""``qbank simulate`` on a pool file and on an exam, and its bad command lines."""

import json

import pytest

from tests.test_cli import pool_csv, qbank  # noqa: F401  (pool_csv is a fixture)

DESIGN = {"stopping": {"max_len": 6, "min_len": 3, "cut": 0.0, "z": 1.0},
          "blueprint": {"Cardiology": 0.25, "Nephrology": 0.375, "Neurology": 0.375}}  # fmt: skip


def test_pool_file_json_has_every_figure_and_is_seeded(pool_csv):  # noqa: F811
    args = ["simulate", "--pool", str(pool_csv), "--design", json.dumps(DESIGN), "--n", "300",
            "--seed", "5", "--json"]  # fmt: skip
    done = qbank(*args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["design"]["stopping"]["cut"] == 0.0
    metrics = report["metrics"]
    assert 3 <= metrics["min_test_length"] <= metrics["mean_test_length"]
    assert metrics["max_test_length"] <= 6
    # Each item's exposure is a share of simulees: they add up to the mean test length.
    total = sum(item["exposure"] for item in report["items"])
    assert total == pytest.approx(metrics["mean_test_length"], abs=1e-4)
    assert len(report["items"]) == 8
    assert len(report["items"][0]["conditional_exposure"]) == len(report["strata"]) + 1 == 4
    assert 0.5 < metrics["classified_correctly"] <= 1
    assert 0 <= metrics["blueprint_met_share"] <= 1
    assert set(report["timing"]) == {"compile_s", "run_s", "simulee_steps_per_s"}
    again = json.loads(qbank(*args).stdout)
    assert again["metrics"] == metrics


def test_an_r_max_design_keeps_every_item_within_one_wave_of_the_cap(pool_csv):  # noqa: F811
    def max_exposure(exposure):
        design = {"exposure": exposure, "stopping": {"max_len": 2}}
        done = qbank("simulate", "--pool", str(pool_csv), "--design", json.dumps(design),
                     "--n", "400", "--seed", "3", "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["metrics"]["max_exp"]

    # 400 simulees in R_MAX_WAVES = 20 waves of 20: at most r_max + (1 − r_max)·20/400.
    assert max_exposure({"method": "none"}) > 0.9
    assert max_exposure({"method": "r_max", "r_max": 0.3}) <= 0.3 + 0.7 * 20 / 400


def test_text_report_without_a_design_uses_the_defaults(pool_csv):  # noqa: F811
    done = qbank("simulate", "--pool", str(pool_csv), "--design", '{"stopping": {"max_len": 4}}',
                 "--n", "50")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "mean 4.00" in done.stdout
    assert "blueprint" not in done.stdout
    assert "classification" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give one of --exam and --pool"),
        (["--exam", "X", "--pool", "p.csv"], "give one of --exam and --pool"),
        (["--pool", "POOL", "--design", "{nope"], "not valid JSON"),
        (["--pool", "POOL", "--design", "/nonexistent.json"], "neither a JSON object nor a file"),
        (["--pool", "POOL", "--design", '{"stopping": {"max_len": 50}}'], "exceeds the pool"),
        (["--pool", "POOL", "--design", '{"estimator": "mle"}'], "estimator must be one of"),
        (
            ["--pool", "POOL", "--design", '{"exposure": {"method": "r_max", "r_max": 2}}'],
            "exposure.r_max",
        ),
        (["--pool", "POOL", "--theta-dist", "cauchy"], "theta"),
        (
            ["--pool", "POOL", "--design", '{"stopping": {"max_len": 5}}', "--strata", "1,0"],
            "increasing",
        ),
    ],
)
def test_bad_command_lines_are_one_line_and_exit_2(pool_csv, args, message):  # noqa: F811
    done = qbank("simulate", *[str(pool_csv) if arg == "POOL" else arg for arg in args])
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


def test_exam_uses_its_stored_design(tmp_path, monkeypatch, capsys):
    from qbank.cli.main import main
    from qbank.services.delivery.exam_design import set_exam_design
    from qbank.store.db import init_schema, make_engine, make_session_factory
    from tests.services.conftest import EXAM, TENANT, build_exam

    url = f"sqlite:///{tmp_path / 'qbank.db'}"
    engine = make_engine(url)
    init_schema(engine)
    sessions = make_session_factory(engine)
    build_exam(sessions, n_items=16)
    blueprint = {"Cardiology": 0.25, "Nephrology": 0.25, "Neurology": 0.25, "Oncology": 0.25}
    set_exam_design(sessions, TENANT, EXAM, {"stopping": {"max_len": 8}, "blueprint": blueprint})
    monkeypatch.setenv("QBANK_DATABASE_URL", url)
    monkeypatch.setenv("QBANK_TENANT_ID", TENANT)
    monkeypatch.delenv("QBANK_REDIS_URL", raising=False)
    main(["simulate", "--exam", EXAM, "--n", "100", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["design"]["blueprint"] == blueprint
    # Kingsbury–Zara over 4 topics of 4 items, 8 per test: 2 of each, every time.
    assert report["metrics"]["blueprint_met_share"] == 1.0
    assert report["metrics"]["mean_test_length"] == 8
    engine.dispose()
