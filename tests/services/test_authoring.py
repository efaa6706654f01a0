import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.services.authoring.catalog import list_questions
from qbank.services.authoring.questions import OptionInput, create_question
from qbank.services.authoring.versions import (
    add_version,
    publish_version,
    retire_version,
    soft_delete_question,
)
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.store.models import QuestionOption, QuestionPublication
from tests.services.conftest import EXAM, TENANT, make_question


def test_create_question_publishes_by_default(session_factory):
    created = create_question(session_factory, TENANT, make_question(1))
    assert created.version == 1
    pool = load_exam_pool(session_factory, TENANT, EXAM)
    assert pool.qids == [str(created.question_id)]
    assert pool.topics == ["Cardiology"]
    assert float(pool.items.a[0]) == 1.0  # uncalibrated items take DESIGN's defaults
    assert float(pool.items.c[0]) == pytest.approx(0.2)
    assert pool.k.tolist() == [1.0]


def test_draft_is_not_live(session_factory):
    create_question(session_factory, TENANT, make_question(1, publish=False))
    assert load_exam_pool(session_factory, TENANT, EXAM).n_items == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"options": (OptionInput("A", "x", True), OptionInput("B", "y", True))}, "exactly one"),
        ({"options": (OptionInput("A", "x"), OptionInput("B", "y"))}, "exactly one"),
        ({"options": (OptionInput("A", "x", True), OptionInput("A", "y"))}, "unique"),
        ({"options": (OptionInput("K", "x", True), OptionInput("A", "y"))}, "A–J"),
        ({"difficulty_label": "extreme"}, "difficulty_label"),
        ({"stem_md": "  "}, "stem_md"),
    ],
)
def test_bad_questions_are_refused(overrides, message):
    with pytest.raises(InvalidInputError, match=message):
        make_question(1, **overrides)


def test_duplicate_external_ref_conflicts_and_changes_nothing(session_factory):
    create_question(session_factory, TENANT, make_question(1))
    with pytest.raises(ConflictError, match="REF-0001"):
        create_question(session_factory, TENANT, make_question(1))
    assert list_questions(session_factory, TENANT).total == 1
    create_question(session_factory, "other-tenant", make_question(1))  # tenants are separate


def test_one_live_version_per_exam_and_retire(session_factory):
    created = create_question(session_factory, TENANT, make_question(1))
    second = add_version(session_factory, TENANT, created.question_id,
                         make_question(1, stem_md="Revised stem", publish=False))  # fmt: skip
    assert second.version == 2
    assert load_exam_pool(session_factory, TENANT, EXAM).versions == [1]
    publish_version(session_factory, TENANT, created.question_id, 2, EXAM)
    assert load_exam_pool(session_factory, TENANT, EXAM).versions == [2]
    with session_factory() as session:
        assert len(session.scalars(select(QuestionPublication)).all()) == 1
    retire_version(session_factory, TENANT, created.question_id, 2)
    assert load_exam_pool(session_factory, TENANT, EXAM).n_items == 0
    with pytest.raises(ConflictError, match="retired"):
        publish_version(session_factory, TENANT, created.question_id, 2, EXAM)


def test_soft_delete_hides_everywhere(session_factory):
    created = create_question(session_factory, TENANT, make_question(1))
    soft_delete_question(session_factory, TENANT, created.question_id)
    assert load_exam_pool(session_factory, TENANT, EXAM).n_items == 0
    assert list_questions(session_factory, TENANT).total == 0
    with pytest.raises(NotFoundError):
        publish_version(session_factory, TENANT, created.question_id, 1, EXAM)


def test_other_tenants_cannot_touch_a_question(session_factory):
    created = create_question(session_factory, TENANT, make_question(1))
    with pytest.raises(NotFoundError):
        retire_version(session_factory, "intruder", created.question_id, 1)


def test_list_filters_search_and_pagination(session_factory):
    for i in range(7):
        topic = "Cardiology" if i % 2 else "Nephrology"
        question = make_question(i, topic, stem_md=f"Case {i} with oedema")
        create_question(session_factory, TENANT, question)
    page = list_questions(session_factory, TENANT, page=2, page_size=3)
    assert page.total == 7
    assert len(page.items) == 3
    assert list_questions(session_factory, TENANT, topic="Cardiology").total == 3
    assert list_questions(session_factory, TENANT, search="CASE 4").total == 1
    assert list_questions(session_factory, TENANT, exam_code=EXAM).items[0].exams == (EXAM,)
    with pytest.raises(InvalidInputError):
        list_questions(session_factory, TENANT, page_size=500)


def test_database_refuses_a_second_correct_option(session_factory):
    create_question(session_factory, TENANT, make_question(1))
    session = session_factory()
    option = session.scalars(select(QuestionOption).where(QuestionOption.option_label == "B")).one()
    option.is_correct = True
    with pytest.raises(IntegrityError):
        session.commit()
    session.close()
