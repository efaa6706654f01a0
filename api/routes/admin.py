"""Admin: exposure items, sh_p, S–H calibration runs, flags, cohorts and exam test designs."""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.errors import error_responses
from api.responses import (
    ApplyOut,
    CohortOut,
    ConditionalExposureOut,
    ExamDesignOut,
    ExposureItemOut,
    ExposurePage,
    ExposureSetOut,
    FlagOut,
    RollbackOut,
    RunDetailOut,
    RunPage,
    RunStartedOut,
    RunStatusOut,
    RunSummaryOut,
)
from api.runtime import Runtime
from api.schemas import NO_NUL, CalibrationStartIn, CohortIn, ExposureSetIn, FlagIn, IrtStartIn
from api.security import current_principal, requires
from qbank.cat import CalibrationParams
from qbank.errors import InvalidInputError
from qbank.services.access import flags
from qbank.services.authoring.exams import require_exam
from qbank.services.calibration import irt, run_apply, run_views, runs, sh
from qbank.services.delivery import exam_design
from qbank.services.exposure import conditional, sh_p, table

__all__ = ["ROUTES"]

ADMINS = requires("admin")
RUNS = "/v1/admin/exposure/calibrate_sh"
ID = Annotated[str, PathParameter(max_length=64, pattern=NO_NUL)]
ExamCode = Annotated[str | None, QueryParameter(max_length=64, pattern=NO_NUL)]
Page = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
PageSize = Annotated[int, QueryParameter(ge=1, le=200)]
# The services' names, spelled out for the schema (tests/api check they agree).
RunKindName = Literal["sh", "irt", "sweep"]
RunStatusName = Literal["queued", "running", "done", "failed", "cancelled"]
SortKey = Literal["attempts_7d", "question_id", "topic", "a", "b", "c", "sh_p"]
EXAM = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=NO_NUL)]
DESIGN = "/v1/admin/exams/{exam_code:str}/design"


def _tenant(request: Request[Any, Any, Any]) -> str:
    return current_principal(request).tenant_id


@get(
    "/v1/admin/exposure/items",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 503),
    tags=["admin"],
)
def exposure_items(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    exam_code: ExamCode = None,
    topic: Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)] = None,
    q: Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)] = None,
    sort: Annotated[SortKey, QueryParameter()] = "attempts_7d",
    order: Annotated[Literal["desc", "asc"], QueryParameter()] = "desc",
    page: Page = 1,
    page_size: PageSize = 50,
) -> ExposurePage:
    """Live item versions: topic, a/b/c, sh_p, attempts in the last 7 days, today's exposures.

    Filtered by exam, topic and text (``q``: stem or lead-in), sorted (ties by question id)
    and paged. An unknown ``exam_code`` is a 404.
    """
    tenant = _tenant(request)
    if exam_code:
        require_exam(runtime.sessions, tenant, exam_code)
    found = table.list_exposure_rows(
        runtime.sessions, runtime.state, tenant, exam_code=exam_code, topic=topic, text=q,
        sort=sort, descending=order == "desc", page=page, page_size=page_size,
    )  # fmt: skip
    rows = msgspec.convert(found.rows, list[ExposureItemOut], from_attributes=True)
    return ExposurePage(found.total, found.page, found.page_size, rows)


