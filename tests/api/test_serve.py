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
    port = free_port()
    env = {**os.environ, "QBANK_DATA_DIR": str(tmp_path), "QBANK_ENV": "dev"}
    for name in ("QBANK_DATABASE_URL", "QBANK_REDIS_URL"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "qbank.cli", "demo", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        lines = []
        while not any("demo-student" in line for line in lines):
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
        assert any(base in line for line in lines)
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
