from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from qbank.errors import ConflictError, InvalidInputError, NotFoundError, RequestMismatchError
from qbank.services.access.flags import set_feature_flag
from qbank.services.delivery.answers import answer_item, finish_quiz, get_quiz
from qbank.services.delivery.exposure_caps import reserve_exposure
from qbank.services.delivery.quizzes import QuizFilters, create_quiz, next_item
from qbank.services.exposure.sh_p import set_sh_p
from qbank.state import InMemoryStateStore
from qbank.store.models import QuestionOption, QuestionVersion, QuizItem
from tests.services.conftest import EXAM, TENANT

CAP = 500


def correct_label(sessions, question_id, version):
    with sessions() as session:
        return session.scalar(
            select(QuestionOption.option_label)
            .join(QuestionVersion, QuestionVersion.id == QuestionOption.question_version_id)
            .where(QuestionVersion.question_id == question_id, QuestionVersion.version == version,
                   QuestionOption.is_correct)
        )  # fmt: skip


def take(sessions, state, quiz_id, answer_correctly, user="s1", cap=CAP, **answer_kwargs):
    item = next_item(sessions, state, TENANT, user, quiz_id, cap)
    right = correct_label(sessions, item.question_id, item.version)
    wrong = "B" if right == "A" else "A"
    selected = right if answer_correctly else wrong
    result = answer_item(
        sessions, state, TENANT, user, quiz_id, item.question_id, selected, 1200, **answer_kwargs
    )
    return item, result


@pytest.mark.parametrize(("always_right", "direction"), [(True, 1), (False, -1)])
def test_adaptive_theta_moves_toward_the_student(session_factory, exam, always_right, direction):
    state = InMemoryStateStore()
    quiz = create_quiz(session_factory, TENANT, "s1", QuizFilters(num_questions=8, exam_code=EXAM),
                       adaptive=True)  # fmt: skip
    assert quiz.question_ids == []
    for _ in range(8):
        item, result = take(session_factory, state, quiz.quiz_id, always_right)
        assert "correct_option" not in item.payload
        assert result.feedback["correct"] is always_right  # tutor mode: feedback at once
    summary = get_quiz(session_factory, state, TENANT, "s1", quiz.quiz_id)
    assert summary["status"] == "finished"
    assert summary["theta"] * direction > 1.0
    assert summary["se"] < 0.7
    assert sum(t["total"] for t in summary["per_topic"].values()) == 8
    with pytest.raises(NotFoundError, match="finished"):
        next_item(session_factory, state, TENANT, "s1", quiz.quiz_id, CAP)


def test_next_is_stable_until_answered_and_survives_a_state_loss(session_factory, exam):
    quiz = create_quiz(session_factory, TENANT, "s1", QuizFilters(exam_code=EXAM), adaptive=True)
    first = next_item(session_factory, InMemoryStateStore(), TENANT, "s1", quiz.quiz_id, CAP)
    again = next_item(session_factory, InMemoryStateStore(), TENANT, "s1", quiz.quiz_id, CAP)
    assert (again.question_id, again.position) == (first.question_id, 1)


def test_answer_rules_and_idempotency(session_factory, exam):
    state = InMemoryStateStore()
    quiz = create_quiz(session_factory, TENANT, "s1", QuizFilters(exam_code=EXAM), adaptive=True)
    item = next_item(session_factory, state, TENANT, "s1", quiz.quiz_id, CAP)
    other = next(e.question_id for e in exam if e.question_id != item.question_id)
    with pytest.raises(ConflictError, match="not served"):
        answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, other, "A")
    with pytest.raises(InvalidInputError, match="selected must be one of"):
        answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, item.question_id, "Z")
    first = answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, item.question_id, "a",
                        idempotency_key="k-1")  # fmt: skip
    retry = answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, item.question_id, "A",
                        idempotency_key="k-1")  # fmt: skip
    assert retry == first
    with pytest.raises(RequestMismatchError, match="option A"):
        answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, item.question_id, "B",
                    idempotency_key="k-1")  # fmt: skip
    with pytest.raises(ConflictError, match="already answered"):
        answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, item.question_id, "A")
    with pytest.raises(NotFoundError):
        next_item(session_factory, state, TENANT, "intruder", quiz.quiz_id, CAP)
    with pytest.raises(NotFoundError):
        get_quiz(session_factory, state, "other-tenant", "s1", quiz.quiz_id)


def test_exam_mode_reveals_only_after_finish(session_factory, exam):
    state = InMemoryStateStore()
    filters = QuizFilters(num_questions=3, mode="exam", exam_code=EXAM)
    quiz = create_quiz(session_factory, TENANT, "s1", filters, adaptive=False)
    assert len(quiz.question_ids) == 3
    item, result = take(session_factory, state, quiz.quiz_id, True)
    assert item.question_id == quiz.question_ids[0]  # the planned order
    assert result.feedback == {}
    assert "rationale_md" not in str(get_quiz(session_factory, state, TENANT, "s1", quiz.quiz_id))
    summary = finish_quiz(session_factory, state, TENANT, "s1", quiz.quiz_id)
    assert summary["status"] == "finished"
    assert summary["items"][0]["explanation"]["rationale_md"]
    assert summary["score"] == 1


