"""The HTTP API end to end on both runtimes (SQLite + in-process, PostgreSQL + Redis + RQ)."""

import csv
import io
import time

import pytest

from tests.api.conftest import question_body, token


def publish_exam(client, n=12):
    author = token(client, "author")
    ids = []
    for i in range(n):
        topic = ["Cardiology", "Nephrology", "Neurology"][i % 3]
        response = client.post("/v1/author/questions", json=question_body(i, topic), headers=author)
        assert response.status_code == 201, response.text
        ids.append(response.json()["question_id"])
    return ids


def finished_run(client, admin, app_settings, run_id):
    """The run's detail once it is done or failed (an RQ worker drains the queue first)."""
    if app_settings.redis_url:  # a worker serves the RQ queue
        from qbank.jobs.queue import RqJobQueue

        RqJobQueue(app_settings.redis_url, app_settings.rq_queue).worker().work(burst=True)
    detail = {}
    for _ in range(300):
        detail = client.get(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}", headers=admin).json()
        if detail["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    return detail


def test_health_reports_the_backends(client, app_settings):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if app_settings.redis_url else "not configured")


def test_login_and_token_checks(client):
    wrong = client.post("/v1/auth/login", json={"username": "admin", "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "wrong username or password"
    assert client.post("/v1/auth/login", json={"username": "admin"}).status_code == 400
    assert client.get("/v1/admin/exposure/items").status_code == 401
    bad = client.get("/v1/admin/exposure/items", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
    login = client.post("/v1/auth/login", json={"username": "admin", "password":
                                                  "correct horse battery"}).json()  # fmt: skip
    assert (login["token_type"], login["roles"]) == ("bearer", ["admin"])


def test_mock_login_is_dev_only(client, app_settings):
    from dataclasses import replace

    from litestar.testing import TestClient

    from api.app import create_app

    assert app_settings.env == "prod"  # the fixture runs as production does: the default
    denied = client.post("/v1/auth/mock-login", json={"user_id": "u9", "roles": ["admin"]})
    assert denied.status_code == 404
    assert "/v1/auth/mock-login" not in client.get("/schema/openapi.json").json()["paths"]
    dev = replace(app_settings, env="dev")
    with TestClient(create_app(dev)) as dev_client:
        response = dev_client.post("/v1/auth/mock-login",
                                   json={"user_id": "u9", "roles": ["student"]})  # fmt: skip
        assert response.status_code == 200
        assert "/v1/auth/mock-login" in dev_client.get("/schema/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        ("student", "post", "/v1/author/questions", 403),
        ("author", "get", "/v1/admin/exposure/items", 403),
        ("author", "post", "/v1/quizzes", 403),
        ("publisher", "post", "/v1/author/questions", 403),
        ("student", "get", "/v1/admin/exposure/calibrate_sh/runs", 403),
    ],
)
def test_roles_are_checked_on_every_route(client, user, method, path, status):
    response = getattr(client, method)(
        path,
        headers=token(client, user),
        **({"json": question_body(1)} if method == "post" else {}),
    )
    assert response.status_code == status


def test_adaptive_tutor_quiz_moves_theta_toward_a_strong_student(client):
    publish_exam(client)
    student = token(client, "student")
    quiz = client.post("/v1/quizzes", json={"filters": {"num_questions": 6, "exam_code": "EX"},
                                             "adaptive": True}, headers=student)  # fmt: skip
    assert quiz.status_code == 201, quiz.text
    quiz_id = quiz.json()["quiz_id"]
    for _ in range(6):
        served = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student)
        assert served.status_code == 200, served.text
        item = served.json()
        assert "is_correct" not in str(item)
        again = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
        assert again["question_id"] == item["question_id"]
        answer = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=student,
                             json={"question_id": item["question_id"], "selected": "A",
                                   "time_taken_ms": 900})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["correct"] is True
        assert answer.json()["correct_option"] == "A"
    assert client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).status_code == 404
    summary = client.get(f"/v1/quizzes/{quiz_id}", headers=student).json()
    assert summary["status"] == "finished"
    assert summary["score"] == 6
    assert summary["theta"] > 1.0
    assert (
        client.get(f"/v1/quizzes/{quiz_id}", headers=token(client, "student2")).status_code == 404
    )
    outsider = token(client, "outsider", "other")
    assert client.get(f"/v1/quizzes/{quiz_id}", headers=outsider).status_code == 404


