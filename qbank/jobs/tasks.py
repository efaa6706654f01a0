"""Job entry points (adapters, like controllers): build settings, open a session, call a service."""

from __future__ import annotations

from qbank.cat import IterationProgress
from qbank.jobs.queue import report_progress
from qbank.services.runs import execute_run
from qbank.settings import Settings
from qbank.store.db import make_engine, make_session_factory

__all__ = ["run_sh_calibration"]


def run_sh_calibration(run_id: str) -> str:
    """Execute one queued S–H calibration run; returns its final status."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:

        def progress(step: IterationProgress) -> None:
            row = step.row
            meta = {"current_iter": step.current_iter, "total_iters": step.total_iters,
                    "avg_exp": row["avg_exp"], "max_over": row["max_over"]}  # fmt: skip
            report_progress(meta)

        return execute_run(make_session_factory(engine), run_id, on_progress=progress)
    finally:
        engine.dispose()
