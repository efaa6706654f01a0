"""IRT item calibration of an exam from stored responses: run kind ``irt``.

Persons are users of the tenant; items are the exam's live published versions. A person's first
response to an item version counts (later attempts follow feedback). Items with fewer than
``min_respondents`` respondents keep their stored values (or the defaults) and take part as
anchors: their responses still inform θ. The result records every estimated item's values
before and after, so a dry run can be applied later and an applied run rolled back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jax.numpy as jnp
import numpy as np
from sqlalchemy import and_, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError
from qbank.figures import round_figure, round_figures
from qbank.irt import DEFAULT_A, DEFAULT_B, DEFAULT_C, MODELS, ItemParams, MmlSettings
from qbank.irt import calibrate_mml as fit_mml
from qbank.irt.mml import CycleProgress, MmlResult
from qbank.jobs.queue import JobQueue
from qbank.services.authoring.exams import exam_not_found
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import (
    ChangedItem,
    RunContext,
    RunKind,
    create_run_record,
    enqueue_run,
)
from qbank.store.models import (
    ItemCalibration,
    Question,
    QuestionPublication,
    QuestionVersion,
    UserResponse,
)

__all__ = [
    "IRT_RUN",
    "IrtParams",
    "create_irt_run",
    "exam_report",
    "start_irt_run",
]

_ESTIMATES = ("a", "b", "c", "se_a", "se_b", "se_c")


@dataclass(frozen=True, slots=True)
class IrtParams:
    """What an ``irt`` run estimates and how; validated once, here."""

    model: str = "3pl"
    min_respondents: int = 50
    max_cycles: int = 500
    tol: float = 1e-4
    gtol: float = 1e-3

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InvalidInputError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if isinstance(self.min_respondents, bool) or not 1 <= self.min_respondents <= 10**7:
            raise InvalidInputError(
                f"min_respondents must be in [1, 10000000], got {self.min_respondents}"
            )
        self.settings()

    def settings(self) -> MmlSettings:
        """The core's settings for these parameters."""
        return MmlSettings(model=self.model, max_cycles=self.max_cycles, tol=self.tol,
                           gtol=self.gtol)  # fmt: skip

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> IrtParams:
        """Rebuild from a run's stored ``params``."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidInputError(f"unknown irt parameter(s): {', '.join(unknown)}")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class _ExamData:
    qids: list[int]
    versions: list[int]
    before: list[dict[str, Any] | None]  # stored calibration rows
    responses: np.ndarray  # (n_persons, n_items) 0/1, NaN where not answered
    respondents: np.ndarray  # (n_items,)


def _live_items(session: Session, tenant_id: str, exam_code: str) -> list[tuple[int, int]]:
    rows = session.execute(
        select(QuestionPublication.question_id, QuestionPublication.live_version)
        .join(Question, Question.id == QuestionPublication.question_id)
        .join(QuestionVersion, and_(QuestionVersion.question_id == QuestionPublication.question_id,
                                    QuestionVersion.version == QuestionPublication.live_version))
        .where(QuestionPublication.tenant_id == tenant_id,
               QuestionPublication.exam_code == exam_code, Question.tenant_id == tenant_id,
               Question.is_deleted.is_(False), QuestionVersion.state == "published")
        .order_by(QuestionPublication.question_id)
    ).all()  # fmt: skip
    return [(int(qid), int(ver)) for qid, ver in rows]


def _stored(row: ItemCalibration | None) -> dict[str, Any] | None:
    if row is None:
        return None
    values = {name: getattr(row, name) for name in _ESTIMATES}
    return {"model": row.model, **values, "n": row.n_respondents}


def _load_exam(sessions: sessionmaker[Session], tenant_id: str, exam_code: str) -> _ExamData:
    with sessions() as session:
        items = _live_items(session, tenant_id, exam_code)
        if not items:
            raise exam_not_found(exam_code)
        index = {item: column for column, item in enumerate(items)}
        qids = sorted({qid for qid, _ in items})
        stored = {(row.question_id, row.version): row for row in session.scalars(
            select(ItemCalibration).where(ItemCalibration.question_id.in_(qids)))}  # fmt: skip
        answers = session.execute(
            select(UserResponse.user_id, UserResponse.question_id, UserResponse.version,
                   UserResponse.is_correct)
            .where(UserResponse.tenant_id == tenant_id, UserResponse.question_id.in_(qids))
            .order_by(UserResponse.created_at, UserResponse.id)
        ).all()  # fmt: skip
        before = [_stored(stored.get(item)) for item in items]
    persons: dict[str, int] = {}
    cells: dict[tuple[int, int], float] = {}
    for user_id, qid, ver, correct in answers:
        column = index.get((int(qid), int(ver)))
        if column is None:
            continue  # another version, or an item of another exam
        row = persons.setdefault(user_id, len(persons))
        cells.setdefault((row, column), 1.0 if correct else 0.0)  # first attempt counts
    responses = np.full((len(persons), len(items)), np.nan)
    if cells:
        rows, columns = zip(*cells, strict=True)
        responses[list(rows), list(columns)] = list(cells.values())
    respondents = (~np.isnan(responses)).sum(axis=0)
    return _ExamData([q for q, _ in items], [v for _, v in items], before, responses, respondents)


def _free_items(data: _ExamData, params: IrtParams, exam_code: str) -> np.ndarray:
    free = data.respondents >= params.min_respondents
    if not free.any():
        most = int(data.respondents.max()) if data.respondents.size else 0
        raise ConflictError(
            f"no item of exam {exam_code!r} has {params.min_respondents} or more respondents "
            f"(the most answered has {most}); lower min_respondents or collect more responses"
        )
    return free


def _start_values(data: _ExamData) -> ItemParams:
    def column(name: str, default: float) -> jnp.ndarray:
        return jnp.asarray([default if row is None else row[name] for row in data.before])

    return ItemParams(column("a", DEFAULT_A), column("b", DEFAULT_B), column("c", DEFAULT_C))


def _number(value: Any) -> float | None:
    number = float(value)
    return round_figure(number) if math.isfinite(number) else None


def _result(data: _ExamData, free: np.ndarray, fit: MmlResult, params: IrtParams,
            history: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    items, skipped = [], []
    for column, (qid, ver) in enumerate(zip(data.qids, data.versions, strict=True)):
        n = int(data.respondents[column])
        if not free[column]:
            skipped.append({"qid": qid, "ver": ver, "n": n})
            continue
        estimates, errors = fit.items, fit.standard_errors
        columns = {"a": estimates.a, "b": estimates.b, "c": estimates.c,
                   "se_a": errors.a, "se_b": errors.b, "se_c": errors.c}  # fmt: skip
        after = {name: _number(values[column]) for name, values in columns.items()}
        items.append({"qid": qid, "ver": ver, "n": n, "before": data.before[column],
                      "after": {"model": params.model, **after, "n": n}})  # fmt: skip
    return {
        "model": params.model, "loglik": _number(fit.loglik), "cycles": fit.cycles,
        "converged": fit.converged, "stop_reason": fit.stop_reason,
        "unconverged_items": [data.qids[i] for i in fit.unconverged_items],
        "message": fit.message, "n_persons": int(data.responses.shape[0]),
        "n_responses": int(data.respondents.sum()), "updated": len(items),
        "min_respondents": params.min_respondents, "items": items, "skipped": skipped,
        "history": history,
    }  # fmt: skip


def calibrate_exam(sessions: sessionmaker[Session], context: RunContext) -> dict[str, Any]:
    """Execute an ``irt`` run: read responses, fit, report per EM cycle; the JSON result."""
    params = IrtParams.from_json(context.params)
    data = _load_exam(sessions, context.tenant_id, context.exam_code)
    free = _free_items(data, params, context.exam_code)
    history: list[dict[str, Any]] = []

    def report(cycle: CycleProgress) -> None:
        row = round_figures({"iter": cycle.cycle, "loglik": cycle.loglik,
                             "log_posterior": cycle.log_posterior, "max_change": cycle.max_change,
                             "max_gradient": cycle.max_gradient})  # fmt: skip
        history.append(row)
        context.report(cycle.cycle, cycle.max_cycles, row)

    fit = fit_mml(data.responses, settings=params.settings(), start=_start_values(data),
                  anchors=~free, on_cycle=report)  # fmt: skip
    return _result(data, free, fit, params, history)


def _write(
    session: Session, tenant_id: str, result: dict[str, Any], side: str, changed_by: str
) -> int:
    """Write each estimated item's ``after`` (apply) or ``before`` (rollback) values.

    An item that had no calibration row before goes back to having none.
    """
    rows = result["items"]
    qids = sorted({int(row["qid"]) for row in rows})
    owned = set(session.scalars(
        select(Question.id).where(Question.id.in_(qids), Question.tenant_id == tenant_id)
    ))  # fmt: skip
    missing = [qid for qid in qids if qid not in owned]
    if missing:
        raise ConflictError(f"questions {missing[:10]} of the run no longer exist; nothing changed")
    now = datetime.now(UTC)
    for row in rows:
        values, key = row[side], (int(row["qid"]), int(row["ver"]))
        current = session.get(ItemCalibration, key)
        if values is None:
            if current is not None:
                session.delete(current)
            continue
        if current is None:
            current = ItemCalibration(question_id=key[0], version=key[1])
            session.add(current)
        current.model, current.n_respondents, current.updated_at = values["model"], values["n"], now
        current.changed_by = changed_by
        for name in _ESTIMATES:
            setattr(current, name, values[name])
    session.flush()
    return len(rows)


# Stored values round-trip through JSON exactly; the tolerance only absorbs float formatting.
_ABC_TOLERANCE = 1e-9


def _changed(session: Session, result: dict[str, Any], side: str) -> list[ChangedItem]:
    """Items whose stored a, b, c are not the result's ``side`` (None: no row expected)."""
    rows = result["items"]
    stored = {
        (row.question_id, row.version): row
        for row in session.scalars(
            select(ItemCalibration)
            .where(ItemCalibration.question_id.in_(sorted({int(r["qid"]) for r in rows})))
            .with_for_update()
        )
    }
    changed = []
    for row in rows:
        key, expected = (int(row["qid"]), int(row["ver"])), row[side]
        found = stored.get(key)
        same = (found is None) if expected is None else found is not None and all(
            abs(getattr(found, name) - float(expected[name])) <= _ABC_TOLERANCE
            for name in ("a", "b", "c")
        )  # fmt: skip
        if not same:
            changed.append(ChangedItem(*key, found.changed_by if found else None))
    return changed