def test_exam_mode_conflicts_and_idempotency(client):
    publish_exam(client, n=4)
    student = token(client, "student")
    quiz_id = client.post("/v1/quizzes", headers=student, json={
        "filters": {"num_questions": 3, "mode": "exam", "exam_code": "EX"},
        "adaptive": False}).json()["quiz_id"]  # fmt: skip
    item = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
    other = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=student,
                        json={"question_id": 999999, "selected": "A"})  # fmt: skip
    assert other.status_code == 409
    body = {"question_id": item["question_id"], "selected": "B"}
    keyed = {**student, "Idempotency-Key": "abc-1"}
    first = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=keyed, json=body)
    assert first.status_code == 200
    assert "correct_option" not in first.json()  # exam mode: acknowledgement only
    retry = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=keyed, json=body)
    assert retry.json() == first.json()
    twice = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=student, json=body)
    assert twice.status_code == 409
    # The README's old example: one key for every answer. The next answer is refused, not
    # silently replaced by the first one's result.
    following = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
    next_body = {"question_id": following["question_id"], "selected": "A"}
    reused = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=keyed, json=next_body)
    assert reused.status_code == 422, reused.text
    assert reused.json()["error"] == "RequestMismatchError"
    assert f"question {item['question_id']}" in reused.json()["detail"]
    fresh_key = {**student, "Idempotency-Key": "abc-2"}
    accepted = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=fresh_key, json=next_body)
    assert accepted.status_code == 200
    assert twice.json()["error"] == "ConflictError"
    finished = client.post(f"/v1/quizzes/{quiz_id}/finish", headers=student).json()
    assert finished["answered"] == 2
    assert finished["items"][0]["correct_option"] == "A"
    assert finished["items"][0]["explanation"]["rationale_md"].startswith("Rationale")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/quizzes", {"filters": {"num_questions": 0}}),
        ("/v1/quizzes", {"filters": {"mode": "practice"}}),
        ("/v1/quizzes", {"filters": {"exam_code": "NOPE"}}),
        ("/v1/quizzes", {"tenant_id": "other"}),
        ("/v1/quizzes", "not json"),
        ("/v1/quizzes", {"unknown_field": 1}),
    ],
)
def test_bad_quiz_requests_are_4xx_with_json(client, path, body):
    publish_exam(client, n=2)
    student = token(client, "student")
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = client.post(path, headers={**student, "Content-Type": "application/json"}, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()


def test_admin_exposure_and_calibration_runs(client, app_settings):
    ids = publish_exam(client, n=12)
    admin = token(client, "admin")
    listing = client.get("/v1/admin/exposure/items?page_size=5&exam_code=EX", headers=admin)
    page = listing.json()
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (12, 1, 5, 5)
    assert set(page["items"][0]) == {"question_id", "version", "topic", "question", "a", "b", "c",
                                     "sh_p", "attempts_7d", "exposures_today"}  # fmt: skip
    unknown = client.get("/v1/admin/exposure/items?exam_code=NOPE", headers=admin)
    assert unknown.status_code == 404, unknown.text
    bad = client.post("/v1/admin/exposure/set", headers=admin,
                      json={"question_id": ids[0], "version": 1, "sh_p": 1.5})  # fmt: skip
    assert bad.status_code == 400
    ok = client.post("/v1/admin/exposure/set", headers=admin,
                     json={"question_id": ids[0], "version": 1, "sh_p": 0.5})  # fmt: skip
    assert ok.status_code == 200
    started = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin, json={
        "exam_code": "EX", "n": 100, "test_len": 4, "iters": 2, "dry_run": True})  # fmt: skip
    assert started.status_code == 201, started.text
    job_id, run_id = started.json()["job_id"], started.json()["run_id"]
    if app_settings.redis_url:  # a worker serves the RQ queue
        from qbank.jobs.queue import RqJobQueue

        RqJobQueue(app_settings.redis_url, app_settings.rq_queue).worker().work(burst=True)
    status = {}
    for _ in range(300):
        status = client.get(f"/v1/admin/exposure/calibrate_sh/status?job_id={job_id}",
                            headers=admin).json()  # fmt: skip
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == status["state"] == "done", status  # state: the deprecated alias
    assert status["kind"] == "sh"
    assert (status["current_iter"], status["total_iters"]) == (2, 2)
    listed = client.get("/v1/admin/exposure/calibrate_sh/runs?exam_code=EX&page_size=10",
                        headers=admin)  # fmt: skip
    assert listed.headers["X-Total-Count"] == "1"
    runs_page = listed.json()
    assert (runs_page["total"], runs_page["page"], runs_page["page_size"]) == (1, 1, 10)
    row = runs_page["items"][0]
    assert (row["run_id"], row["id"], row["kind"], row["params"]["iters"]) == (
        run_id,
        run_id,
        "sh",
        2,
    )
    detail = client.get(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}", headers=admin).json()
    assert {"params", "history", "result", "error", "created_at"} <= set(detail)
    csv_text = client.get(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}/diff.csv",
                          headers=admin).text  # fmt: skip
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert rows[0] == ["qid", "ver", "sh_p_before", "sh_p_after", "delta"]
    assert len(rows) == 13
    applied = client.post(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}/apply", headers=admin)
    changed = sum(1 for row in detail["result"]["diff"] if row["after"] != row["before"])
    assert applied.json() == {"run_id": run_id, "rows_written": 12, "values_changed": changed,
                              "applied": 12}  # fmt: skip
    assert changed == detail["result"]["updated"]
    again = client.post(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}/apply", headers=admin)
    assert again.status_code == 409
    run_url = f"/v1/admin/exposure/calibrate_sh/runs/{run_id}"
    assert client.get(run_url, headers=admin).json()["in_effect"] is True
    client.post("/v1/admin/exposure/set", headers=admin,
                json={"question_id": ids[1], "version": 1, "sh_p": 0.25})  # fmt: skip
    superseded = client.get(run_url, headers=admin).json()
    assert superseded["in_effect"] is False
    assert superseded["superseded_by"][0]["changed_by"] == "manual"
    refused = client.post(f"{run_url}/rollback", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"] == "ChangedSinceError"
    assert refused.json()["extra"][0]["description"] == "a manual exposure/set"
    forced = client.post(f"{run_url}/rollback?force=true", headers=admin)
    assert (forced.json()["rows_written"], forced.json()["restored"]) == (12, 12)
    assert "rollback forced" in client.get(run_url, headers=admin).json()["apply_note"]
    missing = client.get("/v1/admin/exposure/calibrate_sh/runs/not-a-run", headers=admin)
    assert missing.status_code == 404
    outsider = token(client, "outsider", "other")
    hidden = client.get(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}", headers=outsider)
    assert hidden.status_code == 404


def test_selector_flag_and_cohort(client):
    admin = token(client, "admin")
    flag = {"key": "selector_strategy", "enabled": True, "value": "sympson_hetter"}
    assert client.post("/v1/admin/flags", headers=admin, json=flag).status_code == 200
    cohort = {"user_id": "student", "cohort_key": "selector_strategy", "cohort_value": "dice"}
    bad = client.post("/v1/admin/cohorts", headers=admin, json=cohort)
    assert bad.status_code == 400


def test_openapi_schema_is_served(client):
    schema = client.get("/schema/openapi.json").json()
    assert "/v1/quizzes/{quiz_id}/next" in schema["paths"]


def test_get_one_and_bulk_import(client):
    author = token(client, "author")
    records = [question_body(i, external_ref=f"BULK-{i}", a=1.2, b=0.1, c=0.2) for i in range(3)]
    imported = client.post("/v1/author/questions/import", headers=author, json=records)
    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] == 3
    again = client.post("/v1/author/questions/import", headers=author, json=records)
    assert again.status_code == 409
    bad = client.post("/v1/author/questions/import", headers=author,
                      json=[question_body(9, difficulty_label="extreme")])  # fmt: skip
    assert bad.status_code == 400
    assert "question 1" in bad.json()["detail"]
    question_id = imported.json()["question_ids"][0]
    detail = client.get(f"/v1/author/questions/{question_id}", headers=author).json()
    assert detail["versions"][0]["options"][0]["is_correct"] is True
    assert detail["versions"][0]["calibration"]["a"] == pytest.approx(1.2)
    assert detail["live"] == [{"exam_code": "EX", "version": 1}]
    student = token(client, "student")
    assert client.get(f"/v1/author/questions/{question_id}", headers=student).status_code == 403
    outsider = token(client, "outsider", "other")
    # an admin of another tenant does not see it at all
    assert client.get(f"/v1/author/questions/{question_id}", headers=outsider).status_code == 404