def test_daily_cap_excludes_items(session_factory, exam):
    state = InMemoryStateStore()
    open_items = {exam[0].question_id, exam[1].question_id}
    for created in exam:
        if created.question_id not in open_items:
            reserve_exposure(session_factory, state, TENANT, created.question_id, 1, 1)
    quiz = create_quiz(session_factory, TENANT, "s1", QuizFilters(num_questions=3, exam_code=EXAM),
                       adaptive=True)  # fmt: skip
    served = set()
    today = datetime.now(UTC).date()
    finished = []
    for _ in range(2):
        item, result = take(session_factory, state, quiz.quiz_id, True, cap=1)
        served.add(item.question_id)
        finished.append(result.finished)
        assert state.exposure_counts(TENANT, [(item.question_id, 1)], today) == [1]
    assert served == open_items
    # No item is left under the cap: the second answer already says the quiz is over.
    assert finished == [False, True]
    with pytest.raises(NotFoundError, match="is finished"):
        next_item(session_factory, state, TENANT, "s1", quiz.quiz_id, 1)


def test_sympson_hetter_uses_k_zero_items_only_as_last_resort(session_factory, exam):
    set_feature_flag(session_factory, TENANT, "selector_strategy", True, "sympson_hetter")
    allowed = {exam[i].question_id for i in (0, 1)}
    for created in exam:
        if created.question_id not in allowed:
            set_sh_p(session_factory, TENANT, created.question_id, 1, 0.0)
    state = InMemoryStateStore()
    quiz = create_quiz(session_factory, TENANT, "s1", QuizFilters(num_questions=4, exam_code=EXAM),
                       adaptive=True)  # fmt: skip
    order = [take(session_factory, state, quiz.quiz_id, True)[0].question_id for _ in range(4)]
    assert set(order[:2]) == allowed
    assert not set(order[2:]) & allowed
    with session_factory() as session:
        selectors = set(session.scalars(select(QuizItem.selector)))
    assert selectors == {"sympson_hetter"}


def test_stop_se_ends_an_adaptive_quiz_early(session_factory, exam):
    state = InMemoryStateStore()
    filters = QuizFilters(num_questions=30, exam_code=EXAM, stop_se=0.6)
    quiz = create_quiz(session_factory, TENANT, "s1", filters, adaptive=True)
    answered = 0
    while True:
        try:
            _item, result = take(session_factory, state, quiz.quiz_id, answered % 2 == 0)
        except NotFoundError:
            break
        answered += 1
        if result.finished:
            break
    summary = get_quiz(session_factory, state, TENANT, "s1", quiz.quiz_id)
    assert summary["se"] <= 0.6
    assert answered < 30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_questions": 0}, "num_questions"),
        ({"num_questions": 121}, "num_questions"),
        ({"mode": "practice"}, "mode"),
        ({"difficulty": ("brutal",)}, "difficulty"),
        ({"stop_se": 0.0}, "stop_se"),
    ],
)
def test_bad_filters_are_refused(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        QuizFilters(**kwargs)


def test_no_matching_items_is_refused(session_factory, exam):
    filters = QuizFilters(exam_code=EXAM, topics=("Dermatology",))
    with pytest.raises(InvalidInputError, match="no live items"):
        create_quiz(session_factory, TENANT, "s1", filters, adaptive=True)


def test_an_answer_is_graded_against_the_served_version(session_factory, exam):
    """Serve version 1, publish version 2 with another correct option, answer version 1's key."""
    from qbank.services.authoring.questions import OptionInput
    from qbank.services.authoring.versions import add_version
    from tests.services.conftest import make_question

    state = InMemoryStateStore()
    quiz = create_quiz(session_factory, TENANT, "s1", QuizFilters(num_questions=2, exam_code=EXAM),
                       adaptive=True)  # fmt: skip
    item = next_item(session_factory, state, TENANT, "s1", quiz.quiz_id, CAP)
    served_key = correct_label(session_factory, item.question_id, item.version)
    assert served_key == "A"
    options = (OptionInput("A", "Option A"), OptionInput("B", "Option B", True))
    new = add_version(session_factory, TENANT, item.question_id,
                      make_question(99, external_ref=None, options=options))  # fmt: skip
    assert correct_label(session_factory, item.question_id, new.version) != served_key
    result = answer_item(session_factory, state, TENANT, "s1", quiz.quiz_id, item.question_id,
                         served_key)  # fmt: skip
    assert result.feedback["correct"] is True
    assert result.feedback["correct_option"] == served_key
