"""Response bodies: one typed ``msgspec.Struct`` per shape, so the OpenAPI schema is exact.

The vocabulary is one across routes: ``question_id`` and ``version`` for an item version,
``status`` for a run's (or quiz's) state of progress, ``text_md`` for option text, and every
list is a :class:`Page`-like object ``{total, page, page_size, items}``. Figures QBank computes
(θ̂, SE, exposure rates, max_over, …) carry 6 significant digits (``qbank.figures``); values a
user entered (a, b, c, sh_p, tau, …) come back exactly as entered.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "AnswerOut",
    "ApplyOut",
    "CohortOut",
    "DeletedOut",
    "ExamOut",
    "ExamPage",
    "ExposureItemOut",
    "ExposurePage",
    "ExposureSetOut",
    "FlagOut",
    "HealthOut",
    "ImportOut",
    "PublishOut",
    "QuestionCreatedOut",
    "QuestionDetailOut",
    "QuestionPage",
    "QuizCreatedOut",
    "QuizSummaryOut",
    "RetireOut",
    "RollbackOut",
    "RunDetailOut",
    "RunPage",
    "RunStartedOut",
    "RunStatusOut",
    "RunSummaryOut",
    "ServedItemOut",
]

Figure = Annotated[float, Meta(description="computed; 6 significant digits")]
Stamp = Annotated[str, Meta(description="ISO 8601 date-time, UTC")]
RunKind = Literal["sh", "irt", "sweep"]
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
Total = Annotated[int, Meta(ge=0, description="items matching the filters, on all pages")]


class HealthOut(msgspec.Struct):
    """Whether the database and Redis answer."""

    status: Literal["ok", "degraded"]
    database: str
    redis: str
    runtime: Literal["embedded", "redis"]


# Authoring ----------------------------------------------------------------------------------


class QuestionCreatedOut(msgspec.Struct):
    """A new question version."""

    question_id: int
    version: int
    topic_id: int


class QuestionSummaryOut(msgspec.Struct):
    """The newest version of a question, as the catalog lists it."""

    question_id: int
    external_ref: str | None
    version: int
    state: Literal["draft", "published", "retired"]
    topic: str
    difficulty_label: str
    lead_in: str
    stem_md: str
    exams: list[str]


class QuestionPage(msgspec.Struct):
    """One page of questions."""

    total: Total
    page: int
    page_size: int
    items: list[QuestionSummaryOut]


class OptionOut(msgspec.Struct):
    """An answer option with its key (authors only)."""

    label: str
    text_md: str
    is_correct: bool


class CalibrationOut(msgspec.Struct):
    """A version's stored 3PL calibration (D = 1.7)."""

    model: str | None
    a: float
    b: float
    c: float
    n_respondents: int | None


class VersionOut(msgspec.Struct):
    """One version of a question, as its authors see it."""

    version: int
    state: Literal["draft", "published", "retired"]
    topic: str | None
    stem_md: str
    lead_in: str
    rationale_md: str
    difficulty_label: str
    bloom_level: str | None
    tags: list[str]
    options: list[OptionOut]
    calibration: CalibrationOut | None
    sh_p: float


class LiveOut(msgspec.Struct):
    """Where a question is live: the exam and its live version."""

    exam_code: str
    version: int


class QuestionDetailOut(msgspec.Struct):
    """A question with every version, options, answer key, live exams and calibration."""

    question_id: int
    external_ref: str | None
    created_by: str | None
    versions: list[VersionOut]
    live: list[LiveOut]


class ImportOut(msgspec.Struct):
    """An import's outcome: all records were created."""

    created: int
    question_ids: list[int]


class PublishOut(msgspec.Struct):
    """The version now live in the exam; ``exam_created`` when this publish made the exam."""

    question_id: int
    version: int
    exam_code: str
    exam_created: bool


class RetireOut(msgspec.Struct):
    """A retired version."""

    question_id: int
    version: int
    state: Literal["retired"]


class DeletedOut(msgspec.Struct):
    """A soft-deleted question."""

    question_id: int
    deleted: bool