def test_publish_defaults_to_the_callers_roles(client):
    writer, publisher = token(client, "writer"), token(client, "author")  # author+publisher
    draft = client.post("/v1/author/questions", headers=writer, json=question_body(1))
    assert draft.status_code == 201, draft.text  # an author's plain create is a draft
    qid = draft.json()["question_id"]
    detail = client.get(f"/v1/author/questions/{qid}", headers=writer).json()
    assert [v["state"] for v in detail["versions"]] == ["draft"]
    denied = client.post("/v1/author/questions", headers=writer,
                         json=question_body(2, publish=True))  # fmt: skip
    assert denied.status_code == 403
    assert "publisher role" in denied.json()["detail"]
    again = client.post(f"/v1/author/questions/{qid}/versions", headers=writer,
                        json=question_body(1, publish=True))  # fmt: skip
    assert again.status_code == 403
    version = client.post(f"/v1/author/questions/{qid}/versions", headers=writer,
                          json=question_body(1))  # fmt: skip
    assert version.status_code == 201
    live = client.post("/v1/author/questions", headers=publisher, json=question_body(3))
    detail = client.get(f"/v1/author/questions/{live.json()['question_id']}",
                        headers=publisher).json()  # fmt: skip
    assert [v["state"] for v in detail["versions"]] == ["published"]
    bulk = client.post("/v1/author/questions/import", headers=writer,
                       json=[question_body(4), question_body(5, publish=True)])  # fmt: skip
    assert bulk.status_code == 403
    drafts = client.post("/v1/author/questions/import", headers=writer, json=[question_body(4)])
    assert drafts.status_code == 201, drafts.text
    shown = client.get("/v1/author/questions", headers=writer, params={"q": "Q-4"}).json()
    assert [item["state"] for item in shown["items"]] == ["draft"]


