"""The Design page: an exam's test design shown, refused, saved, read back and previewed.

The page's state is tested on the services with a real SQLite store (``context``, ``exam``);
the flows run in Debian's Chromium with the fixtures of ``test_browser.py`` (imported, not
moved: the server, the browser, the per-test page that fails on console errors and on requests
to other hosts, and the screenshot helper).
"""

import numpy as np
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from api.app import create_app
from dashboard.design_form import DesignForm
from dashboard.design_page import DesignPage
from dashboard.design_view import current_design_text, preview_figures
from qbank.cat.design import EXPOSURE_METHODS, TestDesign
from qbank.services.access.flags import set_selector
from qbank.services.calibration.design_sim import simulate_design
from qbank.services.delivery.exam_design import get_exam_design, set_exam_design
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.settings import Settings
from qbank.store.models import ExamDesign
from tests.dashboard.conftest import TENANT
from tests.dashboard.test_browser import (  # noqa: F401 - fixtures, used by name
    PASSWORD,
    browser,
    chromium,
    log_in,
    page,
    served,
    size,
    snapshot,
    tab,
)

STORED = {
    "selection": {"rule": "progressive", "options": {"acceleration": 2.0}},
    "estimator": "map",
    "exposure": {"method": "conditional_sympson_hetter", "strata_edges": [-0.5, 0.5]},
    "stopping": {"max_len": 12, "min_len": 4, "se": 0.35, "min_info": None, "cut": 0.25,
                 "z": 1.64},
    "blueprint": {"Cardiology": 0.5, "Nephrology": 0.25, "Neurology": 0.25},
}  # fmt: skip


def stored_rows(sessions, tenant_id=TENANT):
    with sessions() as session:
        return list(session.scalars(select(ExamDesign).where(ExamDesign.tenant_id == tenant_id)))


# ----- the page's state, on the services


def test_without_a_design_the_page_names_the_selector_flag_delivery_uses(context, exam):
    page = DesignPage(context, user="ada")
    text = current_design_text(page.exam, page.stored, page.overview)
    assert "EX has no design" in text
    assert "vanilla (most informative item)** (the flag is not set)" in text
    set_selector(context.sessions, TENANT, "sympson_hetter")
    page.load()
    text = current_design_text(page.exam, page.stored, page.overview)
    assert "Sympson–Hetter (uses the calibrated k)" in text
    assert "not set" not in text
    assert page.form.as_json() == TestDesign().as_json()  # the form starts from the defaults


def test_the_choices_come_from_the_registries():
    form = DesignForm()
    assert form.param.exposure.objects == list(EXPOSURE_METHODS)
    assert "randomesque" in form.param.rule.objects and "wle" in form.param.estimator.objects
    form.exposure = "sympson_hetter"
    assert form.shown_exposure_parameters() == []
    form.exposure = "conditional_sympson_hetter"
    assert form.shown_exposure_parameters() == ["strata_edges"]


def test_a_stored_design_fills_the_form_and_reads_back_unchanged(context, exam):
    set_exam_design(context.sessions, TENANT, "EX", STORED, updated_by="grace")
    page = DesignPage(context, user="ada")
    form = page.form
    assert (form.rule, form.progressive_acceleration, form.progressive_test_len) == (
        "progressive", 2.0, None)  # the design's pace is max length: the blank follows it
    assert (form.estimator, form.exposure) == ("map", "conditional_sympson_hetter")
    assert form.exposure_values == {"strata_edges": "-0.5, 0.5"}
    assert (form.max_len, form.min_len, form.use_se, form.se) == (12, 4, True, 0.35)
    assert (form.use_min_info, form.classify, form.cut, form.z) == (False, True, 0.25, 1.64)
    assert form.targets == {"Cardiology": 0.5, "Nephrology": 0.25, "Neurology": 0.25,
                            "Oncology": None}  # fmt: skip
    assert TestDesign.from_json(form.as_json()).as_json() == page.stored.design
    assert not page.edited()
    text = current_design_text("EX", page.stored, page.overview)
    assert "by **grace**" in text
    assert "once θ̂ ± 1.64 SE excludes the cut 0.25" in text
    assert "never before 4 items" in text
    assert "Cardiology 50 %" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"balance": True, "targets": {"Cardiology": 0.5, "Nephrology": 0.2}},
         "Not valid: blueprint targets must sum to 1, got 0.7."),
        ({"max_len": 600}, "Not valid: maximum length must be in [1, 500]."),
        ({"max_len": 5, "min_len": 8}, "Not valid: minimum length must be in [1, maximum length]."),
        ({"max_len": None}, "Not valid: give a value for maximum length."),
        ({"use_se": True, "se": 9.0}, "Not valid: SE threshold must be in (0, 5], got 9.0."),
        ({"exposure": "conditional_sympson_hetter"},
         "Not valid: θ cut points of the strata must be a non-empty increasing list for "
         "conditional Sympson–Hetter."),
        ({"exposure": "conditional_sympson_hetter", "exposure_values": {"strata_edges": "0, x"}},
         "Not valid: θ cut points of the strata must be a finite number, got 'x'."),
    ],
)  # fmt: skip
def test_an_invalid_design_is_refused_in_words_and_nothing_is_written(
    context, exam, change, message
):
    page = DesignPage(context, user="ada")
    page.form.param.update(**change)
    assert page.ask_save() is False
    assert page.pending_save is None
    assert (page.feedback.message, page.feedback.kind) == (message, "danger")
    assert page.confirm_save() is False
    assert stored_rows(context.sessions) == []


