"""``qbank seed-demo``: the demo exam with calibrated items and simulated past responses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.irt.model import D
from qbank.services.authoring.importing import ImportItem, insert_items
from qbank.services.authoring.questions import OptionInput, QuestionInput
from qbank.services.demo.content import DEMO_EXAM_CODE, DemoQuestion, demo_questions
from qbank.store.models import (
    ItemCalibration,
    Question,
    QuestionOption,
    QuestionPublication,
    QuestionVersion,
    UserResponse,
)

__all__ = ["DemoReport", "seed_demo"]

DEMO_USER_PREFIX = "demo-student-"
DEMO_STUDENTS = 400
RESPONSE_DAYS = 14


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What seeding added."""

    exam_code: str
    created: int
    existing: int
    responses: int


def _as_import_item(question: DemoQuestion) -> ImportItem:
    data = QuestionInput(
        topic_name=question.topic_name, stem_md=question.stem_md, lead_in=question.lead_in,
        rationale_md=question.rationale_md, difficulty_label=question.difficulty_label,
        options=tuple(OptionInput(o.label, o.text_md, o.is_correct) for o in question.options),
        external_ref=question.external_ref, exam_code=DEMO_EXAM_CODE,
        bloom_level=question.bloom_level, blueprint_code=question.blueprint_code,
        tags=question.tags, created_by="seed-demo",
    )  # fmt: skip
    return ImportItem(data, question.a, question.b, question.c)


def _add_responses(session: Session, tenant_id: str, wanted: int, seed: int) -> int:
    existing = session.scalar(
        select(func.count()).select_from(UserResponse).where(
            UserResponse.tenant_id == tenant_id, UserResponse.user_id.like(f"{DEMO_USER_PREFIX}%"))
    ) or 0  # fmt: skip
    missing = max(0, wanted - int(existing))
    if missing == 0:
        return 0
    items = session.execute(
        select(QuestionPublication.question_id, QuestionPublication.live_version,
               ItemCalibration.a, ItemCalibration.b, ItemCalibration.c, QuestionOption.option_label)
        .join(ItemCalibration, (ItemCalibration.question_id == QuestionPublication.question_id)
              & (ItemCalibration.version == QuestionPublication.live_version))
        .join(QuestionVersion, (QuestionVersion.question_id == QuestionPublication.question_id)
              & (QuestionVersion.version == QuestionPublication.live_version))
        .join(QuestionOption, (QuestionOption.question_version_id == QuestionVersion.id)
              & QuestionOption.is_correct)
        .where(QuestionPublication.tenant_id == tenant_id,
               QuestionPublication.exam_code == DEMO_EXAM_CODE)
        .order_by(QuestionPublication.question_id)
    ).all()  # fmt: skip
    if not items:
        return 0
    rng = np.random.default_rng(seed + int(existing))
    abilities = rng.normal(size=DEMO_STUDENTS)
    students = rng.integers(0, DEMO_STUDENTS, missing)
    picks = rng.integers(0, len(items), missing)
    now = datetime.now(UTC)
    rows = []
    for student, pick in zip(students.tolist(), picks.tolist(), strict=True):
        qid, ver, a, b, c, correct_label = items[pick]
        p_correct = c + (1 - c) / (1 + np.exp(-D * a * (abilities[student] - b)))
        correct = bool(rng.random() < p_correct)
        wrong = "B" if correct_label == "A" else "A"
        rows.append(dict(
            user_id=f"{DEMO_USER_PREFIX}{student:04d}", tenant_id=tenant_id, question_id=qid,
            version=ver, option_label=correct_label if correct else wrong, is_correct=correct,
            time_taken_ms=int(rng.gamma(4.0, 15_000)),
            created_at=now - timedelta(seconds=float(rng.uniform(0, RESPONSE_DAYS * 86400))),
        ))  # fmt: skip
    session.execute(insert(UserResponse), rows)  # one executemany: ORM objects cost 10x more
    return len(rows)


def seed_demo(
    sessions: sessionmaker[Session], tenant_id: str, *, n_responses: int = 5000, seed: int = 2026
) -> DemoReport:
    """Load the demo exam and simulated responses; running it again adds nothing twice."""
    questions = demo_questions(seed=seed)
    with sessions.begin() as session:
        existing = set(session.scalars(
            select(Question.external_ref).where(Question.tenant_id == tenant_id,
                                                Question.external_ref.like("DEMO-%"))
        ))  # fmt: skip
        new = [_as_import_item(q) for q in questions if q.external_ref not in existing]
        insert_items(session, tenant_id, new)
        session.flush()
        added = _add_responses(session, tenant_id, n_responses, seed)
    return DemoReport(DEMO_EXAM_CODE, len(new), len(questions) - len(new), added)