def test_exam_mode_summary_hides_correctness_until_finished(client):
    publish_exam(client, n=3)
    student = token(client, "student")
    quiz_id = client.post("/v1/quizzes", headers=student, json={
        "filters": {"num_questions": 2, "mode": "exam", "exam_code": "EX"},
        "adaptive": False}).json()["quiz_id"]  # fmt: skip
    item = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
    client.post(f"/v1/quizzes/{quiz_id}/answers", headers=student,
                json={"question_id": item["question_id"], "selected": "B"})  # fmt: skip
    active = client.get(f"/v1/quizzes/{quiz_id}", headers=student).json()
    assert active["score"] is None
    assert active["theta"] is None
    assert all(set(stats) == {"total"} for stats in active["per_topic"].values())
    finished = client.post(f"/v1/quizzes/{quiz_id}/finish", headers=student).json()
    assert finished["score"] == 0


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("post", "/v1/admin/flags", b'{"key": "k", "enabled": true, "value": "\xff"}'),
        (
            "post",
            "/v1/admin/flags",
            b'{"key": "k", "enabled": true, "value": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        ),
        ("post", "/v1/author/questions/import", b'[{"tags": 5}]'),
        ("post", "/v1/author/questions/import", b'[{"a": 1' + b"0" * 400 + b"}]"),
    ],
)
def test_hostile_bodies_are_400(client, method, path, content):
    headers = {**token(client, "admin"), "Content-Type": "application/json"}
    response = getattr(client, method)(path, headers=headers, content=content)
    assert response.status_code == 400, response.text


def test_far_future_end_date_is_no_error(client):
    admin = token(client, "admin")
    response = client.get("/v1/admin/exposure/calibrate_sh/runs?end=9999-12-31", headers=admin)
    assert response.status_code == 200