class ExamOut(msgspec.Struct):
    """An exam: its code and how many item versions are live in it now."""

    exam_code: str
    live_items: int


class ExamPage(msgspec.Struct):
    """One page of exams, by code."""

    total: Total
    page: int
    page_size: int
    items: list[ExamOut]


# Quizzes ------------------------------------------------------------------------------------


class QuizCreatedOut(msgspec.Struct):
    """A new quiz; ``question_ids`` is the planned order (empty for adaptive quizzes)."""

    quiz_id: str
    question_ids: list[int]
    expires_at: Stamp
    mode: Literal["tutor", "exam"]
    adaptive: bool


class ServedOptionOut(msgspec.Struct):
    """An option as a student sees it: never whether it is correct."""

    label: str
    text_md: str


class ItemPayloadOut(msgspec.Struct):
    """What to show for an item."""

    stem_md: str
    lead_in: str
    options: list[ServedOptionOut]


class ServedItemOut(msgspec.Struct):
    """The item to answer now (the same one until it is answered)."""

    question_id: int
    version: int
    position: Annotated[int, Meta(ge=1)]
    payload: ItemPayloadOut


class ExplanationOut(msgspec.Struct):
    """Why the key is right."""

    rationale_md: str


class DifficultyOut(msgspec.Struct):
    """The item's difficulty: its 3PL b (as stored) and its label."""

    b: float
    label: str


class AnswerOut(msgspec.Struct, omit_defaults=True):
    """A graded answer.

    Tutor mode: the feedback (``correct``, ``correct_option``, ``explanation``, ``difficulty``)
    and θ̂/SE after this answer. Exam mode leaves those fields out until the quiz is finished.
    """

    question_id: int
    version: int
    position: int
    accepted: bool
    mode: Literal["tutor", "exam"]
    finished: bool
    theta: Figure | None = None
    se: Figure | None = None
    correct: bool | None = None
    correct_option: str | None = None
    explanation: ExplanationOut | None = None
    difficulty: DifficultyOut | None = None


class SummaryItemOut(msgspec.Struct, omit_defaults=True):
    """One served item of a quiz summary; the feedback fields as in :class:`AnswerOut`."""

    question_id: int
    version: int
    position: int
    topic: str
    chosen: str | None
    correct: bool | None = None
    correct_option: str | None = None
    explanation: ExplanationOut | None = None
    difficulty: DifficultyOut | None = None


class TopicScoreOut(msgspec.Struct, omit_defaults=True):
    """Answers in a topic; ``correct`` is left out in exam mode before the finish."""

    total: int
    correct: int | None = None


class ClassificationOut(msgspec.Struct):
    """Pass/fail against a design's cut score."""

    cut: float
    z: float
    decided: bool
    passed: bool | None


class QuizSummaryOut(msgspec.Struct, omit_defaults=True):
    """A quiz: status, score, θ̂ and SE, per-topic results and items.

    Score, θ̂ and SE are ``null`` in exam mode until the quiz is finished.
    """

    quiz_id: str
    status: Literal["active", "finished", "expired"]
    mode: Literal["tutor", "exam"]
    adaptive: bool
    exam_code: str
    answered: int
    num_questions: int
    score: int | None
    score_pct: float | None
    theta: Figure | None
    se: Figure | None
    per_topic: dict[str, TopicScoreOut]
    items: list[SummaryItemOut]
    expires_at: Stamp
    # A quiz of an exam with a test design: that design, and against its cut score (Kingsbury &
    # Weiss) whether the interval θ̂ ± z·SE decided, and pass/fail (shown once revealed).
    design: dict[str, Any] | None = None
    classification: ClassificationOut | None = None


# Admin --------------------------------------------------------------------------------------


class ExposureItemOut(msgspec.Struct):
    """A live item version as the exposure table shows it."""

    question_id: int
    version: int
    topic: str
    question: str
    a: float
    b: float
    c: float
    sh_p: float
    attempts_7d: int
    exposures_today: int


class ExposurePage(msgspec.Struct):
    """One page of the exposure table."""

    total: Total
    page: int
    page_size: int
    items: list[ExposureItemOut]


