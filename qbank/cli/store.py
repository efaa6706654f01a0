"""Database, runs and worker commands: db init, import, seed-demo, runs, worker."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from qbank.settings import Settings

__all__ = ["COMMANDS", "open_sessions", "print_run"]


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, whose schema is created if missing."""
    from qbank.store.db import init_schema, make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    init_schema(engine)
    return make_session_factory(engine)


def print_run(run: Any, as_json: bool) -> None:
    """A run as one JSON object or as a readable summary."""
    if as_json:
        click.echo(json.dumps(run.as_dict()))
        return
    click.echo(
        f"run {run.id}  exam {run.exam_code}  status {run.status}"
        f"{'  (dry run)' if run.dry_run else ''}"
    )
    click.echo(f"created {run.created_at}  started {run.started_at}  finished {run.finished_at}")
    click.echo(f"progress {run.current_iter}/{run.total_iters}")
    if run.kind == "irt":
        _print_irt_run(run)
        return
    for row in run.history:
        click.echo(
            f"  iter {int(row['iter']):>3}  avg_exp {row['avg_exp']:.3f}  "
            f"max_exp {row['max_exp']:.3f}  max_over {row['max_over']:+.3f}"
        )
    if run.result:
        metrics = run.result["metrics"]
        click.echo(
            f"final: max_exp {metrics['max_exp']:.3f}  chi2 {metrics['chi2']:.2f}  "
            f"overlap {metrics['overlap']:.3f}  unused {metrics['unused_share']:.3f}  "
            f"rmse {metrics['rmse']:.3f}"
        )
        applied = "applied" if run.applied_at else "not applied (qbank runs apply ID)"
        click.echo(
            f"k: {run.result['updated']} of {len(run.result['diff'])} items changed, {applied}"
        )
    if run.error:
        click.echo(f"error: {run.error}")


def _print_irt_run(run: Any) -> None:
    for row in run.history:
        click.echo(f"  cycle {int(row['iter']):>4}  loglik {row['loglik']:.3f}  "
                   f"max change {row['max_change']:.2e}")  # fmt: skip
    if run.result:
        result = run.result
        applied = "applied" if run.applied_at else "not applied (qbank runs apply ID)"
        click.echo(f"{result['model']}: loglik {result['loglik']}, {result['cycles']} cycles, "
                   f"{'converged' if result['converged'] else 'NOT converged'}; "
                   f"{result['updated']} items estimated, {len(result['skipped'])} kept, "
                   f"{applied}")  # fmt: skip
    if run.error:
        click.echo(f"error: {run.error}")


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("init")
def db_init() -> None:
    """Create or upgrade the schema of the configured database (idempotent)."""
    settings = Settings.from_env()
    open_sessions(settings)
    click.echo(f"schema ready on {_redact(settings.database_url)}")


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def import_command(path: str) -> None:
    """Import questions from a JSON or CSV file, all or nothing."""
    from qbank.services.authoring.importing import import_questions

    settings = Settings.from_env()
    report = import_questions(open_sessions(settings), settings.tenant_id, path)
    click.echo(f"imported {report.created} questions into tenant {settings.tenant_id}")


@click.command("seed-demo")
@click.option(
    "--responses",
    type=click.IntRange(0, 200_000),
    default=5000,
    show_default=True,
    help="Simulated past responses to add.",
)
def seed_demo_command(responses: int) -> None:
    """Load the demo exam (DEMO-EXAM) and simulated responses; safe to run again."""
    from qbank.services.demo.seeding import seed_demo

    settings = Settings.from_env()
    report = seed_demo(open_sessions(settings), settings.tenant_id, n_responses=responses)
    click.echo(
        f"demo exam {report.exam_code}: {report.created} questions added, "
        f"{report.existing} already there, {report.responses} responses added"
    )


@click.group("runs")
def runs_group() -> None:
    """Calibration runs."""


@runs_group.command("list")
@click.option("--exam", "exam_code")
@click.option("--status")
@click.option("--start", help="YYYY-MM-DD (inclusive)")
@click.option("--end", help="YYYY-MM-DD (inclusive)")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
def runs_list(
    exam_code: str | None,
    status: str | None,
    start: str | None,
    end: str | None,
    page: int,
    page_size: int,
    as_json: bool,
) -> None:
    """List runs, newest first."""
    from qbank.services.calibration.run_views import list_runs

    settings = Settings.from_env()
    runs, total = list_runs(
        open_sessions(settings),
        settings.tenant_id,
        exam_code=exam_code,
        status=status,
        start=start,
        end=end,
        page=page,
        page_size=page_size,
    )
    if as_json:  # the API's list shape; "runs" is the same list under its older name
        rows = [run.summary() for run in runs]
        listing = {"total": total, "page": page, "page_size": page_size, "items": rows}
        click.echo(json.dumps({**listing, "runs": rows}))
        return
    if not runs:
        click.echo("no runs yet: start one with 'qbank calibrate-sh --exam CODE'")
        return
    for run in runs:
        click.echo(
            f"{run.id}  {run.exam_code:<12} {run.status:<9} "
            f"{run.current_iter}/{run.total_iters}  {run.created_at}"
        )
    click.echo(f"{len(runs)} of {total} (page {page})")


