"""Admin: exposure items, sh_p, S–H calibration runs, flags, cohorts and exam test designs."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.errors import ERROR_RESPONSES
from api.runtime import Runtime
from api.schemas import NO_NUL, CalibrationStartIn, CohortIn, ExposureSetIn, FlagIn, IrtStartIn
from api.security import current_principal, requires
from qbank.cat import CalibrationParams
from qbank.services.access import flags
from qbank.services.calibration import irt, run_apply, run_views, runs, sh
from qbank.services.delivery import exam_design
from qbank.services.exposure import sh_p

__all__ = ["ROUTES"]

ADMINS = requires("admin")
RUNS = "/v1/admin/exposure/calibrate_sh"
ID = Annotated[str, PathParameter(max_length=64, pattern=NO_NUL)]
EXAM = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=NO_NUL)]
DESIGN = "/v1/admin/exams/{exam_code:str}/design"


def _tenant(request: Request[Any, Any, Any]) -> str:
    return current_principal(request).tenant_id


@get(
    "/v1/admin/exposure/items",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
)
def exposure_items(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    exam_code: Annotated[str | None, QueryParameter(max_length=64, pattern=NO_NUL)] = None,
) -> list[dict[str, Any]]:
    """Live item versions with sh_p and attempts in the last 7 days."""
    items = sh_p.list_exposure_items(
        runtime.sessions, _tenant(request), exam_code=exam_code, limit=limit
    )
    return [dataclasses.asdict(item) for item in items]


@post(
    "/v1/admin/exposure/set",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    status_code=200,
)
def exposure_set(
    request: Request[Any, Any, Any],
    data: JSONBody[ExposureSetIn],
    runtime: NamedDependency[Runtime],
) -> dict[str, Any]:
    """Set one item version's sh_p (in [0, 1])."""
    sh_p.set_sh_p(runtime.sessions, _tenant(request), data.question_id, data.version, data.sh_p)
    return {"question_id": data.question_id, "version": data.version, "sh_p": data.sh_p}


@post(
    f"{RUNS}/start", guards=[ADMINS], sync_to_thread=True, responses=ERROR_RESPONSES, tags=["admin"]
)
def calibrate_start(
    request: Request[Any, Any, Any],
    data: JSONBody[CalibrationStartIn],
    runtime: NamedDependency[Runtime],
) -> dict[str, str]:
    """Queue an S–H calibration of an exam; follow it with …/status."""
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
    return {"job_id": job_id, "run_id": run_id}


@post(
    "/v1/admin/calibrate_irt/start",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
)
def calibrate_irt_start(
    request: Request[Any, Any, Any],
    data: JSONBody[IrtStartIn],
    runtime: NamedDependency[Runtime],
) -> dict[str, str]:
    """Queue an MML item calibration (a, b, c, SEs) of an exam; follow it with the runs routes."""
    params = irt.IrtParams(
        model=data.model, min_respondents=data.min_respondents, max_cycles=data.max_cycles,
        tol=data.tol,
    )  # fmt: skip
    job_id, run_id = irt.start_irt_run(
        runtime.sessions, runtime.queue, _tenant(request), data.exam_code, params,
        dry_run=data.dry_run,
    )  # fmt: skip
    return {"job_id": job_id, "run_id": run_id}


@get(
    f"{RUNS}/status",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
)
def calibrate_status(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    job_id: Annotated[str | None, QueryParameter(max_length=128, pattern=NO_NUL)] = None,
    run_id: Annotated[str | None, QueryParameter(max_length=64, pattern=NO_NUL)] = None,
) -> dict[str, Any]:
    """Progress of a run by job id (or run id), with its result once done."""
    return run_views.run_status(runtime.sessions, _tenant(request), job_id=job_id, run_id=run_id)


