import numpy as np
import pytest

from qbank.services.authoring.questions import OptionInput, QuestionInput, create_question
from qbank.store.models import ItemCalibration

TENANT = "t1"
EXAM = "EXAM-1"
TOPICS = ("Cardiology", "Nephrology", "Neurology", "Oncology")


def make_question(index: int, topic: str = "Cardiology", **overrides) -> QuestionInput:
    fields = dict(
        topic_name=topic, stem_md=f"A patient number {index} presents with chest pain.",
        lead_in="Which of the following is the most likely diagnosis?",
        rationale_md="Because of the findings.", difficulty_label="medium",
        options=(OptionInput("A", "Angina", True), OptionInput("B", "Reflux"),
                 OptionInput("C", "Costochondritis"), OptionInput("D", "Pneumothorax")),
        external_ref=f"REF-{index:04d}", exam_code=EXAM,
    )  # fmt: skip
    fields.update(overrides)
    return QuestionInput(**fields)


def build_exam(sessions, n_items: int = 40, tenant_id: str = TENANT, exam_code: str = EXAM):
    """n_items published questions over 4 topics with 3PL calibration rows."""
    from datetime import UTC, datetime

    rng = np.random.default_rng(3)
    created = [
        create_question(sessions, tenant_id, make_question(i, TOPICS[i % 4], exam_code=exam_code,
                                                          external_ref=f"{exam_code}-{i:04d}"))
        for i in range(n_items)
    ]  # fmt: skip
    with sessions.begin() as session:
        for item in created:
            session.add(ItemCalibration(
                question_id=item.question_id, version=1, model="3pl",
                a=float(np.clip(rng.lognormal(0, 0.3), 0.4, 2.5)), b=float(rng.normal()),
                c=float(rng.uniform(0.1, 0.25)), n_respondents=100, updated_at=datetime.now(UTC),
            ))  # fmt: skip
    return created


@pytest.fixture
def exam(session_factory):
    return build_exam(session_factory)