@get(
    "/v1/admin/exposure/conditional",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 503),
    tags=["admin"],
)
def exposure_conditional(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    exam_code: Annotated[str, QueryParameter(min_length=1, max_length=64, pattern=NO_NUL)],
    strata: Annotated[str | None, QueryParameter(max_length=256, pattern=NO_NUL)] = None,
    days: Annotated[int, QueryParameter(ge=1, le=conditional.MAX_DAYS)] = 7,
    top: Annotated[int, QueryParameter(ge=1, le=conditional.MAX_TOP)] = 20,
) -> ConditionalExposureOut:
    """Live exposure by the stratum of each finished quiz's final θ̂ (conditional S–H's check).

    ``strata`` is comma-separated cut points; by default those of the exam's conditional k, or
    five equally likely strata of N(0, 1). An unknown ``exam_code`` is a 404.
    """
    cuts = None
    if strata is not None:
        try:
            cuts = [float(part) for part in strata.split(",")]
        except ValueError:
            raise InvalidInputError(
                f"strata must be comma-separated numbers, got {strata!r}"
            ) from None
    tenant = _tenant(request)
    require_exam(runtime.sessions, tenant, exam_code)
    measured = conditional.conditional_exposure(
        runtime.sessions, tenant, exam_code, strata=cuts, days=days, top=top
    )
    body = dataclasses.asdict(measured)
    body["conditional_max_exp"] = measured.conditional_max_exp
    for stratum in body["by_stratum"]:  # JSON has no infinity: an open end is null
        for end in ("theta_from", "theta_to"):
            if math.isinf(stratum[end]):
                stratum[end] = None
    return msgspec.convert(body, ConditionalExposureOut)


@post(
    "/v1/admin/exposure/set",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409),
    tags=["admin"],
    status_code=200,
)
def exposure_set(
    request: Request[Any, Any, Any],
    data: JSONBody[ExposureSetIn],
    runtime: NamedDependency[Runtime],
) -> ExposureSetOut:
    """Set one item version's sh_p (in [0, 1]); it is stored and returned exactly as sent."""
    sh_p.set_sh_p(runtime.sessions, _tenant(request), data.question_id, data.version, data.sh_p)
    return ExposureSetOut(data.question_id, data.version, data.sh_p)


START_ERRORS = error_responses(400, 401, 403, 404, 409, 503)


@post(f"{RUNS}/start", guards=[ADMINS], sync_to_thread=True, responses=START_ERRORS,
      tags=["admin"])  # fmt: skip
def calibrate_start(
    request: Request[Any, Any, Any],
    data: JSONBody[CalibrationStartIn],
    runtime: NamedDependency[Runtime],
) -> RunStartedOut:
    """Queue an S–H calibration of an exam (run kind ``sh``); follow it with …/status."""
    values = {f.name: getattr(data, f.name) for f in dataclasses.fields(CalibrationParams)}
    params = CalibrationParams(**values)
    job_id, run_id = sh.start_run(
        runtime.sessions,
        runtime.queue,
        _tenant(request),
        data.exam_code,
        params,
        dry_run=data.dry_run,
    )
    return RunStartedOut(job_id, run_id)


@post("/v1/admin/calibrate_irt/start", guards=[ADMINS], sync_to_thread=True,
      responses=START_ERRORS, tags=["admin"])  # fmt: skip
def calibrate_irt_start(
    request: Request[Any, Any, Any],
    data: JSONBody[IrtStartIn],
    runtime: NamedDependency[Runtime],
) -> RunStartedOut:
    """Queue an MML item calibration (a, b, c, SEs) of an exam; follow it with the runs routes."""
    params = irt.IrtParams(
        model=data.model, min_respondents=data.min_respondents, max_cycles=data.max_cycles,
        tol=data.tol,
    )  # fmt: skip
    job_id, run_id = irt.start_irt_run(
        runtime.sessions, runtime.queue, _tenant(request), data.exam_code, params,
        dry_run=data.dry_run,
    )  # fmt: skip
    return RunStartedOut(job_id, run_id)


READ_ERRORS = error_responses(400, 401, 403, 404, 503)


@get(f"{RUNS}/status", guards=[ADMINS], sync_to_thread=True, responses=READ_ERRORS,
     tags=["admin"])  # fmt: skip
def calibrate_status(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    job_id: Annotated[str | None, QueryParameter(max_length=128, pattern=NO_NUL)] = None,
    run_id: Annotated[str | None, QueryParameter(max_length=64, pattern=NO_NUL)] = None,
) -> RunStatusOut:
    """Progress of a run of any kind by job id (or run id), with its result once done.

    ``status`` is the run's status; ``state`` is the same value under its old name, kept for
    older clients and deprecated.
    """
    found = run_views.run_status(runtime.sessions, _tenant(request), job_id=job_id, run_id=run_id)
    return msgspec.convert(found, RunStatusOut)