def test_a_student_at_the_active_quiz_limit_gets_429(app_settings):
    import dataclasses

    from litestar.testing import TestClient

    from api.app import create_app
    from qbank.services.access.auth import create_user
    from tests.api.conftest import PASSWORD

    app = create_app(dataclasses.replace(app_settings, max_active_quizzes=2))
    for name, roles in (("author", ("author", "publisher")), ("student", ("student",))):
        create_user(app.state.runtime.sessions, "acme", name, PASSWORD, roles)
    with TestClient(app) as limited:
        publish_exam(limited, n=2)
        student = token(limited, "student")
        body = {"filters": {"num_questions": 1, "exam_code": "EX"}}
        for _ in range(2):
            assert limited.post("/v1/quizzes", headers=student, json=body).status_code == 201
        refused = limited.post("/v1/quizzes", headers=student, json=body)
    assert refused.status_code == 429
    assert refused.json()["error"] == "RateLimitedError"
    assert refused.headers["retry-after"] == "60"


def test_calibration_with_the_published_rule_until_converged(client, app_settings):
    publish_exam(client, n=12)
    admin = token(client, "admin")
    bad = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin,
                      json={"exam_code": "EX", "update_rule": "additive"})  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()
    body = {"exam_code": "EX", "conditional": True, "strata": [1, 0]}
    unsorted = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin, json=body)
    assert unsorted.status_code == 400
    assert "strata" in unsorted.json()["detail"]
    started = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin, json={
        "exam_code": "EX", "n": 100, "test_len": 4, "iters": 8, "tau": 1.0, "dry_run": True,
        "update_rule": "sympson-hetter", "until_converged": True, "tol": 0.0})  # fmt: skip
    assert started.status_code == 201, started.text
    detail = finished_run(client, admin, app_settings, started.json()["run_id"])
    assert detail["status"] == "done", detail
    assert detail["params"]["update_rule"] == "sympson-hetter"
    assert detail["params"]["until_converged"] is True
    assert len(detail["history"]) == 3  # tau 1 is met at once: 3 iterations in a row of 8
    assert detail["result"]["stop_reason"].startswith("converged")


def test_delivery_follows_the_1985_rule_an_applied_run_used(client, app_settings):
    """End to end: an S–H run under the 1985 rule writes k marked with its rule; with the S–H
    selector, every item a quiz's lottery rejected is set aside, and never served in it."""
    import uuid

    from sqlalchemy import select

    from qbank.store.models import QuizItem

    publish_exam(client, n=12)
    admin = token(client, "admin")
    started = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin, json={
        "exam_code": "EX", "n": 200, "test_len": 6, "iters": 2, "tau": 0.2,
        "update_rule": "sympson-hetter"})  # fmt: skip
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    run = finished_run(client, admin, app_settings, run_id)
    assert run["status"] == "done", run
    flag = {"key": "selector_strategy", "enabled": True, "value": "sympson_hetter"}
    assert client.post("/v1/admin/flags", headers=admin, json=flag).status_code == 200
    student = token(client, "student")
    quiz = client.post("/v1/quizzes", headers=student, json={
        "filters": {"num_questions": 6, "exam_code": "EX"}, "adaptive": True})  # fmt: skip
    quiz_id = quiz.json()["quiz_id"]
    for _ in range(6):
        item = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
        answered = client.post(
            f"/v1/quizzes/{quiz_id}/answers",
            headers=student,
            json={"question_id": item["question_id"], "selected": "A"},
        )
        assert answered.status_code == 200, answered.text
    with client.app.state.runtime.sessions() as session:
        rows = session.scalars(select(QuizItem).where(QuizItem.quiz_id == uuid.UUID(quiz_id))
                               .order_by(QuizItem.position)).all()  # fmt: skip
    assert [row.selector for row in rows] == ["sympson_hetter"] * 6
    out, given = set(), set()
    for row in rows:
        assert row.set_aside is not None
        if (row.question_id, row.version) in out:
            # Only when the set-aside items left no other candidate are they released.
            assert len(out | given) == 12, (out, given)
        given.add((row.question_id, row.version))
        out |= {tuple(pair) for pair in row.set_aside}
    assert out


