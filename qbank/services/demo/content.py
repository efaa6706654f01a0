"""A deterministic, realistic demo exam: single-best-answer items with 3PL parameters.

Each topic has a small knowledge table of real conditions: who gets it, how it presents, the
result of its key investigation, the test that establishes it, first-line treatment and
mechanism. An item asks about one condition in one way (diagnosis, diagnostic step, treatment or
mechanism); its vignette is built from that condition's own findings and its distractors are the
same field of other conditions in the topic, so the keyed answer always fits the vignette.
Pure Python + numpy; loading the items into the database is another module's job.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from qbank.errors import InvalidInputError
from qbank.services.demo.knowledge import KNOWLEDGE

__all__ = ["DEMO_EXAM_CODE", "DEMO_TOPICS", "DemoOption", "DemoQuestion", "demo_questions"]

DEMO_EXAM_CODE = "DEMO-EXAM"
_MAX_ITEMS = 5000


@dataclass(frozen=True, slots=True)
class DemoOption:
    """One answer option of a demo question."""

    label: str  # "A".."E"
    text_md: str
    is_correct: bool


@dataclass(frozen=True, slots=True)
class DemoQuestion:
    """A demo single-best-answer question with 3PL parameters (D = 1.7 metric)."""

    external_ref: str  # "DEMO-CARD-0001", unique
    topic_name: str
    blueprint_code: str
    stem_md: str  # clinical vignette, 2-3 sentences
    lead_in: str
    rationale_md: str  # the key, the condition's key facts, why each distractor is wrong
    difficulty_label: str  # easy (b < -0.5) | medium | hard (b > 0.5)
    bloom_level: str  # remember | understand | apply | analyze
    tags: tuple[str, ...]  # (topic slug, condition slug, question kind)
    options: tuple[DemoOption, ...]  # 4 or 5, exactly one correct, labels A.. in order
    a: float  # lognormal(0, 0.3) clipped to [0.4, 2.5]
    b: float  # N(0, 1) clipped to [-3, 3]
    c: float  # U(0.1, 0.25)


class _Condition(NamedTuple):
    name: str
    sex: str  # "M" or "F" when (nearly) limited to one sex, else ""
    age_min: int
    age_max: int
    complaint: str  # noun phrase: "presents with <complaint>"
    clinical: str  # history and examination findings, noun phrases joined by "; "
    workup: str  # one sentence: the result of the key investigation
    test: str  # the investigation that establishes the diagnosis
    treatment: str
    mechanism: str


# "## CODE Topic name" starts a topic; "* " starts a condition whose fields are
# name | [M|F ]min-max age | complaint | clinical | workup | test | treatment | mechanism.
# Within a topic every test, treatment and mechanism is distinct and fits only its condition.
def _parse_knowledge(text: str) -> tuple[tuple[str, str, tuple[_Condition, ...]], ...]:
    topics = []
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        header, _, body = block.partition("\n")
        code, name = header.split(" ", 1)
        conditions = []
        for record in re.split(r"^\* ", body, flags=re.MULTILINE)[1:]:
            title, who, *rest = " ".join(record.split()).split(" | ")
            sex, _, ages = who.rpartition(" ")
            age_min, age_max = (int(age) for age in ages.split("-"))
            conditions.append(_Condition(title, sex, age_min, age_max, *rest))
        topics.append((name, code, tuple(conditions)))
    return tuple(topics)


_TOPICS = _parse_knowledge(KNOWLEDGE)
DEMO_TOPICS: tuple[tuple[str, str], ...] = tuple((name, code) for name, code, _ in _TOPICS)

_LEAD_INS: dict[str, tuple[str, str]] = {
    "diagnosis": (
        "Which of the following is the most likely diagnosis?",
        "Which of the following is the most likely cause of this patient's symptoms?",
    ),
    "test": (
        "Which of the following is the most appropriate next step to establish the diagnosis?",
        "Which of the following is the best initial diagnostic step?",
    ),
    "treatment": (
        "Which of the following is the most appropriate treatment?",
        "Which of the following is the most appropriate management?",
    ),
    "mechanism": (
        "Which of the following best explains the underlying mechanism of this condition?",
        "Which of the following is the most likely underlying pathophysiology?",
    ),
}
_KINDS = tuple(_LEAD_INS)
# Mechanism items test recall when easy and understanding otherwise.
_BLOOM = {"diagnosis": "apply", "test": "analyze", "treatment": "analyze"}
_WHY_NOT = {
    "test": "the key test for {other}, not for this presentation.",
    "treatment": "the treatment for {other}, which this patient does not have.",
    "mechanism": "the mechanism of {other}, not of {this}.",
}
_VERBS = ("presents with", "is evaluated for", "comes to the physician because of")
_INTROS = ("Evaluation shows", "History and examination reveal", "Findings include")
# Names that keep their capital letter inside a sentence.
_PROPER = ("Graves", "Cushing", "Guillain", "Parkinson", "Crohn", "Helicobacter", "Hodgkin",
           "IgA", "Lyme", "Pneumocystis", "Clostridioides", "Sjögren")  # fmt: skip


def demo_questions(n_items: int = 720, seed: int = 2026) -> list[DemoQuestion]:
    """Generate a deterministic demo exam spread round-robin over ``DEMO_TOPICS``.

    Item ``i`` belongs to topic ``i % len(DEMO_TOPICS)``. A topic walks its conditions in a
    seeded order and shifts the question kind on each pass, so every condition is asked as
    diagnosis, diagnostic step, treatment and mechanism before any pairing repeats.

    Args:
        n_items: number of questions, 1 to 5000.
        seed: seed of ``numpy.random.default_rng``; the same seed gives the same list.

    Returns:
        The questions in generation order, ``external_ref`` ``DEMO-<blueprint code>-<nnnn>``.

    Raises:
        InvalidInputError: ``n_items`` is not an integer in [1, 5000] or ``seed`` is negative.
    """
    if isinstance(n_items, bool) or not isinstance(n_items, int) or not 1 <= n_items <= _MAX_ITEMS:
        raise InvalidInputError(f"n_items must be an integer in [1, {_MAX_ITEMS}], got {n_items!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(len(table)) for _, _, table in _TOPICS]
    questions = []
    for i in range(n_items):
        topic, j = i % len(_TOPICS), i // len(_TOPICS)
        table = _TOPICS[topic][2]
        condition = table[int(orders[topic][j % len(table)])]
        kind = _KINDS[(j + j // len(table)) % len(_KINDS)]
        questions.append(_make_question(rng, _TOPICS[topic], j + 1, condition, kind))
    return questions


def _make_question(
    rng: np.random.Generator,
    topic: tuple[str, str, tuple[_Condition, ...]],
    number: int,
    condition: _Condition,
    kind: str,
) -> DemoQuestion:
    topic_name, code, table = topic
    # Rounded before labelling, so a stored b and its label always agree.
    a = round(float(np.clip(rng.lognormal(0.0, 0.3), 0.4, 2.5)), 3)
    b = round(float(np.clip(rng.normal(0.0, 1.0), -3.0, 3.0)), 3)
    c = round(float(rng.uniform(0.1, 0.25)), 3)
    difficulty = "easy" if b < -0.5 else "hard" if b > 0.5 else "medium"
    sex = condition.sex or ("M" if rng.random() < 0.5 else "F")
    stem, shown = _compose_stem(rng, code, condition, sex, kind, hard=difficulty == "hard")
    lead_in = _LEAD_INS[kind][int(rng.integers(2))]
    options = _make_options(rng, table, condition, sex, kind)
    return DemoQuestion(
        external_ref=f"DEMO-{code}-{number:04d}",
        topic_name=topic_name,
        blueprint_code=code,
        stem_md=stem,
        lead_in=lead_in,
        rationale_md=_rationale(table, condition, kind, shown, options),
        difficulty_label=difficulty,
        bloom_level=_BLOOM.get(kind) or ("remember" if difficulty == "easy" else "understand"),
        tags=(_slug(topic_name), _slug(condition.name), kind),
        options=options,
        a=a,
        b=b,
        c=c,
    )


def _compose_stem(
    rng: np.random.Generator, code: str, condition: _Condition, sex: str, kind: str, *, hard: bool
) -> tuple[str, list[str]]:
    """The vignette, and the clinical findings it shows."""
    age = int(rng.integers(condition.age_min, condition.age_max + 1))
    person = ("boy" if sex == "M" else "girl") if age < 18 else ("man" if sex == "M" else "woman")
    if age < 16:
        verb = "is brought to the physician because of"
    elif code == "EMER":
        verb = "is brought to the emergency department because of"
    else:
        verb = _VERBS[int(rng.integers(len(_VERBS)))]
    findings = condition.clinical.split("; ")
    shown = [findings[int(k)] for k in rng.permutation(len(findings))]
    # Hard items give fewer clues; a test item has no investigation result, so it keeps them all.
    if hard and kind != "test":
        shown = shown[:2]
    intro = _INTROS[int(rng.integers(len(_INTROS)))]
    article = "An" if str(age).startswith("8") or age in (11, 18) else "A"
    sentences = [f"{article} {age}-year-old {person} {verb} {condition.complaint}."]
    sentences.append(f"{intro} {_join(shown)}.")
    if kind != "test":
        sentences.append(condition.workup)
    return " ".join(sentences), shown


def _make_options(
    rng: np.random.Generator,
    table: tuple[_Condition, ...],
    condition: _Condition,
    sex: str,
    kind: str,
) -> tuple[DemoOption, ...]:
    # Distractors fit the patient's sex when the topic has enough such (no orchiectomy for a
    # woman); the pool keeps table order, so the seeded draw is reproducible.
    pool = _distractor_texts(condition, kind, [o for o in table if o.sex in ("", sex)])
    if len(pool) < 3:
        pool = _distractor_texts(condition, kind, list(table))
    n_options = min(5 if rng.random() < 0.75 else 4, len(pool) + 1)
    picks = [pool[int(k)] for k in rng.permutation(len(pool))[: n_options - 1]]
    position = int(rng.integers(n_options))
    texts = [*picks[:position], _answer(condition, kind), *picks[position:]]
    return tuple(
        DemoOption(label=chr(ord("A") + k), text_md=text, is_correct=k == position)
        for k, text in enumerate(texts)
    )


def _distractor_texts(condition: _Condition, kind: str, others: list[_Condition]) -> list[str]:
    correct = _answer(condition, kind)
    texts = dict.fromkeys(_answer(other, kind) for other in others if other is not condition)
    return [text for text in texts if text != correct]


def _rationale(
    table: tuple[_Condition, ...],
    condition: _Condition,
    kind: str,
    shown: list[str],
    options: tuple[DemoOption, ...],
) -> str:
    key = next(option for option in options if option.is_correct)
    clues = _join([condition.complaint, *shown])
    workup = "" if kind == "test" else f" {condition.workup}"
    lines = [
        f"**Answer: {key.label}. {key.text_md}**",
        "",
        f"{clues[0].upper()}{clues[1:]} point to {_in_sentence(condition.name)}.{workup} "
        f"Key test: {condition.test}. First-line treatment: {condition.treatment}. "
        f"Mechanism: {condition.mechanism}.",
        "",
        "Why not the others:",
    ]
    for option in options:
        if option.is_correct:
            continue
        other = next(o for o in table if _answer(o, kind) == option.text_md)
        if kind == "diagnosis":
            first_finding = other.clinical.split("; ")[0]
            why = f"would be suggested by {other.complaint}, with {first_finding}."
        else:
            names = {"other": _in_sentence(other.name), "this": _in_sentence(condition.name)}
            why = _WHY_NOT[kind].format(**names)
        lines.append(f"- **{option.label}. {option.text_md}**: {why}")
    return "\n".join(lines)


def _answer(condition: _Condition, kind: str) -> str:
    if kind == "diagnosis":
        return condition.name
    if kind == "test":
        return condition.test
    return condition.treatment if kind == "treatment" else condition.mechanism


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])} and {phrases[-1]}"


def _in_sentence(name: str) -> str:
    """``name`` mid-sentence: lower-case unless it starts with an eponym or an acronym."""
    if name.startswith(_PROPER) or not name[1].islower():
        return name
    return name[0].lower() + name[1:]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
