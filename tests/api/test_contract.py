"""The API contract a client codes against, on both runtimes: shapes, vocabulary, exact numbers."""

import pytest

from qbank.figures import round_figure
from tests.api.conftest import question_body, token

# Values with up to 7 significant digits: float32 would return them with noise
# (-0.323 comes back as -0.3230000138282776), 6-digit rounding would change the 7-digit ones.
ENTERED = {"a": 1.234567, "b": -0.323, "c": 0.1875001, "sh_p": 0.8000001}


def import_exam(client, n=4, exam_code="EX", **values):
    records = [
        {**question_body(i, ["Cardiology", "Neurology"][i % 2]), "exam_code": exam_code,
         "publish": True, **values}
        for i in range(n)
    ]  # fmt: skip
    response = client.post("/v1/author/questions/import", json=records,
                           headers=token(client, "admin"))  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()["question_ids"]


def is_six_digit(value):
    return value == round_figure(value)


def test_entered_parameters_come_back_exactly_and_figures_have_six_digits(client):
    ids = import_exam(client, **ENTERED)
    admin = token(client, "admin")
    page = client.get("/v1/admin/exposure/items?exam_code=EX", headers=admin).json()
    assert page["total"] == 4
    for row in page["items"]:
        assert {key: row[key] for key in ENTERED} == ENTERED
    detail = client.get(f"/v1/author/questions/{ids[0]}", headers=admin).json()
    calibration = detail["versions"][0]["calibration"]
    assert (calibration["a"], calibration["b"], calibration["c"]) == (1.234567, -0.323, 0.1875001)
    assert detail["versions"][0]["sh_p"] == 0.8000001

    student = token(client, "student")
    quiz = client.post(
        "/v1/quizzes", headers=student, json={"filters": {"exam_code": "EX", "num_questions": 2}}
    ).json()
    served = client.get(f"/v1/quizzes/{quiz['quiz_id']}/next", headers=student).json()
    answer = client.post(
        f"/v1/quizzes/{quiz['quiz_id']}/answers",
        headers=student,
        json={"question_id": served["question_id"], "selected": "A"},
    ).json()
    assert answer["difficulty"]["b"] == -0.323  # as entered: stored and served in float64
    assert 0 < answer["se"] < 1
    assert is_six_digit(answer["se"])
    assert is_six_digit(answer["theta"])
    summary = client.get(f"/v1/quizzes/{quiz['quiz_id']}", headers=student).json()
    assert (summary["theta"], summary["se"]) == (answer["theta"], answer["se"])
    assert summary["items"][0]["difficulty"]["b"] == -0.323


def test_a_calibration_reports_stored_k_exactly_and_computed_figures_rounded(client, app_settings):
    import_exam(client, n=6, sh_p=0.8000001)
    admin = token(client, "admin")
    started = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin, json={
        "exam_code": "EX", "n": 60, "test_len": 2, "iters": 1, "dry_run": True}).json()  # fmt: skip
    run = wait_for_run(client, admin, started["run_id"], app_settings)
    assert run["status"] == "done", run
    diff = run["result"]["diff"]
    assert {row["before"] for row in diff} == {0.8000001}
    assert all(is_six_digit(row["after"]) and is_six_digit(row["delta"]) for row in diff)
    assert all((row["question_id"], row["version"]) == (row["qid"], row["ver"]) for row in diff)
    figures = [run["avg_exp"], run["max_over"], *run["result"]["exposure_rates_after"],
               *(value for row in run["history"] for value in row.values()
                 if isinstance(value, float))]  # fmt: skip
    assert figures
    assert all(is_six_digit(value) for value in figures)


