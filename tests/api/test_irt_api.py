"""POST /v1/admin/calibrate_irt/start: an irt run followed through the runs routes."""

import time
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import insert, select

from qbank.store.models import ItemCalibration, UserResponse
from tests.api.conftest import token
from tests.services.conftest import build_exam

START = "/v1/admin/calibrate_irt/start"
RUNS = "/v1/admin/exposure/calibrate_sh/runs"


def seed_responses(sessions, n_items=10, n_persons=300):
    items = build_exam(sessions, n_items=n_items, tenant_id="acme", exam_code="EX")
    rng = np.random.default_rng(8)
    theta = rng.normal(size=(n_persons, 1))
    correct = rng.random((n_persons, n_items)) < 1 / (
        1 + np.exp(-1.7 * (theta - np.linspace(-1, 1, n_items)))
    )
    rows = [{"user_id": f"u{p}", "tenant_id": "acme", "question_id": items[i].question_id,
             "version": 1, "option_label": "A", "is_correct": bool(correct[p, i]),
             "created_at": datetime(2026, 11, 1, tzinfo=UTC)}
            for p in range(n_persons) for i in range(n_items)]  # fmt: skip
    with sessions.begin() as session:
        session.execute(insert(UserResponse), rows)
    return items


def wait_for(client, headers, run_id, app_settings):
    if app_settings.redis_url:  # a worker serves the RQ queue
        from qbank.jobs.queue import RqJobQueue

        RqJobQueue(app_settings.redis_url, app_settings.rq_queue).worker().work(burst=True)
    detail = {}
    for _ in range(600):
        detail = client.get(f"{RUNS}/{run_id}", headers=headers).json()
        if detail["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    return detail


def test_admin_starts_an_irt_run_that_writes_estimates(client, app_settings):
    sessions = client.app.state.runtime.sessions
    items = seed_responses(sessions)
    admin = token(client, "admin")
    started = client.post(START, headers=admin, json={"exam_code": "EX", "model": "2pl",
                                                      "min_respondents": 100})  # fmt: skip
    assert started.status_code == 201, started.text
    run = wait_for(client, admin, started.json()["run_id"], app_settings)
    assert run["status"] == "done", run
    assert (run["kind"], run["current_iter"]) == ("irt", run["result"]["cycles"])
    assert run["result"]["updated"] == 10
    assert run["applied_at"] is not None
    qids = [item.question_id for item in items]
    with sessions() as session:
        rows = session.scalars(
            select(ItemCalibration).where(ItemCalibration.question_id.in_(qids))
        ).all()
    assert {row.model for row in rows} == {"2pl"}
    assert all(row.se_b is not None and row.n_respondents == 300 for row in rows)
    rolled = client.post(f"{RUNS}/{run['id']}/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text
    diff = client.get(f"{RUNS}/{run['id']}/diff.csv", headers=admin)
    assert diff.status_code == 409


def test_bad_irt_starts_are_4xx_and_change_nothing(client):
    seed_responses(client.app.state.runtime.sessions, n_items=4, n_persons=30)
    admin = token(client, "admin")
    cases = [
        ({"exam_code": "EX", "model": "4pl"}, 400),
        ({"exam_code": "EX", "min_respondents": 0}, 400),
        ({"exam_code": "EX", "tol": 1.5}, 400),
        ({"exam_code": "NOPE"}, 404),
        ({"exam_code": "EX", "min_respondents": 100}, 409),  # 30 respondents per item
    ]
    for body, status in cases:
        response = client.post(START, headers=admin, json=body)
        assert response.status_code == status, (body, response.text)
        assert "detail" in response.json()
    assert client.post(START, headers=token(client, "student"), json={}).status_code == 403
    listed = client.get(f"{RUNS}?exam_code=EX", headers=admin)
    assert listed.headers["X-Total-Count"] == "0"
