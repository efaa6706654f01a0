import re
import unicodedata
from collections import Counter, defaultdict

import pytest

from qbank.errors import InvalidInputError
from qbank.services.demo.content import DEMO_EXAM_CODE, DEMO_TOPICS, demo_questions

REQUIRED_TOPICS = {
    "Cardiology", "Nephrology", "Pulmonology", "Gastroenterology", "Endocrinology", "Neurology",
    "Hematology", "Infectious Disease", "Rheumatology", "Oncology", "Pharmacology",
    "Emergency Medicine",
}  # fmt: skip


@pytest.fixture(scope="module")
def questions():
    return demo_questions()


def _slug(text):
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _key(question):
    (key,) = [option for option in question.options if option.is_correct]
    return key


def test_topics_cover_the_clinical_blueprint():
    assert DEMO_EXAM_CODE == "DEMO-EXAM"
    assert {name for name, _ in DEMO_TOPICS} >= REQUIRED_TOPICS
    codes = [code for _, code in DEMO_TOPICS]
    assert len(set(codes)) == len(codes)


def test_default_exam_has_at_least_600_items_over_10_topics(questions):
    assert len(questions) >= 600
    assert len({q.topic_name for q in questions}) >= 10
    assert {(q.topic_name, q.blueprint_code) for q in questions} == set(DEMO_TOPICS)


def test_items_spread_round_robin_over_topics():
    counts = Counter(q.topic_name for q in demo_questions(725))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert [q.topic_name for q in demo_questions(len(DEMO_TOPICS))] == [n for n, _ in DEMO_TOPICS]


def test_each_question_has_4_or_5_options_labelled_in_order_and_one_key(questions):
    for q in questions:
        labels = [option.label for option in q.options]
        assert 4 <= len(labels) <= 5
        assert labels == list("ABCDE"[: len(labels)])
        assert sum(option.is_correct for option in q.options) == 1
        texts = [option.text_md for option in q.options]
        assert len(set(texts)) == len(texts)


def test_correct_position_varies(questions):
    positions = Counter(_key(q).label for q in questions)
    assert set(positions) == set("ABCDE")


def test_external_refs_are_unique_and_name_the_topic(questions):
    refs = [q.external_ref for q in questions]
    assert len(set(refs)) == len(refs)
    for q in questions:
        assert re.fullmatch(rf"DEMO-{q.blueprint_code}-\d{{4}}", q.external_ref)


def test_irt_parameters_within_stated_ranges(questions):
    for q in questions:
        assert 0.4 <= q.a <= 2.5
        assert -3.0 <= q.b <= 3.0
        assert 0.1 <= q.c <= 0.25
    mean_b = sum(q.b for q in questions) / len(questions)
    assert abs(mean_b) < 4 / len(questions) ** 0.5  # N(0, 1): 4 standard errors


def test_difficulty_label_is_consistent_with_b(questions):
    for q in questions:
        expected = "easy" if q.b < -0.5 else "hard" if q.b > 0.5 else "medium"
        assert q.difficulty_label == expected
    assert {q.difficulty_label for q in questions} == {"easy", "medium", "hard"}


def test_metadata_uses_allowed_values(questions):
    assert {q.bloom_level for q in questions} <= {"remember", "understand", "apply", "analyze"}
    assert {q.tags[2] for q in questions} == {"diagnosis", "test", "treatment", "mechanism"}
    assert len({q.lead_in for q in questions}) >= 8
    for q in questions:
        assert q.lead_in.endswith("?")
        assert re.match(r"An? \d+-year-old (man|woman|boy|girl) ", q.stem_md)
        assert q.tags[0] == _slug(q.topic_name)


def test_correct_option_text_appears_in_rationale(questions):
    for q in questions:
        key = _key(q)
        assert key.text_md in q.rationale_md
        for option in q.options:
            assert f"{option.label}. {option.text_md}**" in q.rationale_md


def test_key_matches_the_vignettes_condition(questions):
    keys = defaultdict(set)
    for q in questions:
        _, condition, kind = q.tags
        keys[condition, kind].add(_key(q).text_md)
        if kind == "diagnosis":
            assert _slug(_key(q).text_md) == condition
            assert all(_slug(o.text_md) != condition for o in q.options if not o.is_correct)
    # The key depends only on the condition and the kind of question, never on the draw.
    assert all(len(texts) == 1 for texts in keys.values())


def test_vignettes_are_not_repeated(questions):
    assert len({(q.stem_md, q.lead_in) for q in questions}) == len(questions)


def test_sex_specific_distractors_fit_the_patient():
    for q in demo_questions(2000, seed=5):
        if " woman " in q.stem_md or " girl " in q.stem_md:
            texts = {option.text_md for option in q.options}
            assert not texts & {"Testicular seminoma", "Radical inguinal orchiectomy"}


def test_same_seed_gives_identical_questions(questions):
    assert demo_questions() == questions
    assert demo_questions(50, seed=7) == demo_questions(50, seed=7)


def test_different_seed_gives_different_questions(questions):
    assert demo_questions(seed=2027) != questions


@pytest.mark.parametrize("n_items", [1, 5000])
def test_n_items_bounds_are_accepted(n_items):
    assert len(demo_questions(n_items)) == n_items


@pytest.mark.parametrize("n_items", [0, -1, 5001, 2.5, True, "10", None])
def test_bad_n_items_raises_invalid_input(n_items):
    with pytest.raises(InvalidInputError, match="n_items"):
        demo_questions(n_items)


def test_negative_seed_raises_invalid_input():
    with pytest.raises(InvalidInputError, match="seed"):
        demo_questions(10, seed=-1)
