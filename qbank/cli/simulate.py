"""``qbank simulate``: run an exam's test design (or one given) on simulees and summarise it."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["simulate_command"]


def _parse_strata(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise click.UsageError(
            f"--strata must be numbers separated by commas, got {text!r}"
        ) from None


def _format(report: Any) -> str:
    m = report.scalars()
    design = report.design
    lines = [
        f"design: {design.selection} + {design.estimator}, exposure {design.exposure}, "
        f"{report.n} simulees (seed {report.seed}), pool {report.pool.n_items} items",
        f"test length   mean {m['mean_test_length']:.2f}  min {m['min_test_length']}  "
        f"max {m['max_test_length']} (max_len {design.stopping.max_len})",
        f"exposure      max {m['max_exp']:.3f}  overlap {m['overlap']:.3f}  "
        f"unused {m['unused_share']:.1%}",
        "conditional   max exposure by θ stratum (cuts "
        + ", ".join(f"{x:g}" for x in report.strata)
        + "): "
        + "  ".join(f"{x:.3f}" for x in m["conditional_max_exp"]),
        f"precision     bias {m['bias']:+.3f}  RMSE {m['rmse']:.3f}",
    ]
    if m["blueprint_met_share"] is not None:
        lines.append(f"blueprint     met by {m['blueprint_met_share']:.1%} of tests")
    if m["classified_correctly"] is not None:
        lines.append(
            f"classification cut {design.stopping.cut:g}: {m['classified_correctly']:.1%} correct, "
            f"{m['passed_share']:.1%} passed"
        )
    lines.append(f"timing        compile {report.compile_s:.2f} s, run {report.run_s:.3f} s")
    return "\n".join(lines)


@click.command("simulate")
@click.option("--exam", "exam_code", help="Simulate an exam's pool under its stored design.")
@click.option(
    "--pool", "pool_path", type=click.Path(dir_okay=False), help="Pool CSV: qid,ver,topic,a,b,c,k."
)
@click.option(
    "--design", "design_text", help="A design as JSON, or a JSON file (default: the exam's)."
)
@click.option("--n", "n_simulees", type=int, default=1000, show_default=True, help="Simulees.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulation.")
@click.option(
    "--theta-dist",
    default="normal0,1",
    show_default=True,
    help="normal<mu>,<sd> or uniform<lo>,<hi>.",
)
@click.option("--strata", help="θ cut points of the conditional exposure (default -1,0,1).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
def simulate_command(
    exam_code: str | None,
    pool_path: str | None,
    design_text: str | None,
    n_simulees: int,
    seed: int,
    theta_dist: str,
    strata: str | None,
    as_json: bool,
) -> None:
    """Run a test design on simulees: exposure, overlap, precision, length, blueprint, pass/fail.

    ``--exam CODE`` uses the exam's live pool and stored design; ``--pool FILE`` a pool file
    with ``--design`` (or the default design: max information, EAP, 25 items).
    """
    from qbank.services.calibration.design_sim import read_design, simulate_design

    if (exam_code is None) == (pool_path is None):
        raise click.UsageError("give one of --exam and --pool")
    design = read_design(design_text) if design_text is not None else None
    if exam_code is not None:
        from qbank.cli.store import open_sessions
        from qbank.services.calibration.design_sim import exam_pool_and_design
        from qbank.settings import Settings

        settings = Settings.from_env()
        pool, stored = exam_pool_and_design(open_sessions(settings), settings.tenant_id, exam_code)
        design = design or stored
        if design is None and not as_json:
            click.echo(f"qbank: exam {exam_code} has no design: using the defaults", err=True)
    else:
        from qbank.services.calibration.pool_files import read_pool_csv

        assert pool_path is not None
        pool = read_pool_csv(pool_path)
    from qbank.cat.design import TestDesign

    report = simulate_design(
        pool, design or TestDesign(), n=n_simulees, seed=seed, theta_dist=theta_dist,
        strata=_parse_strata(strata),
    )  # fmt: skip
    click.echo(json.dumps(report.as_json()) if as_json else _format(report))