@get(f"{RUNS}/runs", guards=[ADMINS], sync_to_thread=True,
     responses=error_responses(400, 401, 403, 503), tags=["admin"])  # fmt: skip
def list_runs(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    exam_code: ExamCode = None,
    kind: Annotated[RunKindName | None, QueryParameter()] = None,
    start: Annotated[str | None, QueryParameter(max_length=32, pattern=NO_NUL)] = None,
    end: Annotated[str | None, QueryParameter(max_length=32, pattern=NO_NUL)] = None,
    status: Annotated[RunStatusName | None, QueryParameter()] = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> Response[RunPage]:
    """Runs of every kind (``sh``, ``irt``, ``sweep``), newest first, one page.

    The total is in the body and, as before, in ``X-Total-Count``.
    """
    found, total = run_views.list_runs(
        runtime.sessions,
        _tenant(request),
        exam_code=exam_code,
        kind=kind,
        start=start,
        end=end,
        status=status,
        page=page,
        page_size=page_size,
    )
    items = [msgspec.convert(run.summary(), RunSummaryOut) for run in found]
    return Response(RunPage(total, page, page_size, items), headers={"X-Total-Count": str(total)})


@get(f"{RUNS}/runs/{{run_id:str}}", guards=[ADMINS], sync_to_thread=True, responses=READ_ERRORS,
     tags=["admin"])  # fmt: skip
def get_run(
    request: Request[Any, Any, Any], run_id: ID, runtime: NamedDependency[Runtime]
) -> RunDetailOut:
    """One run: params, history, result, error and timestamps."""
    return msgspec.convert(
        run_views.get_run(runtime.sessions, _tenant(request), run_id).as_dict(), RunDetailOut
    )


WRITE_ERRORS = error_responses(400, 401, 403, 404, 409)


@get(
    f"{RUNS}/runs/{{run_id:str}}/diff.csv",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=WRITE_ERRORS,
    tags=["admin"],
    media_type="text/csv",
)
def diff_csv(
    request: Request[Any, Any, Any], run_id: ID, runtime: NamedDependency[Runtime]
) -> Response[str]:
    """An ``sh`` run's k changes: ``qid,ver,sh_p_before,sh_p_after,delta``."""
    body = run_views.diff_csv(runtime.sessions, _tenant(request), run_id)
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}-diff.csv"'},
    )


@post(f"{RUNS}/runs/{{run_id:str}}/apply", guards=[ADMINS], sync_to_thread=True,
      responses=WRITE_ERRORS, tags=["admin"], status_code=200)  # fmt: skip
def apply(
    request: Request[Any, Any, Any],
    run_id: ID,
    runtime: NamedDependency[Runtime],
    force: Annotated[bool, QueryParameter()] = False,
) -> ApplyOut:
    """Write a finished run's values (e.g. a dry run's) in one transaction.

    ``rows_written`` counts the item rows written, ``values_changed`` those whose value
    changed (``applied`` is ``rows_written`` under its old name, deprecated). 409 when items
    changed since the run read them, unless ``force=true`` (then recorded).
    """
    tenant = _tenant(request)
    written = run_apply.apply_run(runtime.sessions, tenant, run_id, force=force)
    result = run_views.get_run(runtime.sessions, tenant, run_id).result or {}
    return ApplyOut(run_id, written, run_apply.values_changed(result), written)


@post(f"{RUNS}/runs/{{run_id:str}}/rollback", guards=[ADMINS], sync_to_thread=True,
      responses=WRITE_ERRORS, tags=["admin"], status_code=200)  # fmt: skip