def test_save_asks_first_then_stores_the_design_with_who_and_when(context, exam):
    page = DesignPage(context, user="ada")
    page.form.param.update(max_len=10, use_se=True, se=0.4, balance=True)
    page.form.equal_shares()
    assert page.ask_save() is True
    assert stored_rows(context.sessions) == []  # asked, not written
    page.form.max_len = 11  # an edit after the question: that question is void
    assert page.pending_save is None
    assert page.confirm_save() is False
    assert stored_rows(context.sessions) == []
    assert page.ask_save() is True
    assert page.confirm_save() is True
    view = get_exam_design(context.sessions, TENANT, "EX")
    assert view.stored and view.updated_by == "ada"
    assert view.design["stopping"]["max_len"] == 11 and view.design["stopping"]["se"] == 0.4
    assert view.design["blueprint"] == {"Cardiology": 0.25, "Nephrology": 0.25,
                                        "Neurology": 0.25, "Oncology": 0.25}  # fmt: skip
    assert page.feedback.kind == "success"
    assert page.feedback.message.startswith("Saved: the design of EX is stored (")
    assert "by ada)" in page.feedback.message
    assert not page.edited()


def test_a_blueprint_topic_the_tenant_lacks_is_refused_by_the_service(context, exam):
    page = DesignPage(context, user="ada")
    page.form.param.update(balance=True, targets={"Cardiology": 0.5, "Dermatology": 0.5})
    assert page.ask_save() is True  # the design itself is valid; the store checks topics
    assert page.confirm_save() is False
    assert page.feedback.message == "Not saved: blueprint topic(s) not found: Dermatology."
    assert stored_rows(context.sessions) == []


def test_preview_simulates_the_unsaved_design_as_qbank_simulate_does(context, exam):
    page = DesignPage(context, user="ada")
    page.form.param.update(max_len=8, use_se=True, se=0.5, exposure="sympson_hetter")
    page.preview_n, page.preview_seed = 200, 3
    assert page.start_preview() is True
    assert page.preview_status == "running"
    page.wait_for_preview()
    assert page.preview_status == "done", page.preview_feedback.message
    pool = load_exam_pool(context.sessions, TENANT, "EX")
    expected = simulate_design(pool, TestDesign.from_json(page.form.as_json()), n=200, seed=3)
    assert page.preview.scalars() == expected.scalars()
    np.testing.assert_array_equal(np.asarray(page.preview.metrics.exposure_rates),
                                  np.asarray(expected.metrics.exposure_rates))  # fmt: skip
    figures = dict(preview_figures(page.preview))
    m = expected.scalars()
    assert figures["RMSE of θ estimates"] == f"{m['rmse']:.3f}"
    assert figures["test length"].startswith(f"mean {m['mean_test_length']:.3g} ")
    assert "blueprint met" not in figures and "classified correctly" not in figures
    assert stored_rows(context.sessions) == []  # a preview writes nothing


def test_a_preview_the_pool_cannot_run_says_why(context, exam):
    page = DesignPage(context, user="ada")
    page.form.max_len = 40  # the pool has 24 items: the design is valid, the simulation is not
    assert page.start_preview() is True
    page.wait_for_preview()
    assert page.preview_status == "failed"
    assert page.preview_feedback.message == ("Not simulated: the design's maximum length (40) "
                                             "exceeds the pool size (24).")  # fmt: skip
    page.form.min_len = 50
    assert page.start_preview() is False
    assert page.feedback.message.startswith("Not valid: minimum length must be in")