@get(
    f"{RUNS}/runs", guards=[ADMINS], sync_to_thread=True, responses=ERROR_RESPONSES, tags=["admin"]
)
def list_runs(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    exam_code: Annotated[str | None, QueryParameter(max_length=64, pattern=NO_NUL)] = None,
    start: Annotated[str | None, QueryParameter(max_length=32, pattern=NO_NUL)] = None,
    end: Annotated[str | None, QueryParameter(max_length=32, pattern=NO_NUL)] = None,
    status: Annotated[str | None, QueryParameter(max_length=16, pattern=NO_NUL)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> Response[list[dict[str, Any]]]:
    """Runs, newest first; the total count is in ``X-Total-Count``."""
    found, total = run_views.list_runs(
        runtime.sessions,
        _tenant(request),
        exam_code=exam_code,
        start=start,
        end=end,
        status=status,
        page=page,
        page_size=page_size,
    )
    return Response([run.summary() for run in found], headers={"X-Total-Count": str(total)})


@get(
    f"{RUNS}/runs/{{run_id:str}}",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
)
def get_run(
    request: Request[Any, Any, Any], run_id: ID, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """One run: params, history, result, error and timestamps."""
    return run_views.get_run(runtime.sessions, _tenant(request), run_id).as_dict()


@get(
    f"{RUNS}/runs/{{run_id:str}}/diff.csv",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    media_type="text/csv",
)
def diff_csv(
    request: Request[Any, Any, Any], run_id: ID, runtime: NamedDependency[Runtime]
) -> Response[str]:
    """The run's k changes: ``qid,ver,sh_p_before,sh_p_after,delta``."""
    body = run_views.diff_csv(runtime.sessions, _tenant(request), run_id)
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}-diff.csv"'},
    )


@post(
    f"{RUNS}/runs/{{run_id:str}}/apply",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    status_code=200,
)
def apply(
    request: Request[Any, Any, Any],
    run_id: ID,
    runtime: NamedDependency[Runtime],
    force: Annotated[bool, QueryParameter()] = False,
) -> dict[str, Any]:
    """Write a finished run's k (e.g. a dry run's) in one transaction.

    409 when items changed since the run read them, unless ``force=true`` (then recorded).
    """
    count = run_apply.apply_run(runtime.sessions, _tenant(request), run_id, force=force)
    return {"run_id": run_id, "applied": count}


@post(
    f"{RUNS}/runs/{{run_id:str}}/rollback",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    status_code=200,
)
def rollback(
    request: Request[Any, Any, Any],
    run_id: ID,
    runtime: NamedDependency[Runtime],
    force: Annotated[bool, QueryParameter()] = False,
) -> dict[str, Any]:
    """Restore the k values the run started from.

    409 naming the newer change(s) when items no longer hold the run's values (a newer run, a
    manual exposure/set), unless ``force=true`` (then recorded in the run's ``apply_note``).
    """
    count = run_apply.rollback_run(runtime.sessions, _tenant(request), run_id, force=force)
    return {"run_id": run_id, "restored": count}


@post(
    f"{RUNS}/runs/{{run_id:str}}/cancel",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    status_code=200,
)
def cancel(
    request: Request[Any, Any, Any], run_id: ID, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Cancel a queued or running run."""
    return runs.cancel_run(runtime.sessions, _tenant(request), run_id).summary()


@post(
    "/v1/admin/flags",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    status_code=200,
)
def set_flag(
    request: Request[Any, Any, Any], data: JSONBody[FlagIn], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Create or update a feature flag (e.g. selector_strategy = sympson_hetter)."""
    flags.set_feature_flag(runtime.sessions, _tenant(request), data.key, data.enabled, data.value)
    return {"key": data.key, "enabled": data.enabled, "value": data.value}


@post(
    "/v1/admin/cohorts",
    guards=[ADMINS],
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["admin"],
    status_code=200,
)
def assign_cohort(
    request: Request[Any, Any, Any], data: JSONBody[CohortIn], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Put a user in a cohort (a selector_strategy cohort overrides the flag)."""
    flags.assign_cohort(
        runtime.sessions, _tenant(request), data.user_id, data.cohort_key, data.cohort_value
    )
    return {
        "user_id": data.user_id,
        "cohort_key": data.cohort_key,
        "cohort_value": data.cohort_value,
    }


@get(DESIGN, guards=[ADMINS], sync_to_thread=True, responses=ERROR_RESPONSES, tags=["admin"])
def get_design(
    request: Request[Any, Any, Any], exam_code: EXAM, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """The exam's test design; ``stored`` false means none is set (the defaults are shown)."""
    view = exam_design.get_exam_design(runtime.sessions, _tenant(request), exam_code)
    return dataclasses.asdict(view)


@put(DESIGN, guards=[ADMINS], sync_to_thread=True, responses=ERROR_RESPONSES, tags=["admin"])
def put_design(
    request: Request[Any, Any, Any],
    exam_code: EXAM,
    data: JSONBody[dict[str, Any]],
    runtime: NamedDependency[Runtime],
) -> dict[str, Any]:
    """Set the exam's test design (``qbank.cat.design``); 400 naming a bad field.

    A design holds the selection rule and options, estimator, exposure control, stopping
    rules and blueprint.
    """
    principal = current_principal(request)
    view = exam_design.set_exam_design(
        runtime.sessions, principal.tenant_id, exam_code, data, principal.user_id
    )
    return dataclasses.asdict(view)


ROUTES = [
    exposure_items,
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
