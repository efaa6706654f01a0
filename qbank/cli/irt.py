"""``qbank calibrate-irt``: MML item calibration of an exam's responses or of a response file."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

__all__ = ["calibrate_irt_command"]


class _Progress:
    """One line per EM cycle on stderr (redrawn in place on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.in_place = enabled and sys.stderr.isatty()

    def __call__(self, cycle: int, loglik: float, max_change: float) -> None:
        if not self.enabled:
            return
        line = f"cycle {cycle:>4}  loglik {loglik:.3f}  max change {max_change:.2e}"
        click.echo(("\r" if self.in_place else "") + line + ("" if self.in_place else "\n"),
                   err=True, nl=False)  # fmt: skip

    def done(self) -> None:
        if self.in_place:
            click.echo("", err=True)


def _format(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.3f}"


def _print_table(report: dict[str, Any]) -> None:
    click.echo(f"{'item':>12} {'n':>6} {'a':>6} {'b':>6} {'c':>6} {'se_a':>6} {'se_b':>6} "
               f"{'se_c':>6}")  # fmt: skip
    for row in report["items"]:
        values = " ".join(_format(row[name]) for name in ("a", "b", "c", "se_a", "se_b", "se_c"))
        click.echo(f"{row['item']!s:>12} {row['n']:>6} {values}")
    state = "converged" if report["converged"] else "NOT converged"
    click.echo(f"model {report['model']}  loglik {report['loglik']}  "
               f"{report['cycles']} cycles, {state}")  # fmt: skip
    if not report["converged"] and report.get("message"):
        items = ", ".join(str(x) for x in report.get("unconverged_items") or [])
        click.echo(
            f"{report['stop_reason']}: {report['message']}" + (f" ({items})" if items else "")
        )


@click.command("calibrate-irt")
@click.option("--exam", "exam_code", help="Calibrate an exam's stored responses; records a run.")
@click.option(
    "--responses",
    "responses_path",
    type=click.Path(dir_okay=False),
    help="Long CSV with columns person,item,score (0/1; empty: not answered).",
)
@click.option(
    "--model",
    type=click.Choice(["1pl", "2pl", "3pl"]),
    default="3pl",
    show_default=True,
    help="Item response model (D = 1.7 metric).",
)
@click.option(
    "--min-respondents",
    type=int,
    default=50,
    show_default=True,
    help="With --exam: items answered by fewer persons keep their values.",
)
@click.option("--max-cycles", type=int, default=500, show_default=True, help="EM cycles at most.")
@click.option(
    "--tol", type=float, default=1e-4, show_default=True, help="Largest change that converges."
)
@click.option(
    "--gtol",
    type=float,
    default=1e-3,
    show_default=True,
    help="Largest gradient (times the parameter's SD) that converges.",
)
@click.option("--dry-run", is_flag=True, help="With --exam: record the estimates, apply nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def calibrate_irt_command(
    exam_code: str | None,
    responses_path: str | None,
    model: str,
    min_respondents: int,
    max_cycles: int,
    tol: float,
    gtol: float,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Estimate item parameters (a, b, c and standard errors) by marginal maximum likelihood."""
    if (exam_code is None) == (responses_path is None):
        raise click.UsageError("give one of --exam and --responses")
    if dry_run and exam_code is None:
        raise click.UsageError("--dry-run needs --exam")
    progress = _Progress(enabled=not quiet)
    if responses_path is not None:  # a file: no database, so nothing imports SQLAlchemy
        from qbank.cli.jax_import import import_jax

        import_jax()
        from qbank.irt import MmlSettings
        from qbank.services.calibration.irt_files import calibrate_responses_file

        settings = MmlSettings(model=model, max_cycles=max_cycles, tol=tol, gtol=gtol)
        report = calibrate_responses_file(
            responses_path, settings,
            on_cycle=lambda c: progress(c.cycle, c.loglik, c.max_change),
        )  # fmt: skip
    else:
        from qbank.services.calibration.irt import IrtParams

        params = IrtParams(model=model, min_respondents=min_respondents, max_cycles=max_cycles,
                           tol=tol, gtol=gtol)  # fmt: skip
        assert exam_code is not None
        report = _calibrate_exam(exam_code, params, dry_run, progress)
    progress.done()
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_table(report)
        if "run_id" in report:
            state = "dry run: apply with qbank runs apply" if dry_run else "applied"
            click.echo(f"run {report['run_id']}: {report['updated']} items estimated, "
                       f"{len(report['skipped'])} kept (too few respondents), {state}")  # fmt: skip


def _calibrate_exam(exam_code: str, params: Any, dry_run: bool, progress: _Progress) -> Any:
    from qbank.cli.store import open_sessions
    from qbank.services.calibration.irt import create_irt_run, exam_report
    from qbank.services.calibration.runs import execute_run
    from qbank.settings import Settings

    settings = Settings.from_env()
    sessions = open_sessions(settings)
    run_id = create_irt_run(sessions, settings.tenant_id, exam_code, params, dry_run=dry_run)
    execute_run(sessions, run_id,
                on_progress=lambda p: progress(p.current_iter, p.row["loglik"],
                                               p.row["max_change"]))  # fmt: skip
    return exam_report(sessions, settings.tenant_id, run_id)
