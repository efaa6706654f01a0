"""Plain-text rendering of a calibration report for the terminal."""

from __future__ import annotations

from typing import Any

import numpy as np

from qbank.cat import CalibrationParams
from qbank.services.calibration.sh_pool import CalibrationReport

__all__ = ["format_calibration_report"]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def _rule(params: CalibrationParams) -> str:
    if params.update_rule == "sympson-hetter":
        rule = "rule=sympson-hetter (1985, set-aside lottery)"
    else:
        rule = f"rule=multiplicative, alpha={params.alpha}"
    if params.until_converged:
        rule += f", until max_over <= {params.tol:g}"
    if params.conditional:
        rule += f", conditional on {len(params.strata_edges) + 1} θ strata"
    return rule


def _conditional_lines(params: CalibrationParams, final: dict[str, Any]) -> list[str]:
    cuts = ", ".join(f"{x:g}" for x in params.strata_edges)
    figures = " ".join(f"{x:.3f}" for x in final["conditional_max_exp"])
    if not params.conditional:
        return [f"max_exp by true-θ stratum (cuts {cuts}): {figures}"]
    calibrated = " ".join(f"{x:.3f}" for x in final["calibrated_conditional_max_exp"])
    return [
        f"conditional S–H, max_exp by true-θ stratum (cuts {cuts}):",
        f"  calibrated (lottery by true θ): {calibrated}",
        f"  operational (lottery by θ̂, as in delivery): {figures}",
    ]


def format_calibration_report(report: CalibrationReport, out_path: str | None = None) -> str:
    """History, final metrics, k summary and timing as an aligned text report."""
    params, result = report.params, report.result
    lines = [
        f"Sympson–Hetter calibration: {report.pool.n_items} items, n={params.n}, "
        f"test_len={params.test_len}, tau={params.tau}, {_rule(params)}, "
        f"iters={params.iters}, ability={params.ability}, seed={params.seed}",
        "",
    ]
    header = ["iter", "avg_exp", "max_exp", "max_over", "chi2", "overlap", "unused"]
    rows = [
        [
            str(int(row["iter"])),
            f"{row['avg_exp']:.3f}",
            f"{row['max_exp']:.3f}",
            f"{row['max_over']:+.3f}",
            f"{row['chi2']:.2f}",
            f"{row['overlap']:.3f}",
            f"{row['unused_share']:.3f}",
        ]
        for row in result.history
    ]
    final = result.metrics
    rows.append(
        [
            "final",
            f"{final['avg_exp']:.3f}",
            f"{final['max_exp']:.3f}",
            f"{final['max_over']:+.3f}",
            f"{final['chi2']:.2f}",
            f"{final['overlap']:.3f}",
            f"{final['unused_share']:.3f}",
        ]
    )
    lines += _table(header, rows)
    k_after = result.k_after
    changed = int(np.sum(np.abs(k_after - result.k_before) > 1e-6))
    cells = "items" if k_after.ndim == 1 else f"item × stratum values ({k_after.shape[0]} strata)"
    lines += [
        "",
        f"θ̂ after {params.test_len} items (final k): bias {final['bias']:+.3f}, "
        f"RMSE {final['rmse']:.3f}",
        f"k: {changed} of {k_after.size} {cells} changed; {int(np.sum(k_after < 1))} below 1, "
        f"min {float(k_after.min()):.3f}, median {float(np.median(k_after)):.3f}",
        *_conditional_lines(params, final),
        f"stopped: {result.stop_reason}",
        f"time: compile {report.compile_s:.2f} s, run {report.run_s:.2f} s, "
        f"{report.simulee_steps_per_s:,.0f} simulee-steps/s",
    ]
    if out_path:
        lines.append(f"new k written to {out_path}")
    return "\n".join(lines)
