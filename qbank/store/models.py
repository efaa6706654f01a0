"""SQLAlchemy 2 models: the same schema as ``sql/schema.sql`` (a test proves they agree)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "CalibrationRun",
    "CohortAssignment",
    "ExamDesign",
    "FeatureFlag",
    "ItemCalibration",
    "ItemExposureControl",
    "Question",
    "QuestionOption",
    "QuestionPublication",
    "QuestionVersion",
    "QuizItem",
    "QuizSession",
    "Topic",
    "User",
    "UserResponse",
]

# BIGSERIAL in PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
Timestamp = DateTime(timezone=True)
Tenant = String(64)


class Base(DeclarativeBase):
    """Declarative base of every QBank table."""


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "username", name="uq_users_tenant_username"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Tenant)
    username: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Topic(Base):
    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_topics_tenant_name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Tenant)
    parent_id: Mapped[int | None] = mapped_column(Id, ForeignKey("topics.id"))
    name: Mapped[str] = mapped_column(String(200))
    blueprint_code: Mapped[str | None] = mapped_column(String(64))


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref", name="uq_questions_tenant_external_ref"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Tenant)
    external_ref: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(128))
    is_deleted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class QuestionVersion(Base):
    __tablename__ = "question_versions"
    __table_args__ = (
        UniqueConstraint("question_id", "version", name="uq_question_versions_question_version"),
        CheckConstraint(
            "state IN ('draft', 'published', 'retired')", name="ck_question_versions_state"
        ),
        CheckConstraint(
            "difficulty_label IN ('easy', 'medium', 'hard')",
            name="ck_question_versions_difficulty",
        ),
        CheckConstraint("version >= 1", name="ck_question_versions_version_positive"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question_id: Mapped[int] = mapped_column(Id, ForeignKey("questions.id"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    stem_md: Mapped[str] = mapped_column(Text)
    lead_in: Mapped[str] = mapped_column(Text)
    rationale_md: Mapped[str] = mapped_column(Text)
    difficulty_label: Mapped[str] = mapped_column(String(16))
    bloom_level: Mapped[str | None] = mapped_column(String(32))
    topic_id: Mapped[int] = mapped_column(Id, ForeignKey("topics.id"))
    tags: Mapped[list[str]] = mapped_column(Json)
    assets: Mapped[list[Any]] = mapped_column(Json)
    references: Mapped[list[Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class QuestionOption(Base):
    __tablename__ = "question_options"
    __table_args__ = (
        UniqueConstraint(
            "question_version_id", "option_label", name="uq_question_options_version_label"
        ),
        CheckConstraint(
            "option_label IN ('A','B','C','D','E','F','G','H','I','J')",
            name="ck_question_options_label",
        ),
        Index(
            "uq_question_options_one_correct",
            "question_version_id",
            unique=True,
            postgresql_where=text("is_correct"),
            sqlite_where=text("is_correct"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question_version_id: Mapped[int] = mapped_column(Id, ForeignKey("question_versions.id"))
    option_label: Mapped[str] = mapped_column(String(1))
    option_text_md: Mapped[str] = mapped_column(Text)
    is_correct: Mapped[bool] = mapped_column(Boolean)


def _version_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["question_id", "version"],
        ["question_versions.question_id", "question_versions.version"],
        name=f"fk_{table}_version",
    )


class QuestionPublication(Base):
    __tablename__ = "question_publications"
    __table_args__ = (
        UniqueConstraint("question_id", "exam_code", name="uq_question_publications_question_exam"),
        ForeignKeyConstraint(
            ["question_id", "live_version"],
            ["question_versions.question_id", "question_versions.version"],
            name="fk_question_publications_version",
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question_id: Mapped[int] = mapped_column(Id)
    live_version: Mapped[int] = mapped_column(Integer)
    exam_code: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(Tenant)
    published_at: Mapped[datetime] = mapped_column(Timestamp)


class QuizSession(Base):
    __tablename__ = "quiz_sessions"
    __table_args__ = (
        CheckConstraint("mode IN ('tutor', 'exam')", name="ck_quiz_sessions_mode"),
        CheckConstraint(
            "status IN ('active', 'finished', 'expired')", name="ck_quiz_sessions_status"
        ),
        Index("ix_quiz_sessions_tenant_user_created", "tenant_id", "user_id", "created_at"),
        Index("ix_quiz_sessions_tenant_exam", "tenant_id", "exam_code"),  # r_max, the monitor
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    tenant_id: Mapped[str] = mapped_column(Tenant)
    mode: Mapped[str] = mapped_column(String(16))
    adaptive: Mapped[bool] = mapped_column(Boolean)
    exam_code: Mapped[str] = mapped_column(String(64))
    filters: Mapped[dict[str, Any]] = mapped_column(Json)
    plan: Mapped[list[list[int]] | None] = mapped_column(Json)  # non-adaptive order
    num_questions: Mapped[int] = mapped_column(Integer)
    stop_se: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    theta: Mapped[float] = mapped_column(Double)
    se: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class QuizItem(Base):
    __tablename__ = "quiz_items"
    __table_args__ = (
        UniqueConstraint("quiz_id", "position", name="uq_quiz_items_quiz_position"),
        _version_fk("quiz_items"),
        Index("ix_quiz_items_served_at", "served_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    quiz_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("quiz_sessions.id"))
    question_id: Mapped[int] = mapped_column(Id)
    version: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    selector: Mapped[str] = mapped_column(String(32))
    theta_at_selection: Mapped[float | None] = mapped_column(Double)
    a: Mapped[float] = mapped_column(Double)
    b: Mapped[float] = mapped_column(Double)
    c: Mapped[float] = mapped_column(Double)
    k: Mapped[float] = mapped_column(Double)
    served_at: Mapped[datetime] = mapped_column(Timestamp)
    set_aside: Mapped[list[list[int]] | None] = mapped_column(Json)  # lost their lottery here
    stratum: Mapped[int | None] = mapped_column(Integer)  # conditional S–H: θ̂ stratum used


class UserResponse(Base):
    __tablename__ = "user_responses"
    __table_args__ = (
        UniqueConstraint("quiz_id", "idempotency_key", name="uq_user_responses_quiz_idempotency"),
        UniqueConstraint("quiz_id", "question_id", "version", name="uq_user_responses_quiz_item"),
        _version_fk("user_responses"),
        Index("ix_user_responses_item_time", "question_id", "version", "created_at"),
        Index("ix_user_responses_user_idempotency", "tenant_id", "user_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    quiz_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("quiz_sessions.id"))
    user_id: Mapped[str] = mapped_column(String(128))
    tenant_id: Mapped[str] = mapped_column(Tenant)
    question_id: Mapped[int] = mapped_column(Id)
    version: Mapped[int] = mapped_column(Integer)
    option_label: Mapped[str] = mapped_column(String(1))
    is_correct: Mapped[bool] = mapped_column(Boolean)
    time_taken_ms: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ItemCalibration(Base):
    __tablename__ = "item_calibration"
    __table_args__ = (
        _version_fk("item_calibration"),
        CheckConstraint("a > 0", name="ck_item_calibration_a_positive"),
        CheckConstraint("c >= 0 AND c < 1", name="ck_item_calibration_c_range"),
    )

    question_id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(8))
    a: Mapped[float] = mapped_column(Double)
    b: Mapped[float] = mapped_column(Double)
    c: Mapped[float] = mapped_column(Double)
    n_respondents: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    se_a: Mapped[float | None] = mapped_column(Double)
    se_b: Mapped[float | None] = mapped_column(Double)
    se_c: Mapped[float | None] = mapped_column(Double)
    changed_by: Mapped[str | None] = mapped_column(String(64))


class ItemExposureControl(Base):
    __tablename__ = "item_exposure_control"
    __table_args__ = (
        _version_fk("item_exposure_control"),
        CheckConstraint("sh_p >= 0 AND sh_p <= 1", name="ck_item_exposure_control_sh_p"),
    )

    question_id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sh_p: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    update_rule: Mapped[str | None] = mapped_column(String(32))  # what produced sh_p
    # Conditional S–H: θ cut points and one k per stratum (NULL: sh_p for every θ).
    strata: Mapped[list[float] | None] = mapped_column(Json)
    sh_p_by_stratum: Mapped[list[float] | None] = mapped_column(Json)


class ExamDesign(Base):
    __tablename__ = "exam_designs"

    tenant_id: Mapped[str] = mapped_column(Tenant, primary_key=True)
    exam_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    design: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class FeatureFlag(Base):
    __tablename__ = "feature_flags"

    tenant_id: Mapped[str] = mapped_column(Tenant, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    value_json: Mapped[Any | None] = mapped_column(Json)


class CohortAssignment(Base):
    __tablename__ = "cohort_assignments"

    tenant_id: Mapped[str] = mapped_column(Tenant, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    cohort_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    cohort_value: Mapped[str] = mapped_column(String(256))


class CalibrationRun(Base):
    __tablename__ = "calibration_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'cancelled')",
            name="ck_calibration_runs_status",
        ),
        Index("ix_calibration_runs_tenant_exam_created", "tenant_id", "exam_code", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Tenant)
    kind: Mapped[str] = mapped_column(String(16))
    exam_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    history: Mapped[list[dict[str, float]]] = mapped_column(Json)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(Text)
    current_iter: Mapped[int] = mapped_column(Integer)
    total_iters: Mapped[int] = mapped_column(Integer)
    avg_exp: Mapped[float | None] = mapped_column(Double)
    max_over: Mapped[float | None] = mapped_column(Double)
    job_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    applied_at: Mapped[datetime | None] = mapped_column(Timestamp)
    rolled_back_at: Mapped[datetime | None] = mapped_column(Timestamp)
    apply_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
