import csv
import io

import pytest

from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.services.calibration.run_apply import apply_run
from qbank.services.calibration.run_views import get_run, list_runs
from qbank.services.calibration.runs import cancel_run, execute_run
from qbank.services.calibration.sweep import (
    SWEEP_CSV_HEADER,
    SweepParams,
    parse_grid,
    start_sweep,
    sweep_csv,
)
from tests.services.conftest import EXAM, TENANT

GRID = SweepParams(taus=(0.15, 0.3), alphas=(0.5, 1.0), n=150, test_len=5, iters=2, seed=3)


class NoQueue:
    """Records the job instead of running it, so the test runs it when it wants."""

    def enqueue(self, task_path, *args):
        self.args = args
        return "job-1"


def test_parse_grid_sorts_and_dedupes_and_says_what_is_wrong():
    assert parse_grid("tau", "0.3, 0.1 0.2,0.1") == (0.1, 0.2, 0.3)
    with pytest.raises(InvalidInputError, match="at least one value"):
        parse_grid("tau", " , ")
    with pytest.raises(InvalidInputError, match="not a number"):
        parse_grid("tau", "0.1, abc")
    with pytest.raises(InvalidInputError, match="at most 12"):
        parse_grid("tau", " ".join(str(i / 100) for i in range(1, 14)))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"taus": (0.0,)}, "tau must be in"),
        ({"alphas": (6.0,)}, "alpha must be in"),
        ({"taus": ()}, "at least one tau"),
        ({"taus": tuple(i / 100 for i in range(1, 10)), "alphas": tuple(range(1, 9))}, "64 cells"),
        ({"n": 0}, "n must be"),
    ],
)
def test_sweep_params_refuse_bad_grids(fields, message):
    with pytest.raises(InvalidInputError, match=message):
        SweepParams(**fields)


def test_a_sweep_reports_every_cell_and_writes_nothing(session_factory, exam):
    queue = NoQueue()
    job_id, run_id = start_sweep(session_factory, queue, TENANT, EXAM, GRID)
    assert (job_id, queue.args) == ("job-1", (run_id,))
    seen = []
    assert execute_run(session_factory, run_id, on_progress=seen.append) == "done"
    assert [(step.current_iter, step.total_iters) for step in seen] == [(i, 4) for i in range(1, 5)]
    run = get_run(session_factory, TENANT, run_id)
    assert (run.kind, run.status, run.applied_at) == ("sweep", "done", None)
    cells = run.result["cells"]
    assert [(cell["tau"], cell["alpha"]) for cell in cells] == [
        (0.15, 0.5), (0.15, 1.0), (0.3, 0.5), (0.3, 1.0)]  # fmt: skip
    for cell in cells:
        assert 0 < cell["max_exp"] <= 1
        assert 0 <= cell["unused_share"] <= 1
        assert cell["rmse"] > 0
    with pytest.raises(ConflictError, match="only reports"):
        apply_run(session_factory, TENANT, run_id)
    rows = list(csv.reader(io.StringIO(sweep_csv(run.result))))
    assert tuple(rows[0]) == SWEEP_CSV_HEADER
    assert len(rows) == 5
    found, total = list_runs(session_factory, TENANT, kind="sweep")
    assert (total, found[0].id) == (1, run_id)
    assert list_runs(session_factory, TENANT, kind="sh")[1] == 0


def test_the_same_sweep_gives_the_same_grid(session_factory, exam):
    grids = []
    for _ in range(2):
        run_id = start_sweep(session_factory, NoQueue(), TENANT, EXAM, GRID)[1]
        execute_run(session_factory, run_id)
        grids.append(get_run(session_factory, TENANT, run_id).result["cells"])
    assert grids[0] == grids[1]


def test_a_cancelled_sweep_stops_between_cells(session_factory, exam):
    run_id = start_sweep(session_factory, NoQueue(), TENANT, EXAM, GRID)[1]

    def cancel_after_first(step):
        if step.current_iter == 1:
            cancel_run(session_factory, TENANT, run_id)

    assert execute_run(session_factory, run_id, on_progress=cancel_after_first) == "cancelled"
    assert len(get_run(session_factory, TENANT, run_id).history) == 1


def test_start_sweep_checks_the_exam(session_factory, exam):
    with pytest.raises(NotFoundError, match="no live"):
        start_sweep(session_factory, NoQueue(), TENANT, "NOPE", GRID)
    too_long = SweepParams(taus=(0.2,), alphas=(1.0,), test_len=41)
    with pytest.raises(InvalidInputError, match="exceeds"):
        start_sweep(session_factory, NoQueue(), TENANT, EXAM, too_long)
    assert list_runs(session_factory, TENANT)[1] == 0
