"""Job entry points: adapters, like controllers. Build settings, open a session, call a service.

The RQ worker (``qbank worker``) and the in-process runner both call these by dotted path
(``qbank.jobs.queue.CALIBRATION_TASK``), so both runtimes run the same code.
"""

from __future__ import annotations

from qbank.jobs.queue import report_progress
from qbank.services.calibration.runs import RunProgress, execute_run
from qbank.settings import Settings, enable_compile_cache
from qbank.store.db import make_engine, make_session_factory

__all__ = ["run_calibration"]


def run_calibration(run_id: str) -> str:
    """Execute one queued run of any kind; returns its final status."""
    settings = Settings.from_env()
    enable_compile_cache(settings)  # a worker's later jobs of seen shapes skip XLA's compile
    engine = make_engine(settings.database_url)
    try:

        def progress(step: RunProgress) -> None:
            meta: dict[str, float] = {
                "current_iter": step.current_iter,
                "total_iters": step.total_iters,
            }
            meta.update({key: value for key, value in step.row.items()
                         if isinstance(value, int | float)})  # fmt: skip
            report_progress(meta)

        return execute_run(make_session_factory(engine), run_id, on_progress=progress)
    finally:
        engine.dispose()