# ----- in the browser


def api_design(sessions):
    """GET /v1/admin/exams/EX/design from the API app on the dashboard's database."""
    settings = Settings(database_url=str(sessions.kw["bind"].url), tenant_id="default",
                        secret="test-secret-0123456789-0123456789-abcdef", env="prod")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        login = client.post("/v1/auth/login", json={"username": "ada", "password": PASSWORD,
                                                     "tenant_id": "default"})  # fmt: skip
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        response = client.get("/v1/admin/exams/EX/design",
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()


def fill(page, label, value):
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Tab")


def test_an_invalid_design_is_refused_on_the_page_and_nothing_is_written(page, served, size):
    sessions = served[1]
    log_in(page, "ada")
    tab(page, "Design")
    page.locator(".qbank-current", has_text="EX has no design").wait_for()
    page.locator(".qbank-current", has_text="vanilla (most informative item)").wait_for()
    page.get_by_text("blueprint: each next item from the topic").click()
    fill(page, "Cardiology", "0.5")
    fill(page, "Neurology", "0.2")
    page.locator(".qbank-blueprint-sum", has_text="targets sum to 0.7").wait_for()
    page.get_by_role("button", name="Save…").click()
    page.locator(".qbank-danger", has_text="Not valid: blueprint targets must sum to 1, got 0.7."
                 ).wait_for()  # fmt: skip
    assert page.locator(".qbank-confirm").count() == 0
    assert page.get_by_text("Saved").count() == 0
    assert stored_rows(sessions, "default") == []
    snapshot(page, "design-refused", size)


def test_a_design_saved_on_the_page_is_stored_and_served_by_the_api(page, served, size):
    sessions = served[1]
    log_in(page, "ada")
    tab(page, "Design")
    page.locator(".qbank-current", has_text="EX has no design").wait_for()
    page.get_by_label("next-item rule").select_option("randomesque")
    fill(page, "pick among the n best", "3")
    fill(page, "maximum length", "12")
    page.get_by_text("stop once the SE of θ̂ ≤").click()
    fill(page, "SE", "0.4")
    page.get_by_text("blueprint: each next item from the topic").click()
    page.get_by_role("button", name="Equal shares").click()
    page.locator(".qbank-blueprint-sum", has_text="4 topics listed, targets sum to 1").wait_for()
    page.get_by_role("button", name="Save…").click()
    page.locator(".qbank-confirm", has_text="Live quizzes of EX will use it").wait_for()
    assert stored_rows(sessions, "default") == []  # asked, not written yet
    page.get_by_role("button", name="Yes, save").click()
    page.locator(".qbank-success", has_text="Saved: the design of EX is stored").wait_for()
    page.locator(".qbank-current", has_text="Current design of EX").wait_for()
    page.locator(".qbank-current", has_text="by ada").wait_for()
    view = get_exam_design(sessions, "default", "EX")
    assert view.stored and view.updated_by == "ada"
    assert view.design["selection"] == {"rule": "randomesque", "options": {"n": 3}}
    assert view.design["stopping"]["max_len"] == 12 and view.design["stopping"]["se"] == 0.4
    assert view.design["blueprint"] == {"Cardiology": 0.25, "Nephrology": 0.25,
                                        "Neurology": 0.25, "Oncology": 0.25}  # fmt: skip
    shown = api_design(sessions)
    assert shown["stored"] is True and shown["updated_by"] == "ada"
    assert shown["design"] == view.design


@pytest.mark.parametrize("size", ["1440", "1024"], indirect=True)
def test_a_preview_shows_its_figures_and_charts(page, served, size):
    log_in(page, "ada")
    tab(page, "Design")
    page.locator(".qbank-current").wait_for()
    fill(page, "simulees", "300")
    page.get_by_role("button", name="Preview").click()
    page.locator(".qbank-preview-status", has_text="Simulating…").wait_for()
    figures = page.locator(".qbank-preview-figures")
    figures.wait_for(timeout=240_000)
    for what in ("max exposure", "test overlap", "RMSE of θ estimates", "test length"):
        assert what in figures.inner_text()
    chart = page.locator(".qbank-exposure-chart")
    chart.locator("canvas").first.wait_for()
    widths = [page.locator(css).bounding_box()["width"]
              for css in (".qbank-exposure-chart", ".qbank-length-chart", ".qbank-stratum-chart")]
    assert min(widths) >= 250, widths
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    snapshot(page, "design", size)
