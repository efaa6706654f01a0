"""Racing writes against `qbank serve --workers 2` on PostgreSQL + Redis: never a 5xx.

SQLite takes its write lock when a transaction begins, so these races are real only on
PostgreSQL; the embedded runtime runs the same service code in tests/services.
"""

import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import question_body
from tests.api.live import live_deployment


@pytest.fixture(scope="module")
def live():
    with live_deployment() as deployment:
        yield deployment


def _statuses(responses):
    return sorted(response.status_code for response in responses)


def test_parallel_new_versions_of_one_question_are_numbered_without_a_clash(live):
    created = live.post("/v1/author/questions", "ann", json=question_body(1, external_ref="V-1"))
    qid = created.json()["question_id"]
    calls = [lambda i=i: live.post(f"/v1/author/questions/{qid}/versions", "ann",
                                   json=question_body(100 + i, external_ref=None, publish=False))
             for i in range(20)]  # fmt: skip
    responses = live.race(calls)
    assert _statuses(responses) == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 22))


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/admin/flags", lambda i: {"key": "race-flag", "enabled": i % 2 == 0, "value": i}),
    ("/v1/admin/cohorts", lambda i: {"user_id": "stu", "cohort_key": "race-cohort",
                                     "cohort_value": f"v{i}"}),
])  # fmt: skip
def test_parallel_upserts_of_one_new_key_all_succeed(live, path, body):
    responses = live.race([lambda i=i: live.post(path, "adm", json=body(i)) for i in range(20)])
    assert all(r.status_code < 300 for r in responses), [r.text for r in responses]


def test_parallel_creates_naming_one_new_topic_never_conflict(live):
    calls = [lambda i=i: live.post("/v1/author/questions", "ann",
                                   json=question_body(200 + i, topic="Brand new topic",
                                                      external_ref=f"T-{i}"))
             for i in range(20)]  # fmt: skip
    responses = live.race(calls)
    assert _statuses(responses) == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["topic_id"] for r in responses}) == 1


def test_publish_racing_retire_and_delete_leaves_no_dangling_publication(live):
    qids = []
    for i in range(30):
        qid = live.post(
            "/v1/author/questions", "ann", json=question_body(300 + i, external_ref=f"P-{i}")
        ).json()["question_id"]
        live.post(f"/v1/author/questions/{qid}/versions", "ann",
                  json=question_body(300 + i, external_ref=None, publish=False))  # fmt: skip
        qids.append(qid)
    calls = []
    for qid in qids:
        calls += [
            lambda q=qid: live.post(f"/v1/author/questions/{q}/versions/2/publish", "ann",
                                    json={"exam_code": "EX2"}),
            lambda q=qid: live.post(f"/v1/author/questions/{q}/versions/2/retire", "ann"),
            lambda q=qid: live.post(f"/v1/author/questions/{q}/versions/1/retire", "ann")
            if q % 2 else httpx_delete(live, q),
        ]  # fmt: skip
    responses = live.race(calls)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses
                                                         if r.status_code >= 500]  # fmt: skip
    assert all(r.headers["content-type"].startswith("application/json") for r in responses)
    engine = create_engine(live.database_url)
    with engine.connect() as connection:
        dangling = connection.execute(text(
            "SELECT p.question_id, p.live_version, q.is_deleted, v.state "
            "FROM question_publications p JOIN questions q ON q.id = p.question_id "
            "JOIN question_versions v ON v.question_id = p.question_id "
            "AND v.version = p.live_version WHERE q.is_deleted OR v.state = 'retired'"
        )).all()  # fmt: skip
    engine.dispose()
    assert dangling == []


def httpx_delete(live, qid):
    import httpx

    return httpx.delete(f"{live.base}/v1/author/questions/{qid}", headers=live.headers["ann"],
                        timeout=60)  # fmt: skip


def test_racing_quizzes_on_two_api_processes_never_pass_the_exposure_cap():
    cap = 3
    with live_deployment({"QBANK_MAX_DAILY_EXPOSURES": str(cap)}) as deployment:
        for i in range(2):
            body = question_body(900 + i, external_ref=f"CAP-{i}", exam_code="CAP")
            assert deployment.post("/v1/author/questions", "ann", json=body).status_code == 201
        quiz_body = {"filters": {"num_questions": 1, "exam_code": "CAP"}, "adaptive": True}
        owners = ["stu", "stu2"] * 6
        quizzes = deployment.race([lambda who=who: deployment.post("/v1/quizzes", who,
                                                                   json=quiz_body)
                                   for who in owners])  # fmt: skip
        assert _statuses(quizzes) == [201] * 12

        def serve(who, quiz_id):
            import httpx

            return httpx.get(f"{deployment.base}/v1/quizzes/{quiz_id}/next",
                             headers=deployment.headers[who], timeout=60)  # fmt: skip

        quiz_ids = [quiz.json()["quiz_id"] for quiz in quizzes]
        served = deployment.race([lambda w=w, q=q: serve(w, q)
                                  for w, q in zip(owners, quiz_ids, strict=True)])  # fmt: skip
        assert _statuses(served) == [200] * (2 * cap) + [404] * (12 - 2 * cap)
        engine = create_engine(deployment.database_url)
        with engine.connect() as connection:
            counts = connection.execute(text(
                "SELECT question_id, count(*) FROM quiz_items GROUP BY question_id"
            )).all()  # fmt: skip
        engine.dispose()
        assert sorted(count for _, count in counts) == [cap, cap]
