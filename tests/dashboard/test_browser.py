"""The dashboard in a real browser: Debian's Chromium (never a downloaded one) driven by
Playwright against `qbank dashboard` served on 127.0.0.1 with a seeded database.

Chromium is installed with apt when it is missing and we are root; otherwise these tests skip
and say why, except under CI=true, where they fail. A failing test leaves a screenshot under
/tmp/qbank-artifacts (the path is printed).
"""

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qbank.services.access.auth import create_user
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.store.db import init_schema, make_engine, make_session_factory
from tests.services.conftest import build_exam

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path("/tmp/qbank-artifacts")
PASSWORD = "long enough secret"
N_ITEMS = 30
TIMEOUT_MS = 30_000


def _unavailable(message):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the browser tests")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            subprocess.run(command, env=env, check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT, timeout=900)  # fmt: skip
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium, as root)")
    return str(CHROMIUM)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`qbank dashboard` on a fresh SQLite database with an exam, an admin and a student."""
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'qbank.db'}"
    engine = make_engine(url)
    init_schema(engine)
    sessions = make_session_factory(engine)
    build_exam(sessions, n_items=N_ITEMS, tenant_id="default", exam_code="EX")
    create_user(sessions, "default", "ada", PASSWORD, ("admin",))
    create_user(sessions, "default", "stu", PASSWORD, ("student",))
    port = _free_port()
    env = {
        **os.environ,
        "QBANK_DATABASE_URL": url,
        "QBANK_ENV": "dev",
        "QBANK_TENANT_ID": "default",
    }
    env.pop("QBANK_REDIS_URL", None)
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "qbank.cli", "dashboard", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()
            try:
                if httpx.get(base, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        yield base, sessions
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        engine.dispose()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, served, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(served[0])
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failure: {path}")
    context.close()


def log_in(page, username, password=PASSWORD):
    page.get_by_placeholder("e.g. demo-admin").fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_wrong_login_is_refused(page):
    log_in(page, "ada", "not the password")
    page.get_by_text("Login refused: wrong username or password").wait_for()
    log_in(page, "stu")
    page.get_by_text("stu is not an admin").wait_for()
    assert page.get_by_text("signed in as").count() == 0


def test_an_admin_edits_sh_p_and_it_is_saved(page, served):
    log_in(page, "ada")
    page.get_by_text("signed in as").wait_for()
    cell = page.locator('.tabulator-row:first-child .tabulator-cell[tabulator-field="sh_p"]')
    qid = int(page.locator(
        '.tabulator-row:first-child .tabulator-cell[tabulator-field="question_id"]'
    ).inner_text())  # fmt: skip
    cell.click()
    editor = cell.locator("input")
    editor.fill("0.42")
    editor.press("Enter")
    page.get_by_text(f"Saved: sh_p of question {qid} v1 is now 0.42.").wait_for()
    pool = load_exam_pool(served[1], "default", "EX")
    assert float(pool.k[pool.qids.index(str(qid))]) == pytest.approx(0.42)


def test_a_calibration_runs_to_done_and_its_diff_downloads(page):
    log_in(page, "ada")
    page.locator(".bk-tab", has_text="Calibrate").click()
    for label, value in (("n simulees", "80"), ("test length", "4"), ("iterations", "3")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
    page.get_by_role("button", name="Start").click()
    page.get_by_text("is done.").wait_for(timeout=120_000)
    page.get_by_text("iteration 3 of 3").wait_for()
    page.locator(".bk-tab", has_text="Runs").click()
    first = page.locator('.tabulator-row:first-child .tabulator-cell[tabulator-field="status"]')
    first.get_by_text("done").wait_for()
    first.click()
    page.get_by_text("values not applied").wait_for()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    path = download_info.value.path()
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["qid", "ver", "sh_p_before", "sh_p_after", "delta"]
    assert len(rows) == N_ITEMS + 1


def test_a_session_id_the_client_chose_is_refused(served):
    """Session fixation: an id planted in a link must not become an admin's session."""
    import urllib.error
    import urllib.request

    base, _sessions = served
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/?bokeh-session-id=attacker-chosen-id-0001", timeout=30)
    assert refused.value.code == 403
    with urllib.request.urlopen(f"{base}/", timeout=30) as page:  # a fresh visit still works
        assert page.status == 200
