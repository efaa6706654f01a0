"""`qbank demo` and `qbank serve` as a user runs them: a real uvicorn server on a free port."""

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base, process, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("server did not become healthy")


def test_demo_serves_the_seeded_system_with_printed_logins(tmp_path):
    port, dashboard_port = free_port(), free_port()
    env = {**os.environ, "QBANK_DATA_DIR": str(tmp_path)}
    for name in ("QBANK_DATABASE_URL", "QBANK_REDIS_URL", "QBANK_ENV", "QBANK_SECRET"):
        env.pop(name, None)  # qbank demo alone runs in dev mode
    demo = [sys.executable, "-m", "qbank.cli", "demo", "--port", str(port),
            "--dashboard-port", str(dashboard_port)]  # fmt: skip
    process = subprocess.Popen(demo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        lines = []
        while not any("Ctrl+C" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        wait_healthy(base, process)
        password = next(line.split()[1] for line in lines if "demo-student" in line)
        login = httpx.post(f"{base}/v1/auth/login",
                           json={"username": "demo-student", "password": password})  # fmt: skip
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        filters = {"num_questions": 3, "topics": ["Cardiology"]}
        quiz = httpx.post(f"{base}/v1/quizzes", headers=headers, timeout=30,
                          json={"filters": filters})  # fmt: skip
        assert quiz.status_code == 201, quiz.text
        item = httpx.get(f"{base}/v1/quizzes/{quiz.json()['quiz_id']}/next", headers=headers,
                         timeout=30).json()  # fmt: skip
        assert len(item["payload"]["options"]) in (4, 5)
        assert any(base in line for line in lines)  # 127.0.0.1 unless --host says otherwise
        assert any("DEV MODE" in line for line in lines), lines
        mock = httpx.post(f"{base}/v1/auth/mock-login", json={"user_id": "u", "roles": ["admin"]})
        assert mock.status_code == 200  # dev: the demo's mock login exists
        key = (tmp_path / "secret").read_text().strip()  # the data directory's own random key
        assert len(key) >= 32
        import jwt

        assert jwt.decode(login.json()["access_token"], key, algorithms=["HS256"])["sub"]
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        assert any(line.split()[:2] == ["dashboard", dashboard] for line in lines), lines
        assert any("demo-admin" in line and "admin" in line.split()[-1] for line in lines)
        assert httpx.get(dashboard, timeout=30).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_user_add_reads_the_password_from_stdin(tmp_path):
    env = {**os.environ, "QBANK_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    add = [sys.executable, "-m", "qbank.cli", "user", "add", "ana", "--role", "author",
           "--role", "publisher", "--password-stdin"]  # fmt: skip
    done = subprocess.run(add, input="long enough secret\n", env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "author, publisher" in done.stdout
    again = subprocess.run(add, input="long enough secret\n", env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert again.returncode == 2
    assert "already exists" in again.stderr
    short_add = [sys.executable, "-m", "qbank.cli", "user", "add", "bo", "--role", "student",
                 "--password-stdin"]  # fmt: skip
    short = subprocess.run(short_add, input="short\n", env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert short.returncode == 2
    assert "at least 8" in short.stderr


def test_demo_refuses_production(tmp_path):
    env = {**os.environ, "QBANK_DATA_DIR": str(tmp_path), "QBANK_ENV": "prod",
           "QBANK_SECRET": "s" * 40}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "qbank.cli", "demo"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "QBANK_ENV=dev" in done.stderr


def test_two_api_processes_and_a_worker_share_postgres_and_redis(tmp_path):
    """The scaled-out runtime: `qbank serve --workers 2` and `qbank worker` on one PostgreSQL and
    one Redis; an author publishes, a student takes a quiz, an admin runs a calibration."""
    import uuid

    from qbank.services.access.auth import create_user
    from qbank.store.db import init_schema, make_engine, make_session_factory
    from tests.backends import postgres_schema, redis_url_or_skip

    redis_url = redis_url_or_skip()
    with postgres_schema() as database_url:
        engine = make_engine(database_url)
        init_schema(engine)
        sessions = make_session_factory(engine)
        for name, roles in (
            ("ann", ("author", "publisher")),
            ("stu", ("student",)),
            ("adm", ("admin",)),
        ):
            create_user(sessions, "acme", name, "long password 1", roles)
        engine.dispose()
        prefix = f"qbank-test-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "QBANK_DATABASE_URL": database_url,
            "QBANK_REDIS_URL": redis_url,
            "QBANK_TENANT_ID": "acme",
            "QBANK_ENV": "prod",
            "QBANK_SECRET": "k" * 40,
            "QBANK_STATE_PREFIX": prefix,
            "QBANK_RQ_QUEUE": prefix,
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "qbank.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "qbank.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(base, server)
            assert httpx.get(f"{base}/health").json()["redis"] == "ok"

            def login(name):
                response = httpx.post(
                    f"{base}/v1/auth/login", json={"username": name, "password": "long password 1"}
                )
                return {"Authorization": f"Bearer {response.json()['access_token']}"}

            author, student, admin = login("ann"), login("stu"), login("adm")
            for i in range(8):
                body = {
                    "topic_name": "Cardiology",
                    "stem_md": f"Stem {i}",
                    "lead_in": "Q?",
                    "rationale_md": "R",
                    "difficulty_label": "medium",
                    "exam_code": "EX",
                    "options": [
                        {"label": "A", "text_md": "yes", "is_correct": True},
                        {"label": "B", "text_md": "no"},
                    ],
                }
                assert (
                    httpx.post(f"{base}/v1/author/questions", json=body, headers=author).status_code
                    == 201
                )
            quiz = httpx.post(
                f"{base}/v1/quizzes",
                headers=student,
                timeout=30,
                json={"filters": {"num_questions": 3, "exam_code": "EX"}},
            ).json()
            for _ in range(3):  # requests land on either API process; state is shared
                item = httpx.get(
                    f"{base}/v1/quizzes/{quiz['quiz_id']}/next", headers=student, timeout=30
                ).json()
                answer = httpx.post(
                    f"{base}/v1/quizzes/{quiz['quiz_id']}/answers",
                    headers=student,
                    timeout=30,
                    json={"question_id": item["question_id"], "selected": "A"},
                )
                assert answer.json()["correct"] is True
            started = httpx.post(
                f"{base}/v1/admin/exposure/calibrate_sh/start",
                headers=admin,
                json={"exam_code": "EX", "n": 100, "test_len": 3, "iters": 2},
                timeout=30,
            ).json()
            status = {}
            for _ in range(600):
                status = httpx.get(
                    f"{base}/v1/admin/exposure/calibrate_sh/status",
                    params={"job_id": started["job_id"]},
                    headers=admin,
                ).json()
                if status["state"] in ("done", "failed"):
                    break
                time.sleep(0.2)
            assert status["state"] == "done", status
            assert len(status["result"]["diff"]) == 8
        finally:
            for process in (server, worker):
                process.terminate()
                process.wait(timeout=30)
            import redis

            from tests.backends import purge_rq_queue

            purge_rq_queue(redis_url, prefix)  # the queue's jobs, results and registries
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"*{prefix}*"):
                client.delete(key)
