"""GET/PUT /v1/admin/exams/{exam_code}/design and delivery under the design, on both runtimes."""

import uuid

import pytest
from sqlalchemy import select

from qbank.store.models import QuizItem
from tests.api.conftest import token
from tests.api.test_api import publish_exam
from tests.cat import design_reference as ref

URL = "/v1/admin/exams/EX/design"
BLUEPRINT = {"Cardiology": 0.5, "Nephrology": 0.25, "Neurology": 0.25}


def test_design_defaults_then_stored_and_tenant_scoped(client):
    admin = token(client, "admin")
    shown = client.get(URL, headers=admin)
    assert shown.status_code == 200, shown.text
    assert shown.json()["stored"] is False
    assert shown.json()["design"]["selection"]["rule"] == "mfi"
    publish_exam(client, n=3)  # creates the blueprint's topics
    design = {"stopping": {"max_len": 10, "se": 0.3}, "blueprint": BLUEPRINT,
              "exposure": {"method": "sympson_hetter"}}  # fmt: skip
    saved = client.put(URL, headers=admin, json=design)
    assert saved.status_code == 200, saved.text
    body = client.get(URL, headers=admin).json()
    assert body["stored"] is True
    assert body["updated_by"]
    assert body["design"]["stopping"]["se"] == 0.3
    assert body["design"]["blueprint"] == BLUEPRINT
    outsider = token(client, "outsider", "other")
    assert client.get(URL, headers=outsider).json()["stored"] is False


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"stopping": {"max_len": 0}}, "max_len"),
        ({"selection": {"rule": "best"}}, "selection rule"),
        ({"estimator": "bayes"}, "estimator"),
        ({"blueprint": {"Cardiology": 0.5}}, "sum to 1"),
        ({"blueprint": {"Dermatology": 1.0}}, "not found: Dermatology"),
        ({"extra": 1}, "unknown field"),
        ({"stopping": {"se": "low"}}, "finite number"),
    ],
)
def test_bad_designs_are_400_with_json_and_change_nothing(client, body, detail):
    publish_exam(client, n=3)
    admin = token(client, "admin")
    response = client.put(URL, headers=admin, json=body)
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert client.get(URL, headers=admin).json()["stored"] is False


def test_design_routes_are_admin_only(client):
    for user in ("student", "author", "publisher"):
        headers = token(client, user)
        assert client.get(URL, headers=headers).status_code == 403
        assert client.put(URL, headers=headers, json={}).status_code == 403
    assert client.put(URL, json={}).status_code == 401
    assert client.put(URL, headers=token(client, "admin"), content=b"[1]").status_code == 400


def run_quiz(client, student, answer="A"):
    quiz = client.post("/v1/quizzes", headers=student, json={
        "filters": {"num_questions": 12, "exam_code": "EX"}, "adaptive": True})  # fmt: skip
    assert quiz.status_code == 201, quiz.text
    quiz_id = quiz.json()["quiz_id"]
    for _ in range(13):
        served = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student)
        if served.status_code == 404:
            break
        item = served.json()
        answered = client.post(
            f"/v1/quizzes/{quiz_id}/answers",
            headers=student,
            json={"question_id": item["question_id"], "selected": answer},
        )
        assert answered.status_code == 200, answered.text
    return quiz_id, client.get(f"/v1/quizzes/{quiz_id}", headers=student).json()


def served_rows(client, quiz_id):
    with client.app.state.runtime.sessions() as session:
        return session.scalars(select(QuizItem).where(QuizItem.quiz_id == uuid.UUID(quiz_id))
                               .order_by(QuizItem.position)).all()  # fmt: skip


def test_delivery_follows_the_design_se_rule_and_blueprint(client):
    """Uncalibrated items (a 1, b 0, c 0.2) all right: numpy EAP gives SE 0.723 after 4 and
    0.690 after 5, so SE ≤ 0.70 ends the quiz at 5; Kingsbury–Zara orders the topics C, Ne, Nu,
    C, C (tie of the two 0.25 topics to the first in sorted order)."""
    assert ref.eap([1] * 4, [0] * 4, [0.2] * 4, [1] * 4)[1] > 0.70
    assert ref.eap([1] * 5, [0] * 5, [0.2] * 5, [1] * 5)[1] <= 0.70
    publish_exam(client, n=12)
    admin = token(client, "admin")
    design = {"stopping": {"max_len": 10, "min_len": 3, "se": 0.70}, "blueprint": BLUEPRINT}
    assert client.put(URL, headers=admin, json=design).status_code == 200
    quiz_id, summary = run_quiz(client, token(client, "student"))
    assert summary["status"] == "finished"
    assert summary["answered"] == 5
    topics = [item["topic"] for item in summary["items"]]
    assert topics == ["Cardiology", "Nephrology", "Neurology", "Cardiology", "Cardiology"]
    assert summary["design"]["stopping"]["se"] == 0.70
    assert "classification" not in summary
    assert [row.selector for row in served_rows(client, quiz_id)] == ["design:mfi"] * 5