def wait_for_run(client, headers, run_id, app_settings):
    import time

    if app_settings.redis_url:
        from qbank.jobs.queue import RqJobQueue

        RqJobQueue(app_settings.redis_url, app_settings.rq_queue).worker().work(burst=True)
    for _ in range(300):
        run = client.get(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}", headers=headers).json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_the_first_publish_creates_an_exam_and_an_empty_body_means_the_defaults(client):
    author = token(client, "author")  # author + publisher
    created = client.post("/v1/author/questions", headers=author,
                          json=question_body(100, publish=False)).json()  # fmt: skip
    url = f"/v1/author/questions/{created['question_id']}/versions/1/publish"
    first = client.post(url, headers=author)  # no body at all: the default exam
    assert first.status_code == 200, first.text
    assert first.json() == {"question_id": created["question_id"], "version": 1,
                            "exam_code": "DEMO-EXAM", "exam_created": True}  # fmt: skip
    empty = client.post(url, headers=author, json={})
    assert (empty.status_code, empty.json()["exam_created"]) == (200, False)
    new_exam = client.post(url, headers=author, json={"exam_code": "NEW-1"}).json()
    assert (new_exam["exam_code"], new_exam["exam_created"]) == ("NEW-1", True)
    import_exam(client, n=3)
    exams = client.get("/v1/exams", headers=author).json()
    assert exams == {"total": 3, "page": 1, "page_size": 50, "items": [
        {"exam_code": "DEMO-EXAM", "live_items": 1}, {"exam_code": "EX", "live_items": 3},
        {"exam_code": "NEW-1", "live_items": 1}]}  # fmt: skip
    second_page = client.get("/v1/exams?page=2&page_size=2", headers=author).json()
    assert (second_page["total"], [e["exam_code"] for e in second_page["items"]]) == (3, ["NEW-1"])
    assert client.get("/v1/exams", headers=token(client, "student")).status_code == 403
    student = token(client, "student")
    unknown = client.post("/v1/quizzes", headers=student, json={"filters": {"exam_code": "NOPE"}})
    assert unknown.status_code == 404
    assert unknown.json()["detail"].startswith("exam 'NOPE' has no live published items")
    bad = client.post(url, headers=author, json={"exam_code": ""})
    assert bad.status_code == 400


@pytest.mark.parametrize("mode", ["tutor", "exam"])
def test_the_quiz_lifecycle_as_documented(client, mode):
    import_exam(client, n=3)
    student = token(client, "student")
    quiz = client.post("/v1/quizzes", headers=student, json={
        "filters": {"exam_code": "EX", "num_questions": 2, "mode": mode}}).json()  # fmt: skip
    base = f"/v1/quizzes/{quiz['quiz_id']}"
    for position in (1, 2):
        served = client.get(f"{base}/next", headers=student).json()
        assert served["position"] == position
        assert [set(o) for o in served["payload"]["options"]] == [{"label", "text_md"}] * 4
        answer = client.post(
            f"{base}/answers",
            headers=student,
            json={"question_id": served["question_id"], "selected": "B"},
        )
        body = answer.json()
        assert (body["position"], body["version"], body["finished"]) == (position, 1, position == 2)
        revealed = mode == "tutor" or body["finished"]
        assert ({"theta", "se", "correct", "correct_option"} <= set(body)) is revealed
        assert ("theta" in body) is revealed
    over = client.get(f"{base}/next", headers=student)
    assert over.status_code == 404
    assert over.json()["error"] == "NotFoundError"
    assert "finished" in over.json()["detail"]
    summary = client.get(base, headers=student).json()
    assert (summary["status"], summary["answered"], summary["score"]) == ("finished", 2, 0)
    assert summary["per_topic"]
    assert all(set(t) == {"total", "correct"} for t in summary["per_topic"].values())
    assert client.post(f"{base}/finish", headers=student).json() == summary


def test_every_list_is_one_paged_shape(client):
    import_exam(client, n=3)
    admin = token(client, "admin")
    for path in ("/v1/exams", "/v1/author/questions", "/v1/admin/exposure/items",
                 "/v1/admin/exposure/calibrate_sh/runs"):  # fmt: skip
        body = client.get(f"{path}?page=1&page_size=2", headers=admin).json()
        assert set(body) == {"total", "page", "page_size", "items"}, path
        assert (body["page"], body["page_size"]) == (1, 2)
        assert len(body["items"]) == min(2, body["total"])


def test_errors_have_one_shape_whatever_raised_them(client):
    admin = token(client, "admin")
    responses = [
        client.get("/v1/no-such-route"),  # routing: 404
        client.put("/health"),  # 405
        client.get("/v1/admin/exposure/items?page_size=0", headers=admin),  # validation: 400
        client.get("/v1/admin/exposure/items"),  # guard: 401
        client.get("/v1/admin/exposure/items", headers=token(client, "student")),  # guard: 403
        client.get("/v1/author/questions/99999", headers=admin),  # service: 404
    ]
    assert [r.status_code for r in responses] == [404, 405, 400, 401, 403, 404]
    for response in responses:
        assert set(response.json()) == {"error", "detail", "extra", "request_id"}, response.text
        assert response.json()["request_id"] == response.headers["x-request-id"]
