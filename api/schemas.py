"""Request bodies (validated by msgspec: a bad field is a 400 naming it) and responses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "AnswerIn",
    "CalibrationStartIn",
    "CohortIn",
    "ExposureSetIn",
    "FlagIn",
    "IrtStartIn",
    "LoginIn",
    "LoginOut",
    "MockLoginIn",
    "OptionIn",
    "PublishIn",
    "QuestionIn",
    "QuizFiltersIn",
    "QuizIn",
]

NO_NUL = "^[^\x00]*$"  # PostgreSQL cannot store NUL in text; refuse it at the door
Text = Annotated[str, Meta(min_length=1, max_length=20_000, pattern=NO_NUL)]
Name = Annotated[str, Meta(min_length=1, max_length=128, pattern=NO_NUL)]
Code = Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]
Role = Literal["student", "author", "publisher", "admin"]
Unit = Annotated[float, Meta(ge=0, le=1)]


class LoginIn(msgspec.Struct):
    """Username and password; tenant_id defaults to the server's QBANK_TENANT_ID."""

    username: Name
    password: Annotated[str, Meta(min_length=1, max_length=1024, pattern=NO_NUL)]
    tenant_id: Code | None = None


class LoginOut(msgspec.Struct):
    """A bearer token and what it grants."""

    access_token: str
    token_type: str
    roles: list[str]
    tenant_id: str


class MockLoginIn(msgspec.Struct):
    """Development only: any user id and roles."""

    user_id: Name
    roles: Annotated[list[Role], Meta(min_length=1)]
    tenant_id: Code | None = None


class OptionIn(msgspec.Struct):
    """One answer option."""

    label: Annotated[str, Meta(pattern="^[A-J]$")]
    text_md: Text
    is_correct: bool = False


class QuestionIn(msgspec.Struct):
    """A question version: exactly one option must be correct."""

    topic_name: Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
    stem_md: Text
    lead_in: Text
    rationale_md: Text
    difficulty_label: Literal["easy", "medium", "hard"]
    options: Annotated[list[OptionIn], Meta(min_length=2, max_length=10)]
    external_ref: Name | None = None
    exam_code: Code = "DEMO-EXAM"
    publish: bool | None = None  # None: by the caller's roles (publisher/admin publish)
    bloom_level: Annotated[str, Meta(max_length=32, pattern=NO_NUL)] | None = None
    tags: Annotated[
        list[Annotated[str, Meta(max_length=64, pattern=NO_NUL)]], Meta(max_length=50)
    ] = []


class PublishIn(msgspec.Struct):
    """The exam to publish to."""

    exam_code: Code = "DEMO-EXAM"


class QuizFiltersIn(msgspec.Struct):
    """Which items a quiz draws from, how many, and when an adaptive quiz stops."""

    topics: Annotated[
        list[Annotated[str, Meta(max_length=200, pattern=NO_NUL)]], Meta(max_length=50)
    ] = []
    difficulty: list[Literal["easy", "medium", "hard"]] = []
    num_questions: Annotated[int, Meta(ge=1, le=120)] = 40
    mode: Literal["tutor", "exam"] = "tutor"
    exam_code: Code = "DEMO-EXAM"
    stop_se: Annotated[float, Meta(gt=0, le=1)] | None = None


class QuizIn(msgspec.Struct):
    """A new quiz."""

    filters: QuizFiltersIn = msgspec.field(default_factory=QuizFiltersIn)
    adaptive: bool = True
    tenant_id: Code | None = None


class AnswerIn(msgspec.Struct):
    """The answer to the served item."""

    question_id: Annotated[int, Meta(ge=1, le=9_007_199_254_740_991)]
    selected: Annotated[str, Meta(pattern="^[A-Ja-j]$")]
    time_taken_ms: Annotated[int, Meta(ge=0, le=86_400_000)] | None = None


class ExposureSetIn(msgspec.Struct):
    """A new Sympson–Hetter parameter for one item version."""

    question_id: Annotated[int, Meta(ge=1, le=9_007_199_254_740_991)]
    version: Annotated[int, Meta(ge=1, le=1_000_000)]
    sh_p: Unit


class CalibrationStartIn(msgspec.Struct):
    """An iterative S–H calibration of an exam (DESIGN.md's parameters)."""

    exam_code: Code = "DEMO-EXAM"
    tau: Annotated[float, Meta(gt=0, le=1)] = 0.2
    n: Annotated[int, Meta(ge=1, le=1_000_000)] = 400
    test_len: Annotated[int, Meta(ge=1, le=10_000)] = 25
    iters: Annotated[int, Meta(ge=1, le=500)] = 5
    alpha: Annotated[float, Meta(gt=0, le=5)] = 0.6
    theta_dist: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] = "normal0,1"
    floor: Unit = 0.02
    ceil: Annotated[float, Meta(gt=0, le=1)] = 1.0
    topic_tau: dict[Annotated[str, Meta(max_length=200, pattern=NO_NUL)], float] = {}
    topic_weights: dict[Annotated[str, Meta(max_length=200, pattern=NO_NUL)], float] = {}
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1)] = 0
    ability: Literal["estimated", "true"] = "estimated"
    update_rule: Literal["multiplicative", "sympson-hetter"] = "multiplicative"
    until_converged: bool = False
    tol: Annotated[float, Meta(ge=0, le=1)] = 0.01
    conditional: bool = False
    strata: Annotated[list[Annotated[float, Meta(ge=-10, le=10)]], Meta(max_length=9)] = []
    dry_run: bool = False


class IrtStartIn(msgspec.Struct):
    """An MML item calibration of an exam from its stored responses (run kind ``irt``)."""

    exam_code: Code = "DEMO-EXAM"
    model: Literal["1pl", "2pl", "3pl"] = "3pl"
    min_respondents: Annotated[int, Meta(ge=1, le=10_000_000)] = 50
    max_cycles: Annotated[int, Meta(ge=1, le=100_000)] = 500
    tol: Annotated[float, Meta(gt=0, lt=1)] = 1e-4
    dry_run: bool = False


class FlagIn(msgspec.Struct):
    """A feature flag."""

    key: Name
    enabled: bool
    value: Any = None


class CohortIn(msgspec.Struct):
    """A cohort assignment."""

    user_id: Name
    cohort_key: Name
    cohort_value: Annotated[str, Meta(min_length=1, max_length=256, pattern=NO_NUL)]