def test_delivery_classifies_against_the_cut(client):
    """All right: θ̂ − 1·SE first exceeds the cut −0.5 after 2 items (numpy EAP), held back by
    the minimum length 3: a pass. All wrong: θ̂ + SE first falls below it after 5 (the lower
    asymptote makes wrong answers weaker evidence): a fail."""
    theta_2, se_2 = ref.eap([1] * 2, [0] * 2, [0.2] * 2, [1] * 2)
    assert theta_2 - se_2 > -0.5
    wrong = [ref.eap([1] * n, [0] * n, [0.2] * n, [0] * n) for n in (4, 5)]
    assert wrong[0][0] + wrong[0][1] > -0.5 > wrong[1][0] + wrong[1][1]
    publish_exam(client, n=12)
    admin = token(client, "admin")
    design = {"stopping": {"max_len": 10, "min_len": 3, "cut": -0.5, "z": 1.0}}
    assert client.put(URL, headers=admin, json=design).status_code == 200
    _, summary = run_quiz(client, token(client, "student"))
    assert summary["answered"] == 3
    assert summary["classification"] == {"cut": -0.5, "z": 1.0, "decided": True, "passed": True}
    _, failing = run_quiz(client, token(client, "student2"), answer="B")
    assert failing["answered"] == 5
    assert failing["classification"]["passed"] is False


def test_an_exam_without_a_design_keeps_the_selector_flag(client):
    publish_exam(client, n=6)
    admin = token(client, "admin")
    flag = {"key": "selector_strategy", "enabled": True, "value": "sympson_hetter"}
    assert client.post("/v1/admin/flags", headers=admin, json=flag).status_code == 200
    quiz_id, summary = run_quiz(client, token(client, "student"))
    assert summary["answered"] == 6
    assert "design" not in summary
    assert {row.selector for row in served_rows(client, quiz_id)} == {"sympson_hetter"}


def test_the_answer_that_ends_a_min_info_quiz_says_finished(client):
    """Uncalibrated items all right: numpy EAP θ̂ after 2 answers leaves I = 0.404 in the pool and
    after 3 I = 0.340, so min_info 0.37 ends the quiz after the third answer, which must say so
    (the next GET …/next answers 404)."""
    infos = [ref.info(ref.eap([1] * n, [0] * n, [0.2] * n, [1] * n)[0], 1, 0, 0.2) for n in (2, 3)]
    assert infos[0] > 0.37 > infos[1]
    publish_exam(client, n=12)
    admin = token(client, "admin")
    design = {"stopping": {"max_len": 10, "min_info": 0.37}}
    assert client.put(URL, headers=admin, json=design).status_code == 200
    student = token(client, "student")
    quiz = client.post("/v1/quizzes", headers=student, json={
        "filters": {"num_questions": 12, "exam_code": "EX"}, "adaptive": True})  # fmt: skip
    quiz_id = quiz.json()["quiz_id"]
    finished = []
    for _ in range(3):
        item = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
        answer = {"question_id": item["question_id"], "selected": "A"}
        answered = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=student, json=answer)
        assert answered.status_code == 200, answered.text
        finished.append(answered.json()["finished"])
    assert finished == [False, False, True]
    assert client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).status_code == 404
    summary = client.get(f"/v1/quizzes/{quiz_id}", headers=student).json()
    assert (summary["status"], summary["answered"]) == ("finished", 3)


def _served_sets(client, n_quizzes):
    sets = []
    for number in range(n_quizzes):
        quiz_id, summary = run_quiz(client, token(client, ("student", "student2")[number % 2]))
        assert summary["answered"] == 3
        sets.append({row.question_id for row in served_rows(client, quiz_id)})
    return sets


def test_delivery_under_r_max_skips_items_at_the_cap(client):
    """Identical uncalibrated items: max information takes the lowest-indexed candidates, so
    without a cap every quiz would get the same 3. With r_max 0.5 the second quiz finds the first
    quiz's items at rate 1/1 and takes the next 3; the third finds six items at 1/2 (≥ 0.5) and
    takes the next 3 again; the fourth finds all nine at 1/3 and the ranking gives it the first
    quiz's items back."""
    publish_exam(client, n=12)
    admin = token(client, "admin")
    capped = {"stopping": {"max_len": 3}, "exposure": {"method": "r_max", "r_max": 0.5}}
    assert client.put(URL, headers=admin, json=capped).status_code == 200
    sets = _served_sets(client, 4)
    assert not sets[1] & sets[0]
    assert not sets[2] & (sets[0] | sets[1])
    assert sets[3] == sets[0]


@pytest.mark.parametrize(
    ("exposure", "detail"),
    [
        ({"method": "r_max"}, "exposure.r_max"),
        ({"method": "r_max", "r_max": 0}, "exposure.r_max"),
        ({"method": "r_max", "r_max": 1.01}, "exposure.r_max"),
        ({"method": "r_max", "r_max": "half"}, "exposure.r_max"),
        ({"method": "none", "r_max": 0.3}, "exposure.r_max"),
    ],
)
def test_bad_r_max_is_400_naming_the_field(client, exposure, detail):
    publish_exam(client, n=3)
    admin = token(client, "admin")
    response = client.put(URL, headers=admin, json={"exposure": exposure})
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert client.get(URL, headers=admin).json()["stored"] is False