def test_delivery_follows_the_conditional_k_an_applied_run_wrote(client, app_settings):
    """End to end: a conditional run on an exam stores one k per θ stratum; with the S–H
    selector, each item's lottery draws with the k of the stratum holding the student's θ̂,
    and the record names that stratum."""
    import uuid

    from sqlalchemy import select

    from qbank.store.models import ItemExposureControl, QuizItem

    publish_exam(client, n=12)
    admin = token(client, "admin")
    started = client.post("/v1/admin/exposure/calibrate_sh/start", headers=admin, json={
        "exam_code": "EX", "n": 300, "test_len": 6, "iters": 2, "tau": 0.3,
        "update_rule": "sympson-hetter", "conditional": True, "strata": [-0.5, 0.5]})  # fmt: skip
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    run = finished_run(client, admin, app_settings, run_id)
    assert run["status"] == "done", run
    assert run["params"]["conditional"] is True
    assert run["result"]["strata"] == [-0.5, 0.5]
    assert len(run["result"]["metrics"]["conditional_max_exp"]) == 3
    csv_text = client.get(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}/diff.csv",
                          headers=admin).text  # fmt: skip
    assert csv_text.splitlines()[0].startswith("qid,ver,stratum,theta_from,theta_to")
    with client.app.state.runtime.sessions() as session:
        k_by_item = {row.question_id: row.sh_p_by_stratum
                     for row in session.scalars(select(ItemExposureControl))}  # fmt: skip
    assert len(k_by_item) == 12
    assert all(len(k) == 3 for k in k_by_item.values())
    flag = {"key": "selector_strategy", "enabled": True, "value": "sympson_hetter"}
    assert client.post("/v1/admin/flags", headers=admin, json=flag).status_code == 200
    student = token(client, "student")
    quiz = client.post("/v1/quizzes", headers=student, json={
        "filters": {"num_questions": 6, "exam_code": "EX"}, "adaptive": True})  # fmt: skip
    quiz_id = quiz.json()["quiz_id"]
    for _ in range(6):
        item = client.get(f"/v1/quizzes/{quiz_id}/next", headers=student).json()
        answer = {"question_id": item["question_id"], "selected": "A"}
        answered = client.post(f"/v1/quizzes/{quiz_id}/answers", headers=student, json=answer)
        assert answered.status_code == 200, answered.text
    with client.app.state.runtime.sessions() as session:
        rows = session.scalars(select(QuizItem).where(QuizItem.quiz_id == uuid.UUID(quiz_id))
                               .order_by(QuizItem.position)).all()  # fmt: skip
    assert len(rows) == 6
    for row in rows:
        stratum = sum(row.theta_at_selection >= cut for cut in (-0.5, 0.5))
        assert row.stratum == stratum
        assert row.k == pytest.approx(k_by_item[row.question_id][stratum], abs=1e-6)
    measured = client.get("/v1/admin/exposure/conditional", headers=admin,
                          params={"exam_code": "EX"}).json()  # fmt: skip
    assert measured["strata"] == [-0.5, 0.5]
    assert measured["strata_source"] == "exam"
    assert measured["quizzes"] == 1  # the quiz finished after its 6 answers
    final = [s for s in measured["by_stratum"] if s["quizzes"] == 1]
    assert len(final) == 1
    assert final[0]["max_exp"] == 1.0  # one quiz: every item it gave has rate 1
    given = sorted(row.question_id for row in rows)
    assert sorted(item["question_id"] for item in final[0]["items"]) == given
    assert measured["by_stratum"][0]["theta_from"] is None  # open ends are null in JSON
    for params in ({"exam_code": "EX", "strata": "1,x"}, {"exam_code": "EX", "strata": "1,0"},
                   {"exam_code": "EX", "days": 0}, {}):  # fmt: skip
        refused = client.get("/v1/admin/exposure/conditional", headers=admin, params=params)
        assert refused.status_code == 400, (params, refused.text)
        assert refused.json()["detail"]
    assert client.get("/v1/admin/exposure/conditional", headers=student,
                      params={"exam_code": "EX"}).status_code == 403  # fmt: skip
    rolled = client.post(f"/v1/admin/exposure/calibrate_sh/runs/{run_id}/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text
    with client.app.state.runtime.sessions() as session:
        assert {row.strata for row in session.scalars(select(ItemExposureControl))} == {None}