def rollback(
    request: Request[Any, Any, Any],
    run_id: ID,
    runtime: NamedDependency[Runtime],
    force: Annotated[bool, QueryParameter()] = False,
) -> RollbackOut:
    """Restore the values the run started from (``restored``: deprecated, ``rows_written``).

    409 naming the newer change(s) when items no longer hold the run's values (a newer run, a
    manual exposure/set), unless ``force=true`` (then recorded in the run's ``apply_note``).
    """
    tenant = _tenant(request)
    written = run_apply.rollback_run(runtime.sessions, tenant, run_id, force=force)
    result = run_views.get_run(runtime.sessions, tenant, run_id).result or {}
    return RollbackOut(run_id, written, run_apply.values_changed(result), written)


@post(f"{RUNS}/runs/{{run_id:str}}/cancel", guards=[ADMINS], sync_to_thread=True,
      responses=WRITE_ERRORS, tags=["admin"], status_code=200)  # fmt: skip
def cancel(
    request: Request[Any, Any, Any], run_id: ID, runtime: NamedDependency[Runtime]
) -> RunSummaryOut:
    """Cancel a queued or running run."""
    cancelled = runs.cancel_run(runtime.sessions, _tenant(request), run_id)
    return msgspec.convert(cancelled.summary(), RunSummaryOut)


@post("/v1/admin/flags", guards=[ADMINS], sync_to_thread=True,
      responses=error_responses(400, 401, 403), tags=["admin"], status_code=200)  # fmt: skip
def set_flag(
    request: Request[Any, Any, Any], data: JSONBody[FlagIn], runtime: NamedDependency[Runtime]
) -> FlagOut:
    """Create or update a feature flag (e.g. selector_strategy = sympson_hetter)."""
    flags.set_feature_flag(runtime.sessions, _tenant(request), data.key, data.enabled, data.value)
    return FlagOut(data.key, data.enabled, data.value)


@post("/v1/admin/cohorts", guards=[ADMINS], sync_to_thread=True,
      responses=error_responses(400, 401, 403), tags=["admin"], status_code=200)  # fmt: skip
def assign_cohort(
    request: Request[Any, Any, Any], data: JSONBody[CohortIn], runtime: NamedDependency[Runtime]
) -> CohortOut:
    """Put a user in a cohort (a selector_strategy cohort overrides the flag)."""
    flags.assign_cohort(
        runtime.sessions, _tenant(request), data.user_id, data.cohort_key, data.cohort_value
    )
    return CohortOut(data.user_id, data.cohort_key, data.cohort_value)


@get(
    DESIGN,
    guards=[ADMINS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 503),
    tags=["admin"],
)
def get_design(
    request: Request[Any, Any, Any], exam_code: EXAM, runtime: NamedDependency[Runtime]
) -> ExamDesignOut:
    """The exam's test design; ``stored`` false means none is set (the defaults are shown)."""
    view = exam_design.get_exam_design(runtime.sessions, _tenant(request), exam_code)
    return msgspec.convert(dataclasses.asdict(view), ExamDesignOut)


@put(
    DESIGN,
    guards=[ADMINS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 503),
    tags=["admin"],
)
def put_design(
    request: Request[Any, Any, Any],
    exam_code: EXAM,
    data: JSONBody[dict[str, Any]],
    runtime: NamedDependency[Runtime],
) -> ExamDesignOut:
    """Set the exam's test design (``qbank.cat.design``); 400 naming a bad field.

    A design holds the selection rule and options, estimator, exposure control, stopping
    rules and blueprint.
    """
    principal = current_principal(request)
    view = exam_design.set_exam_design(
        runtime.sessions, principal.tenant_id, exam_code, data, principal.user_id
    )
    return msgspec.convert(dataclasses.asdict(view), ExamDesignOut)


ROUTES = [
    exposure_items,
    exposure_conditional,
    exposure_set,
    calibrate_start,
    calibrate_irt_start,
    calibrate_status,
    list_runs,
    get_run,
    diff_csv,
    apply,
    rollback,
    cancel,
    set_flag,
    assign_cohort,
    get_design,
    put_design,
]
