"""``qbank calibrate-sh``: on a pool file, a generated pool, the demo pool, or an exam."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

__all__ = ["calibrate_sh_command"]


def _parse_topic_map(option: str, text: str | None) -> dict[str, float]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.UsageError(f"{option} is not valid JSON ({error.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise click.UsageError(f'{option} must be a JSON object like {{"Cardiology": 0.1}}')
    return {str(topic): weight for topic, weight in value.items()}


def _parse_strata(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise click.UsageError(
            f"--strata must be numbers separated by commas, got {text!r}"
        ) from None


class _Progress:
    """One line per iteration on stderr (redrawn in place on a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.in_place = enabled and sys.stderr.isatty()

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        done = progress.current_iter * 30 // progress.total_iters
        bar = "#" * done + "." * (30 - done)
        row = progress.row
        line = (
            f"iter {progress.current_iter:>3}/{progress.total_iters} [{bar}] "
            f"max_exp {row['max_exp']:.3f}  max_over {row['max_over']:+.3f}  "
            f"avg_exp {row['avg_exp']:.3f}"
        )
        end = "" if self.in_place and progress.current_iter < progress.total_iters else "\n"
        click.echo(("\r" if self.in_place else "") + line + end, err=True, nl=False)


@click.command("calibrate-sh")
@click.option(
    "--pool",
    "pool_path",
    type=click.Path(dir_okay=False),
    help="Pool CSV: columns qid,ver,topic,a,b,c,k.",
)
@click.option("--synthetic", type=int, help="Generate a pool of N items instead of reading one.")
@click.option(
    "--pool-seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the generated pool.",
)
@click.option("--tau", type=float, default=0.2, show_default=True, help="Target exposure rate.")
@click.option(
    "--alpha", type=float, default=0.6, show_default=True, help="Damping exponent of the k update."
)
@click.option(
    "--n", "n_simulees", type=int, default=400, show_default=True, help="Simulees per iteration."
)
@click.option(
    "--test-len", type=int, default=25, show_default=True, help="Items per simulated test."
)
@click.option("--iters", type=int, default=5, show_default=True, help="Calibration iterations.")
@click.option(
    "--theta-dist",
    default="normal0,1",
    show_default=True,
    help="normal<mu>,<sd> or uniform<lo>,<hi>.",
)
@click.option("--floor", type=float, default=0.02, show_default=True, help="Lowest k.")
@click.option("--ceil", type=float, default=1.0, show_default=True, help="Highest k.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulation.")
@click.option(
    "--ability",
    type=click.Choice(["estimated", "true"]),
    default="estimated",
    show_default=True,
    help="Select at the EAP estimate or at the true θ.",
)
@click.option(
    "--update-rule",
    type=click.Choice(["multiplicative", "sympson-hetter"]),
    default="multiplicative",
    show_default=True,
    help="k update: the seed's k·(tau/r)^alpha, or Sympson & Hetter 1985 (set-aside lottery).",
)
@click.option(
    "--until-converged",
    is_flag=True,
    help="Stop once max_over has stayed <= --tol for 3 iterations (or at --iters).",
)
@click.option(
    "--tol", type=float, default=0.01, show_default=True, help="Tolerance of --until-converged."
)
@click.option(
    "--conditional",
    is_flag=True,
    help="Conditional S–H (Stocking & Lewis 1998): one k per item and θ stratum.",
)
@click.option(
    "--strata",
    help="θ cut points of the strata, e.g. '-1,-0.3,0.3,1' (default: 5 N(0,1) quintiles).",
)
@click.option("--topic-tau", help="Per-topic tau as JSON, e.g. '{\"Cardiology\": 0.1}'.")
@click.option("--topic-weights", help="Per-topic weights as JSON: tau_topic = tau·w/Σw.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write the pool with its new k as CSV.",
)
@click.option("--exam", "exam_code", help="Calibrate an exam in the database and record a run.")
@click.option("--dry-run", is_flag=True, help="With --exam: record the new k without applying it.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def calibrate_sh_command(
    pool_path: str | None,
    synthetic: int | None,
    pool_seed: int,
    tau: float,
    alpha: float,
    n_simulees: int,
    test_len: int,
    iters: int,
    theta_dist: str,
    floor: float,
    ceil: float,
    seed: int,
    ability: str,
    update_rule: str,
    until_converged: bool,
    tol: float,
    conditional: bool,
    strata: str | None,
    topic_tau: str | None,
    topic_weights: str | None,
    out_path: str | None,
    exam_code: str | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Calibrate Sympson–Hetter exposure parameters k by simulation.

    Reads a pool (--pool), generates one (--synthetic N), or uses the built-in demo pool.
    """
    from qbank.cat import CalibrationParams
    from qbank.services.calibration.pool_files import (
        demo_pool,
        generate_pool,
        read_pool_csv,
        write_k_csv,
    )
    from qbank.services.calibration.sh_pool import calibrate_pool

    sources = [pool_path is not None, synthetic is not None, exam_code is not None]
    if sum(sources) > 1:
        raise click.UsageError("give one of --pool, --synthetic and --exam")
    if dry_run and exam_code is None:
        raise click.UsageError("--dry-run needs --exam")
    params = CalibrationParams(
        tau=tau,
        n=n_simulees,
        test_len=test_len,
        iters=iters,
        alpha=alpha,
        theta_dist=theta_dist,
        floor=floor,
        ceil=ceil,
        seed=seed,
        ability=ability,
        update_rule=update_rule,
        until_converged=until_converged,
        tol=tol,
        conditional=conditional,
        strata=_parse_strata(strata),
        topic_tau=_parse_topic_map("--topic-tau", topic_tau),
        topic_weights=_parse_topic_map("--topic-weights", topic_weights),
    )
    if conditional and out_path:
        raise click.UsageError(
            "--out writes one k per item; a conditional run's k per stratum are in --json"
        )
    if exam_code is not None:
        if out_path:
            raise click.UsageError("--out works with --pool or --synthetic; use 'qbank runs show'")
        _calibrate_exam(exam_code, params, dry_run, as_json, quiet)
        return
    if pool_path is not None:
        pool = read_pool_csv(pool_path)
    elif synthetic is not None:
        pool = generate_pool(synthetic, pool_seed)
    else:
        pool = demo_pool()
        if not quiet:
            click.echo(
                "qbank: no --pool given: using the built-in demo pool "
                f"({pool.n_items} items, {len(set(pool.topics))} topics)",
                err=True,
            )
    progress = _Progress(iters, enabled=not quiet)
    report = calibrate_pool(pool, params, on_iteration=progress)
    if progress.in_place and len(report.result.history) < iters:
        click.echo("", err=True)  # the in-place line of a run that stopped early
    if out_path:
        write_k_csv(out_path, pool, report.result.k_after)
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        from qbank.services.calibration.report_text import format_calibration_report

        click.echo(format_calibration_report(report, out_path))


def _calibrate_exam(exam_code: str, params: Any, dry_run: bool, as_json: bool, quiet: bool) -> None:
    from qbank.cli.store import open_sessions, print_run
    from qbank.services.calibration.run_views import get_run
    from qbank.services.calibration.runs import execute_run
    from qbank.services.calibration.sh import create_run
    from qbank.settings import Settings

    settings = Settings.from_env()
    sessions = open_sessions(settings)
    run_id = create_run(sessions, settings.tenant_id, exam_code, params, dry_run=dry_run)
    if not quiet:
        click.echo(f"qbank: run {run_id} on {exam_code}", err=True)
    execute_run(sessions, run_id, on_progress=_Progress(params.iters, enabled=not quiet))
    print_run(get_run(sessions, settings.tenant_id, run_id), as_json)