IRT_RUN = RunKind("irt", calibrate_exam, _write, _changed)


def create_irt_run(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str, params: IrtParams, *,
    dry_run: bool = False,
) -> str:  # fmt: skip
    """Record a queued ``irt`` run of an exam; returns its id.

    Raises:
        NotFoundError: the exam has no live items.
        ConflictError: no item has ``min_respondents`` respondents yet.
    """
    _free_items(_load_exam(sessions, tenant_id, exam_code), params, exam_code)
    return create_run_record(sessions, tenant_id, "irt", exam_code, dataclasses.asdict(params),
                             total_iters=params.max_cycles, dry_run=dry_run)  # fmt: skip


def start_irt_run(
    sessions: sessionmaker[Session], queue: JobQueue, tenant_id: str, exam_code: str,
    params: IrtParams, *, dry_run: bool = False,
) -> tuple[str, str]:  # fmt: skip
    """Record and queue an ``irt`` run; returns (job_id, run_id)."""
    run_id = create_irt_run(sessions, tenant_id, exam_code, params, dry_run=dry_run)
    return enqueue_run(sessions, queue, tenant_id, run_id), run_id


def exam_report(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> dict[str, Any]:
    """A finished ``irt`` run in the shape of ``qbank calibrate-irt --json``.

    ``items`` lists the estimated items (``item`` is the question id, with its ``version``);
    ``skipped`` those that kept their values.

    Raises:
        ConflictError: the run is not a finished ``irt`` run.
    """
    run = get_run(sessions, tenant_id, run_id)
    if run.kind != "irt" or run.status != "done" or run.result is None:
        raise ConflictError(
            f"run {run_id} is a {run.status} {run.kind} run, not a finished irt run"
        )
    result = run.result
    items = [{"item": row["qid"], "version": row["ver"],
              **{name: row["after"][name] for name in _ESTIMATES}, "n": row["n"]}
             for row in result["items"]]  # fmt: skip
    keys = (
        "model",
        "loglik",
        "cycles",
        "converged",
        "stop_reason",
        "unconverged_items",
        "message",
        "n_persons",
        "updated",
        "skipped",
    )
    return {"run_id": run.id, "status": run.status, "dry_run": run.dry_run, "items": items,
            **{key: result.get(key) for key in keys}}  # fmt: skip
