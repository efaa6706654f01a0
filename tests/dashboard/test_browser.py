"""The dashboard in a real browser: Debian's Chromium (never a downloaded one) driven by
Playwright against `qbank dashboard` served on 127.0.0.1 with a seeded database.

Chromium is installed with apt when it is missing and we are root; otherwise these tests skip
and say why, except under CI=true, where they fail. Every test saves a screenshot under
/tmp/qbank-artifacts (a failing one too, and the path is printed); with
QBANK_DOCS_SCREENSHOTS=1 the page screenshots also go to docs/dashboard/ for the README. No
console error and no request to any host but the dashboard's are allowed: Panel, Bokeh and
their fonts are served by the app.
"""

import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qbank.cat import CalibrationParams
from qbank.services.access.auth import create_user
from qbank.services.calibration.run_views import get_run, list_runs
from qbank.services.calibration.runs import cancel_run, create_run_record, execute_run
from qbank.services.calibration.sh import create_run
from qbank.services.calibration.sweep import SweepParams
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.services.delivery.quizzes import QuizFilters, create_quiz, next_item
from qbank.state import InMemoryStateStore
from qbank.store.db import init_schema, make_engine, make_session_factory
from tests.services.conftest import build_exam

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path("/tmp/qbank-artifacts")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard"
SIZES = {"1440": {"width": 1440, "height": 900}, "1024": {"width": 1024, "height": 768}}
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
        yield base, sessions, url
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


@pytest.fixture(params=["1440"])
def size(request):
    """The window size (1440×900 unless a test asks for both)."""
    return request.param


