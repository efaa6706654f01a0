"""The README's HTTP API examples, run as written against a live `qbank demo`, and its docs
pages rendered offline in Chromium (every request that leaves the server is refused).

The curl block is the README's own text; only the password line and the port change (the
demo prints new passwords on every start, and parallel test runs need free ports).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.test_serve import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
REDOCLY_BADGE = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def readme_curl_block():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## HTTP API\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"A quiz with `curl`.*?```sh\n(.+?)\n```", section, flags=re.S).group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`qbank demo` on free ports: its base URL and the printed passwords."""
    data_dir = tmp_path_factory.mktemp("demo")
    port, dashboard_port = free_port(), free_port()
    env = {**os.environ, "QBANK_DATA_DIR": str(data_dir)}
    for name in ("QBANK_DATABASE_URL", "QBANK_REDIS_URL", "QBANK_ENV", "QBANK_SECRET"):
        env.pop(name, None)
    command = [sys.executable, "-m", "qbank.cli", "demo", "--port", str(port),
               "--dashboard-port", str(dashboard_port)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        lines = []
        while not any("Ctrl+C" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, process)
        passwords = {
            words[0]: words[1] for words in (line.split() for line in lines)
            if words and words[0].startswith("demo-")
        }  # fmt: skip
        yield {"base": base, "port": port, "passwords": passwords}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_readme_curl_quiz_runs_as_written(demo):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    block = readme_curl_block()
    assert block.startswith("PASSWORD='…'\nAPI=localhost:8000\n")
    script = block.replace("PASSWORD='…'", f"PASSWORD='{demo['passwords']['demo-student']}'")
    script = script.replace("API=localhost:8000", f"API=localhost:{demo['port']}")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer, summary, finished, after = (json.loads(line) for line in done.stdout.splitlines())
    assert (answer["accepted"], answer["mode"], answer["position"]) == (True, "tutor", 1)
    assert 0 < answer["se"] < 1
    assert answer["correct_option"] in "ABCDE"
    assert (summary["status"], summary["answered"]) == ("active", 1)
    assert summary["theta"] == answer["theta"]
    assert (finished["status"], finished["answered"]) == ("finished", 1)
    assert after["error"] == "NotFoundError"
    assert "is finished" in after["detail"]


def test_swagger_ui_and_redoc_render_offline(demo):
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{chromium} is missing; CI must run the browser tests")
        pytest.skip(f"{chromium} is missing (apt-get install -y chromium)")
    base = demo["base"]
    refused = []

    def only_the_server(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium),
                                         args=["--no-sandbox"])  # fmt: skip
        try:
            page = browser.new_page()
            page.route("**/*", only_the_server)
            page.goto(f"{base}/schema/swagger")
            title = page.locator(".swagger-ui .info .title")
            title.wait_for(timeout=60_000)
            assert "QBank API" in title.inner_text()
            assert page.locator(".opblock").count() >= 26  # every operation is listed
            page.goto(f"{base}/schema/redoc")
            heading = page.locator("h1", has_text="QBank API")
            heading.wait_for(timeout=60_000)
            operations = page.locator("[data-section-id^='operation/']")  # rendered from the spec
            assert operations.count() >= 26
            assert page.locator("[data-section-id='operation/create_quiz']").count() == 1
        finally:
            browser.close()
    # Nothing but the app was needed. ReDoc's "API docs by Redocly" badge is the one outside
    # request it makes; refused, it hides itself (the bundle's own onError fallback).
    assert set(refused) <= {REDOCLY_BADGE}, refused


def test_the_readme_design_put_runs_as_written(demo):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(ADMIN=.+?/v1/admin/exams/DEMO-EXAM/design.+?)\n```", readme,
                      flags=re.S).group(1)  # fmt: skip
    assert '"password": "…"' in block
    script = block.replace("localhost:8000", f"localhost:{demo['port']}")
    script = script.replace('"password": "…"', f'"password": "{demo["passwords"]["demo-admin"]}"')
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script + "\necho; echo $ADMIN"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    put, token = done.stdout.splitlines()[-2:]
    assert json.loads(put)["design"]["stopping"]["max_len"] == 30
    stored = httpx.get(f"{demo['base']}/v1/admin/exams/DEMO-EXAM/design", timeout=60,
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert stored.status_code == 200, stored.text
    design = stored.json()["design"]
    assert design["stopping"]["max_len"] == 30
    assert design["stopping"]["se"] == 0.3
    assert design["exposure"]["method"] == "sympson_hetter"