class ItemRateOut(msgspec.Struct):
    """One item's exposure in a θ stratum: the quizzes that gave it and their share."""

    question_id: int
    version: int
    quizzes: int
    rate: float


class StratumExposureOut(msgspec.Struct):
    """Finished quizzes whose final θ̂ is in [theta_from, theta_to) (null: open) and top items."""

    stratum: int
    theta_from: float | None
    theta_to: float | None
    quizzes: int
    max_exp: float
    items: list[ItemRateOut]


class ConditionalExposureOut(msgspec.Struct):
    """Live exposure by the stratum of each finished quiz's final θ̂."""

    exam_code: str
    strata: list[float]
    strata_source: Literal["exam", "given", "default"]
    since: str
    quizzes: int
    conditional_max_exp: list[float]
    by_stratum: list[StratumExposureOut]


class ExamDesignOut(msgspec.Struct):
    """An exam's test design (``qbank.cat.design``); ``stored`` false: none set, the defaults."""

    exam_code: str
    design: dict[str, Any]
    stored: bool
    updated_at: str | None = None
    updated_by: str | None = None


class ExposureSetOut(msgspec.Struct):
    """The sh_p now stored for an item version."""

    question_id: int
    version: int
    sh_p: float


class RunStartedOut(msgspec.Struct):
    """A queued run and its job."""

    job_id: str
    run_id: str


class RunSummaryOut(msgspec.Struct):
    """A run as listed: kind, status, progress and its parameters."""

    id: str
    run_id: str
    kind: RunKind
    exam_code: str
    status: RunStatus
    dry_run: bool
    params: dict[str, Any]
    current_iter: int
    total_iters: int
    created_at: Stamp | None
    started_at: Stamp | None
    finished_at: Stamp | None


class RunPage(msgspec.Struct):
    """One page of runs, newest first."""

    total: Total
    page: int
    page_size: int
    items: list[RunSummaryOut]


class SupersededOut(msgspec.Struct):
    """Who changed a run's items since it was applied, and how many."""

    changed_by: str | None
    description: str
    items: int


class RunDetailOut(msgspec.Struct):
    """Everything known about a run (``result`` is the kind's JSON report once done)."""

    id: str
    run_id: str
    kind: RunKind
    exam_code: str
    status: RunStatus
    dry_run: bool
    params: dict[str, Any]
    history: list[dict[str, Any]]
    result: dict[str, Any] | None
    error: str | None
    current_iter: int
    total_iters: int
    avg_exp: Figure | None
    max_over: Figure | None
    job_id: str | None
    created_at: Stamp | None
    started_at: Stamp | None
    finished_at: Stamp | None
    heartbeat_at: Stamp | None
    applied_at: Stamp | None
    rolled_back_at: Stamp | None
    apply_note: str | None
    in_effect: bool
    superseded_by: list[SupersededOut]


class RunStatusOut(msgspec.Struct):
    """Progress of a run, with its result once done."""

    run_id: str
    job_id: str | None
    kind: RunKind
    status: RunStatus
    state: Annotated[RunStatus, Meta(description="deprecated: the same as status")]
    current_iter: int
    total_iters: int
    avg_exp: Figure | None
    max_over: Figure | None
    error: str | None
    result: dict[str, Any] | None


class ApplyOut(msgspec.Struct):
    """An applied run: rows written, and of those the ones whose value changed."""

    run_id: str
    rows_written: int
    values_changed: int
    applied: Annotated[int, Meta(description="deprecated: the same as rows_written")]


class RollbackOut(msgspec.Struct):
    """A rolled-back run: rows written back, and of those the ones whose value changed."""

    run_id: str
    rows_written: int
    values_changed: int
    restored: Annotated[int, Meta(description="deprecated: the same as rows_written")]


class FlagOut(msgspec.Struct):
    """A feature flag as stored."""

    key: str
    enabled: bool
    value: Any = None


class CohortOut(msgspec.Struct):
    """A cohort assignment as stored."""

    user_id: str
    cohort_key: str
    cohort_value: str