@pytest.fixture
def page(browser, served, request, size):
    context = browser.new_context(viewport=SIZES[size], accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems = []
    page.on("console", lambda message: problems.append(f"console {message.type}: "
                                                       f"{message.text}")
            if message.type == "error" else None)  # fmt: skip
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    local = re.compile(r"^(https?|wss?)://127\.0\.0\.1:\d+/|^(data|blob):")
    page.on("request", lambda req: None if local.match(req.url) else problems.append(
        f"request to another host: {req.url}"))  # fmt: skip
    page.goto(served[0])
    yield page
    report = getattr(request.node, "report_call", None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{request.node.name}.png"
    page.screenshot(path=str(path), full_page=True)
    if report is not None and report.failed:
        print(f"screenshot of the failure: {path}")
    context.close()
    assert problems == [], "\n".join(problems)


# The page's full height: Panel's template scrolls inside its own containers, not the document,
# so a full-page screenshot would stop at the window's bottom.
CONTENT_HEIGHT_JS = """() => {
    let bottom = document.documentElement.scrollHeight;
    for (const el of document.querySelectorAll("body *")) {
        const overflow = getComputedStyle(el).overflowY;
        if ((overflow === "auto" || overflow === "scroll") && el.scrollHeight > el.clientHeight) {
            const top = el.getBoundingClientRect().top + window.scrollY;
            bottom = Math.max(bottom, top + el.scrollHeight);
        }
    }
    return Math.ceil(bottom);
}"""


def snapshot(page, name, size):
    """The whole page as a test artifact, and for the README with QBANK_DOCS_SCREENSHOTS=1.

    The window grows to the content's height for the shot (so nothing below the first screen
    is cut), then returns to its size.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(600)  # let Bokeh finish drawing
    window = page.viewport_size
    height = page.evaluate(CONTENT_HEIGHT_JS)
    if height > window["height"]:
        page.set_viewport_size({"width": window["width"], "height": height})
        page.wait_for_timeout(800)  # Bokeh lays out again for the new window
    paths = [ARTIFACTS / f"{name}-{size}.png"]
    if os.environ.get("QBANK_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        paths.append(DOCS / f"{name}-{size}.png")
    for path in paths:
        page.screenshot(path=str(path))
    page.set_viewport_size(window)
    page.wait_for_timeout(300)


# The width of every Bokeh plot's drawing area, by title (a chart whose plot collapsed draws
# nothing in a full-width canvas: its canvas box alone does not show it).
PLOT_WIDTHS_JS = """() => {
    const found = [];
    const visit = (view) => {
        if (view.frame && view.frame.bbox) {
            found.push([view.model.title ? view.model.title.text : "", view.frame.bbox.width]);
        }
        for (const child of view.child_views || []) visit(child);
    };
    const index = Bokeh.index;
    for (const view of typeof index.values === "function" ? index.values() : Object.values(index))
        visit(view);
    return found;
}"""


def wait_for_drawn_plots(page, count, min_width=250, timeout_s=30):
    """Block until ``count`` plots are drawn, each at least ``min_width`` px wide."""
    deadline = time.monotonic() + timeout_s
    while True:
        widths = page.evaluate(PLOT_WIDTHS_JS)
        if len(widths) >= count and all(width >= min_width for _, width in widths):
            return widths
        assert time.monotonic() < deadline, f"plots not drawn at width: {widths}"
        page.wait_for_timeout(300)


def tab(page, name):
    page.locator(".bk-tab", has_text=name).click()


def log_in(page, username, password=PASSWORD, timeout=TIMEOUT_MS):
    page.get_by_placeholder("e.g. demo-admin").fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Log in").click()
    if username == "ada" and password == PASSWORD:
        page.get_by_text("signed in as").wait_for(timeout=timeout)


def get_run_id(sessions, prefix):
    found, _ = list_runs(sessions, "default", page_size=50)
    return next(run.id for run in found if run.id.startswith(prefix))


def applied_run(sessions, seed):
    """An S–H run of EX computed and applied here, as a finished job leaves it."""
    params = CalibrationParams(n=60, test_len=4, iters=2, seed=seed)
    run_id = create_run(sessions, "default", "EX", params, dry_run=False)
    assert execute_run(sessions, run_id) == "done"
    return run_id


def test_a_wrong_login_is_refused(page):
    log_in(page, "ada", "not the password")
    page.get_by_text("Login refused: wrong username or password").wait_for()
    log_in(page, "stu")
    page.get_by_text("stu is not an admin").wait_for()
    assert page.get_by_text("signed in as").count() == 0


def test_enter_in_the_password_field_logs_in(page, size):
    snapshot(page, "login", size)
    page.get_by_placeholder("e.g. demo-admin").fill("ada")
    password = page.locator("input[type=password]")
    password.fill(PASSWORD)
    password.press("Enter")
    header = page.locator(".qbank-header")
    header.get_by_text("signed in as ada").wait_for()
    box = header.bounding_box()
    assert box["height"] <= 50  # one compact line


def test_an_admin_edits_sh_p_and_it_is_saved(page, served):
    log_in(page, "ada")
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


@pytest.mark.parametrize("typed", ["", "abc", "1.5"])
def test_a_blank_or_bad_sh_p_is_refused_with_the_reason(page, served, typed, size):
    log_in(page, "ada")
    row = page.locator(".tabulator-row").nth(1)
    qid = int(row.locator('.tabulator-cell[tabulator-field="question_id"]').inner_text())
    cell = row.locator('.tabulator-cell[tabulator-field="sh_p"]')
    before = cell.inner_text()
    cell.click()
    editor = cell.locator("input")
    editor.fill(typed)
    editor.press("Enter")
    page.get_by_text(f"Not saved (question {qid} v1): sh_p").wait_for()
    assert page.get_by_text("Saved:").count() == 0
    page.locator(".tabulator-row").nth(1).locator(
        '.tabulator-cell[tabulator-field="sh_p"]', has_text=before).wait_for()  # fmt: skip
    pool = load_exam_pool(served[1], "default", "EX")
    assert float(pool.k[pool.qids.index(str(qid))]) == float(before)
    if typed == "":
        snapshot(page, "items-refused", size)


@pytest.mark.parametrize("size", ["1440", "1024"], indirect=True)
def test_the_items_table_scrolls_instead_of_clipping(page, size):
    log_in(page, "ada")
    page.locator(".tabulator-row").first.wait_for()
    for field in ("a", "b", "c"):
        text = page.locator(
            f'.tabulator-row:first-child .tabulator-cell[tabulator-field="{field}"]'
        )
        assert re.fullmatch(r"-?\d+\.\d{3}", text.inner_text()), text.inner_text()
        clipped = text.evaluate("cell => cell.scrollWidth > cell.clientWidth")
        assert not clipped, f"the {field} column is cut"
    for field in ("question_id", "version", "topic", "question", "a", "b", "c", "sh_p",
                  "attempts_7d", "exposures_today"):  # fmt: skip
        title = page.locator(f'.tabulator-col[tabulator-field="{field}"] .tabulator-col-title')
        assert title.evaluate("t => t.scrollWidth <= t.clientWidth"), f"header {field} is cut"
    table = page.locator(".qbank-items-table .tabulator-tableholder")
    if size == "1024":  # wider than the window: it scrolls sideways
        assert table.evaluate("t => t.scrollWidth > t.clientWidth")
    snapshot(page, "items", size)


def test_a_calibration_runs_to_done_and_its_diff_downloads(page):
    log_in(page, "ada")
    page.locator(".bk-tab", has_text="Calibrate").click()
    page.get_by_text("Pre-filled with settings that converge").wait_for()
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

    base = served[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/?bokeh-session-id=attacker-chosen-id-0001", timeout=30)
    assert refused.value.code == 403
    with urllib.request.urlopen(f"{base}/", timeout=30) as page:  # a fresh visit still works
        assert page.status == 200


def test_a_page_whose_session_expired_before_it_connected_loads_nothing_from_a_cdn(page, served):
    """A slow browser: Bokeh drops a session nobody connected to within 15 s (checked every
    17 s) and makes it afresh when the page's websocket names it; that document never went
    through Panel's page render. The page fixture fails on any request to another host."""
    held = []
    page.route_web_socket(re.compile(r"/ws$"), lambda ws: held.append(ws))  # not yet connected
    page.goto(served[0])
    page.wait_for_timeout(500)
    assert len(held) == 1
    time.sleep(15 + 17 + 2)  # the server drops the page's session meanwhile
    held[0].connect_to_server()
    log_in(page, "ada")
    tab(page, "Calibrate")
    page.get_by_text("Pre-filled with settings that converge").wait_for()
    page.wait_for_timeout(1000)


@pytest.fixture
def worker(served):
    """Runs one queued run as `qbank worker` would (the job entry point, in a process of its
    own), at the lowest CPU priority: the dashboard's login hash and the browser come first."""
    started = []

    def start(run_id):
        env = {**os.environ, "QBANK_DATABASE_URL": served[2], "QBANK_ENV": "dev"}
        env.pop("QBANK_REDIS_URL", None)
        code = f"from qbank.tasks import run_calibration; run_calibration({run_id!r})"
        started.append(subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", code],
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE))  # fmt: skip
        return started[-1]

    yield start
    for process in started:
        try:
            process.wait(timeout=60)  # a cancelled run stops after its current iteration
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_iteration(sessions, run_id, at_least, timeout_s=300):
    """Block until the run is running and has reported ``at_least`` iterations."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = get_run(sessions, "default", run_id)
        assert run.status in ("queued", "running"), (run.status, run.error)
        if run.status == "running" and run.current_iter >= at_least:
            return run
        assert time.monotonic() < deadline, f"run still at {run.status} {run.current_iter}"
        time.sleep(0.3)


def shown_iteration(page):
    """The iteration the Calibrate page says its run has reached."""
    text = page.get_by_text(re.compile(r"iteration \d+ of \d+")).inner_text(timeout=TIMEOUT_MS)
    return int(re.search(r"iteration (\d+) of", text).group(1))


@pytest.mark.parametrize("size", ["1440", "1024"], indirect=True)
def test_a_reload_reattaches_to_the_running_calibration_and_follows_it_to_its_end(
    page, served, size, worker
):
    sessions = served[1]
    # 500 iterations of 20 000 simulated CATs (minutes even on an idle machine; 2 000 were done
    # in 20 s): it outlives the reload and the login by far, and ends when it is cancelled
    # (below), not by a race with the clock. A dry run: nothing is written to the bank.
    params = CalibrationParams(n=20_000, test_len=10, iters=500, seed=3)
    run_id = create_run(sessions, "default", "EX", params, dry_run=True)
    job = worker(run_id)
    wait_for_iteration(sessions, run_id, 1)
    log_in(page, "ada")
    tab(page, "Calibrate")
    page.get_by_text(f"Run {run_id[:8]} was started before this page was loaded").wait_for()
    page.reload()
    assert get_run(sessions, "default", run_id).status == "running"  # really running, not queued
    log_in(page, "ada")
    tab(page, "Calibrate")
    page.get_by_text(f"Run {run_id[:8]} was started before this page was loaded and is "
                     "running").wait_for()  # fmt: skip
    first = shown_iteration(page)
    assert first >= 1
    deadline = time.monotonic() + 120
    while shown_iteration(page) < first + 2:  # live: the page follows the job's progress
        assert time.monotonic() < deadline, f"the page stayed at iteration {first}"
        page.wait_for_timeout(300)
    snapshot(page, "calibrate", size)
    tab(page, "Runs")
    status = page.locator('.tabulator-row:first-child .tabulator-cell[tabulator-field="status"]')
    status.get_by_text("running").wait_for()
    status.click()
    page.locator(".qbank-run-detail", has_text="status running").wait_for()
    cancel_run(sessions, "default", run_id)  # e.g. another admin, or the CLI
    status.get_by_text("cancelled").wait_for(timeout=60_000)  # no click on Refresh
    page.locator(".qbank-run-detail", has_text="status cancelled").wait_for()
    tab(page, "Calibrate")
    page.get_by_text(f"Run {run_id[:8]} was cancelled.").wait_for()
    page.locator(".qbank-run-status", has_text="cancelled").wait_for()
    assert job.wait(timeout=60) == 0, job.stderr.read().decode()[-2000:]
    assert get_run(sessions, "default", run_id).status == "cancelled"


def test_rolling_back_a_superseded_run_asks_first(page, served, size):
    sessions = served[1]
    older = applied_run(sessions, seed=11)
    newer = applied_run(sessions, seed=12)
    pool = load_exam_pool(sessions, "default", "EX")
    k_newer = [float(x) for x in pool.k]
    log_in(page, "ada")
    tab(page, "Runs")
    rows = page.locator(".tabulator-row")
    rows.filter(has_text=older[:8]).locator('[tabulator-field="values"]').get_by_text(
        "superseded").wait_for()  # fmt: skip
    rows.filter(has_text=older[:8]).first.click()
    page.locator(".qbank-run-detail", has_text=f"run {newer}").wait_for()
    # max and mean exposure, the exposure histogram, the two stratum heatmaps: all drawn
    titles = [title for title, _ in wait_for_drawn_plots(page, 5)]
    assert any("max exposure per iteration" in title for title in titles), titles
    assert sum("by θ stratum" in title for title in titles) == 2, titles
    page.get_by_role("button", name="Roll back").click()
    page.locator(".qbank-confirm", has_text="Roll back anyway?").wait_for()
    snapshot(page, "runs-superseded", size)
    assert [float(x) for x in load_exam_pool(sessions, "default", "EX").k] == k_newer
    page.get_by_role("button", name="Roll back anyway").click()
    page.get_by_text(f"Run {older[:8]} rolled back: {N_ITEMS} items written.").wait_for()
    assert [float(x) for x in load_exam_pool(sessions, "default", "EX").k] != k_newer


@pytest.mark.parametrize("size", ["1440", "1024"], indirect=True)
def test_sweep_heatmaps_stay_readable(page, served, size):
    sessions = served[1]
    params = SweepParams(taus=(0.1, 0.2, 0.3), alphas=(0.5, 1.0), n=60, test_len=4, iters=2)
    run_id = create_run_record(sessions, "default", "sweep", "EX", params.as_json(),
                               total_iters=params.n_cells)  # fmt: skip
    assert execute_run(sessions, run_id) == "done"
    log_in(page, "ada")
    tab(page, "Sweep")
    heatmaps = page.locator(".qbank-heatmap")
    heatmaps.nth(2).locator("canvas").first.wait_for()
    widths = [heatmaps.nth(i).bounding_box()["width"] for i in range(3)]
    assert min(widths) >= 250, widths
    snapshot(page, "sweep", size)
    tab(page, "Runs")
    page.locator(".tabulator-row", has_text=run_id[:8]).first.click()
    page.locator(".qbank-run-detail", has_text="sweep").wait_for()
    page.locator(".qbank-heatmap canvas").nth(2).wait_for()
    row = page.locator(".qbank-runs-table .tabulator-row", has_text=run_id[:8]).first.inner_text()
    assert "report only" in row
    assert "dry" not in row
    assert "false" not in row.lower()
    snapshot(page, "runs", size)


@pytest.mark.parametrize("size", ["1440", "1024"], indirect=True)
def test_the_monitor_shows_live_exposure_and_switches_the_selector_after_a_yes(page, served, size):
    sessions = served[1]
    applied_run(sessions, seed=21)
    state = InMemoryStateStore()
    for index in range(6):
        quiz = create_quiz(sessions, "default", f"s{index}",
                           QuizFilters(num_questions=3, exam_code="EX"), adaptive=True)  # fmt: skip
        next_item(sessions, state, "default", f"s{index}", quiz.quiz_id, 500)
    log_in(page, "ada")
    tab(page, "Monitor")
    page.get_by_text("adaptive quizzes").first.wait_for()
    page.locator(".qbank-alerts").wait_for()
    page.locator(".qbank-delivery", has_text="vanilla").wait_for()
    page.get_by_role("button", name="Switch…").click()
    page.locator(".qbank-confirm", has_text="Switch the selector_strategy flag").wait_for()
    page.get_by_role("button", name="Yes, switch").click()
    page.get_by_text("Switched: students without a cohort now get Sympson–Hetter").wait_for()
    snapshot(page, "monitor", size)