@runs_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--diff-csv", is_flag=True, help="Print the k diff as CSV.")
def runs_show(run_id: str, as_json: bool, diff_csv: bool) -> None:
    """Show one run."""
    from qbank.services.calibration import run_views

    settings = Settings.from_env()
    sessions = open_sessions(settings)
    if diff_csv:
        click.echo(run_views.diff_csv(sessions, settings.tenant_id, run_id), nl=False)
        return
    print_run(run_views.get_run(sessions, settings.tenant_id, run_id), as_json)


_VALUES_OF = {"sh": "k", "irt": "a/b/c"}  # what applying a run of each kind writes


def _write_run_values(run_id: str, rollback: bool, force: bool = False) -> None:
    from qbank.services.calibration.run_apply import apply_run, rollback_run
    from qbank.services.calibration.run_views import get_run

    settings = Settings.from_env()
    sessions = open_sessions(settings)
    write = rollback_run if rollback else apply_run
    count = write(sessions, settings.tenant_id, run_id, force=force)
    what = _VALUES_OF.get(get_run(sessions, settings.tenant_id, run_id).kind, "values")
    if rollback:
        click.echo(f"restored {what} of {count} items from before run {run_id}")
    else:
        click.echo(f"applied {what} of {count} items from run {run_id}")


_FORCE_HELP = "write even where items changed since (a newer run, a manual set); recorded"


@runs_group.command("apply")
@click.argument("run_id")
@click.option("--force", is_flag=True, help=_FORCE_HELP)
def runs_apply(run_id: str, force: bool) -> None:
    """Write a finished run's new values (e.g. a dry run's) in one transaction.

    Refused (nothing written) when items no longer hold the values the run started from.
    """
    _write_run_values(run_id, rollback=False, force=force)


@runs_group.command("rollback")
@click.argument("run_id")
@click.option("--force", is_flag=True, help=_FORCE_HELP)
def runs_rollback(run_id: str, force: bool) -> None:
    """Restore the values a run started from, in one transaction.

    Refused (nothing written) when items no longer hold the run's values: a newer run or a
    manual change would be undone.
    """
    _write_run_values(run_id, rollback=True, force=force)


@runs_group.command("cancel")
@click.argument("run_id")
def runs_cancel(run_id: str) -> None:
    """Cancel a queued or running run."""
    from qbank.services.calibration.runs import cancel_run

    settings = Settings.from_env()
    cancel_run(open_sessions(settings), settings.tenant_id, run_id)
    click.echo(f"run {run_id} cancelled")


_BACKOFF_MAX_S = 30.0


def _preload_run_kinds(settings: Settings) -> None:
    """Import the task and every run kind (JAX with them) before the first job, not during it.

    The worker is idle now; a run it picks up then starts iterating within the time of its
    compiled programs (from the compilation cache) instead of first importing JAX.
    """
    import importlib

    from qbank.services.calibration.runs import RUN_KIND_PATHS
    from qbank.settings import enable_compile_cache

    importlib.import_module("qbank.tasks")
    for path in RUN_KIND_PATHS.values():
        importlib.import_module(path.split(":")[0])
    enable_compile_cache(settings)


@click.command("worker")
@click.option("--queue", "queue_name", help="RQ queue to serve (default: QBANK_RQ_QUEUE or qbank).")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(queue_name: str | None, burst: bool) -> None:
    """Run background jobs from Redis (needs QBANK_REDIS_URL).

    Survives Redis and PostgreSQL outages: it logs the outage, reconnects with backoff (1 s
    doubling to 30 s) and goes on. A sweep in the worker fails runs whose job or worker vanished.
    """
    import time

    import redis
    from sqlalchemy.exc import SQLAlchemyError

    from qbank.errors import QBankError
    from qbank.jobs.queue import RqJobQueue
    from qbank.services.calibration.run_sweep import RunSweeper, sweep_runs

    settings = Settings.from_env()
    if not settings.redis_url:
        raise click.UsageError(
            "qbank worker needs QBANK_REDIS_URL (without it, jobs run in-process)"
        )
    problem = settings.secret_problem()  # one rule for every long-running process
    if problem:
        raise click.UsageError(problem)
    queue_name = queue_name or settings.rq_queue
    queue = RqJobQueue(settings.redis_url, queue_name)
    where = _redact(settings.redis_url)
    click.echo(f"qbank worker: queue {queue_name} on {where}", err=True)
    sessions = open_sessions(settings)
    try:  # once now, so the command says what it found; then every 15 s in the background
        for run in sweep_runs(sessions, queue):
            click.echo(f"qbank worker: run {run.run_id} had lost its worker or job "
                       f"({run.reason}); marked failed", err=True)  # fmt: skip
    except (SQLAlchemyError, QBankError) as error:
        click.echo(f"qbank worker: cannot sweep runs yet ({type(error).__name__})", err=True)
    _preload_run_kinds(settings)
    sweeper = RunSweeper(sessions, queue).start()
    backoff = 1.0
    try:
        while True:
            started = time.monotonic()
            try:
                queue.worker().work(burst=burst, with_scheduler=False)
                return  # the queue is empty (--burst) or the worker was asked to stop
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                what = f"Redis at {where} is unreachable ({error})"
            except SQLAlchemyError as error:
                what = f"the database is unreachable ({type(error).__name__})"
            if time.monotonic() - started > 60:  # it had been working: a new outage
                backoff = 1.0
            click.echo(f"qbank worker: {what}; reconnecting in {backoff:.0f} s", err=True)
            time.sleep(backoff)
            backoff = min(2 * backoff, _BACKOFF_MAX_S)
    finally:
        sweeper.stop()


COMMANDS = [db_group, import_command, seed_demo_command, runs_group, worker_command]
