"""Calibration runs and sweeps of an exam simulate under its test design and record it."""

import numpy as np
import pytest

from qbank.cat import CalibrationParams
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import execute_run
from qbank.services.calibration.sh import create_run
from qbank.services.calibration.sweep import SweepParams, start_sweep
from qbank.services.delivery.exam_design import get_exam_design, set_exam_design
from qbank.services.delivery.item_pool import load_exam_pool
from tests.services.conftest import EXAM, TENANT, TOPICS

BLUEPRINT = {"Cardiology": 0.5, "Nephrology": 0.25, "Neurology": 0.125, "Oncology": 0.125}


class NoQueue:
    def enqueue(self, task_path, *args):
        return "job-1"


def run_sh(sessions, design):
    if design is not None:
        set_exam_design(sessions, TENANT, EXAM, design, "admin-1")
    params = CalibrationParams(n=400, test_len=5, iters=2, tau=0.3, seed=2)
    run_id = create_run(sessions, TENANT, EXAM, params, dry_run=True)
    assert execute_run(sessions, run_id) == "done"
    return get_run(sessions, TENANT, run_id)


def test_a_run_takes_the_exams_design_and_records_it(session_factory, exam):
    design = {"stopping": {"max_len": 8}, "blueprint": BLUEPRINT}
    run = run_sh(session_factory, design)
    stored = get_exam_design(session_factory, TENANT, EXAM).design
    assert run.params["design"] == stored
    assert run.result["design"] == stored
    assert run.params["test_len"] == 8  # the design's length, not the 5 asked
    assert run.history[0]["avg_exp"] == pytest.approx(8 / 40)
    # Kingsbury–Zara with 8 items: exactly 4, 2, 1, 1 per topic in every test.
    rates = np.asarray(run.result["exposure_rates_after"])
    topics = np.asarray(load_exam_pool(session_factory, TENANT, EXAM).topics)
    per_topic = {name: rates[topics == name].sum() for name in TOPICS}
    assert per_topic == pytest.approx({"Cardiology": 4, "Nephrology": 2, "Neurology": 1,
                                       "Oncology": 1})  # fmt: skip


def test_a_run_under_an_se_rule_gives_shorter_tests(session_factory, exam):
    run = run_sh(session_factory, {"stopping": {"max_len": 10, "min_len": 2, "se": 0.6}})
    mean_length = run.history[0]["avg_exp"] * 40
    assert 2 <= mean_length < 10
    assert run.result["design"]["stopping"]["se"] == 0.6


def test_a_run_without_a_design_records_none(session_factory, exam):
    run = run_sh(session_factory, None)
    assert "design" not in run.params
    assert run.result["design"] is None
    assert run.history[0]["avg_exp"] == pytest.approx(5 / 40)


def test_a_sweep_takes_the_exams_design_and_records_it(session_factory, exam):
    set_exam_design(session_factory, TENANT, EXAM,
                    {"stopping": {"max_len": 6, "min_len": 2, "se": 0.6}}, "admin-1")  # fmt: skip
    grid = SweepParams(taus=(0.2,), alphas=(1.0,), n=150, test_len=5, iters=1, seed=3)
    _, run_id = start_sweep(session_factory, NoQueue(), TENANT, EXAM, grid)
    assert execute_run(session_factory, run_id) == "done"
    run = get_run(session_factory, TENANT, run_id)
    assert run.params["test_len"] == 6
    assert run.params["design"]["stopping"]["se"] == 0.6
    assert run.result["design"] == run.params["design"]


def test_a_run_under_an_r_max_design_keeps_exposure_within_one_wave_of_the_cap(
    session_factory, exam
):
    # 40 items, tests of 8: a mean rate of 0.2, capped at 0.25; 400 simulees in 20 waves of 20.
    exposure = {"method": "r_max", "r_max": 0.25}
    capped = run_sh(session_factory, {"stopping": {"max_len": 8}, "exposure": exposure})
    free = run_sh(session_factory, {"stopping": {"max_len": 8}})
    assert capped.result["design"]["exposure"] == {**exposure, "strata_edges": []}
    assert free.history[0]["max_exp"] > 0.9
    bound = 0.25 + 0.75 * 20 / 400
    assert max(row["max_exp"] for row in capped.history) <= bound
    assert max(np.asarray(capped.result["exposure_rates_after"])) <= bound


@pytest.mark.parametrize(
    ("stopping", "length"), [({"max_len": 8}, 8), ({"max_len": 8, "min_len": 3, "se": 5.0}, 3)]
)
def test_simulee_steps_count_the_items_given(session_factory, exam, stopping, length):
    from qbank.cat.design import TestDesign
    from qbank.services.calibration.sh import design_params
    from qbank.services.calibration.sh_pool import calibrate_pool

    # An SE of 5 is met by any posterior: every test stops at min_len, 3 of its max_len 8.
    design = TestDesign.from_json({"stopping": stopping})
    params = design_params(CalibrationParams(n=200, iters=2, tau=0.3, seed=4), design)
    report = calibrate_pool(load_exam_pool(session_factory, TENANT, EXAM), params, design=design)
    simulations = params.iters + 1  # the iterations and the final evaluation
    assert report.result.simulee_steps == simulations * 200 * length
    assert report.simulee_steps_per_s * report.run_s == pytest.approx(simulations * 200 * length)
