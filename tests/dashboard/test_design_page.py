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
from dashboard.app import DashboardApp
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
from tests.dashboard import test_browser as flows
from tests.dashboard.conftest import TENANT
from tests.dashboard.test_browser import PASSWORD, SIZES, log_in, snapshot, tab

# The browser tests' fixtures, by name: one server (its own database) for this module.
chromium, browser, served, size, page = (flows.chromium, flows.browser, flows.served, flows.size,
                                         flows.page)  # fmt: skip

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
    design = DesignPage(context, user="ada")
    text = current_design_text(design.exam, design.stored, design.overview)
    assert "EX has no design" in text
    assert "vanilla (most informative item)** (the flag is not set)" in text
    set_selector(context.sessions, TENANT, "sympson_hetter")
    design.load()
    text = current_design_text(design.exam, design.stored, design.overview)
    assert "Sympson–Hetter (uses the calibrated k)" in text
    assert "not set" not in text
    assert design.form.as_json() == TestDesign().as_json()  # the form starts from the defaults


def test_the_choices_come_from_the_registries():
    form = DesignForm()
    assert form.param.exposure.objects == list(EXPOSURE_METHODS)
    assert "randomesque" in form.param.rule.objects
    assert "wle" in form.param.estimator.objects
    form.exposure = "sympson_hetter"
    assert form.shown_exposure_parameters() == []
    form.exposure = "conditional_sympson_hetter"
    assert form.shown_exposure_parameters() == ["strata_edges"]


def test_a_stored_design_fills_the_form_and_reads_back_unchanged(context, exam):
    set_exam_design(context.sessions, TENANT, "EX", STORED, updated_by="grace")
    design = DesignPage(context, user="ada")
    form = design.form
    assert (form.rule, form.progressive_acceleration, form.progressive_test_len) == (
        "progressive",
        2.0,
        None,
    )  # the design's pace is max length: the blank follows it
    assert (form.estimator, form.exposure) == ("map", "conditional_sympson_hetter")
    assert form.exposure_values == {"strata_edges": "-0.5, 0.5", "r_max": ""}
    assert (form.max_len, form.min_len, form.use_se, form.se) == (12, 4, True, 0.35)
    assert (form.use_min_info, form.classify, form.cut, form.z) == (False, True, 0.25, 1.64)
    assert form.targets == {"Cardiology": 0.5, "Nephrology": 0.25, "Neurology": 0.25,
                            "Oncology": None}  # fmt: skip
    assert TestDesign.from_json(form.as_json()).as_json() == design.stored.design
    assert not design.edited()
    text = current_design_text("EX", design.stored, design.overview)
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
        ({"exposure": "r_max", "exposure_values": {"r_max": "1.5"}},
         "Not valid: r_max must be a number in (0, 1] for r_max, got 1.5."),
        ({"exposure": "r_max", "exposure_values": {"r_max": ""}},
         "Not valid: r_max must be a number in (0, 1] for r_max, got None."),
    ],
)  # fmt: skip
def test_an_invalid_design_is_refused_in_words_and_nothing_is_written(
    context, exam, change, message
):
    design = DesignPage(context, user="ada")
    design.form.param.update(**change)
    assert design.ask_save() is False
    assert design.pending_save is None
    assert (design.feedback.message, design.feedback.kind) == (message, "danger")
    assert design.confirm_save() is False
    assert stored_rows(context.sessions) == []


def test_save_asks_first_then_stores_the_design_with_who_and_when(context, exam):
    design = DesignPage(context, user="ada")
    design.form.param.update(max_len=10, use_se=True, se=0.4, balance=True)
    design.form.equal_shares()
    assert design.ask_save() is True
    assert stored_rows(context.sessions) == []  # asked, not written
    design.form.max_len = 11  # an edit after the question: that question is void
    assert design.pending_save is None
    assert design.confirm_save() is False
    assert stored_rows(context.sessions) == []
    assert design.ask_save() is True
    assert design.confirm_save() is True
    view = get_exam_design(context.sessions, TENANT, "EX")
    assert view.stored
    assert view.updated_by == "ada"
    assert view.design["stopping"]["max_len"] == 11
    assert view.design["stopping"]["se"] == 0.4
    assert view.design["blueprint"] == {"Cardiology": 0.25, "Nephrology": 0.25,
                                        "Neurology": 0.25, "Oncology": 0.25}  # fmt: skip
    assert design.feedback.kind == "success"
    assert design.feedback.message.startswith("Saved: the design of EX is stored (")
    assert "by ada)" in design.feedback.message
    assert not design.edited()


def test_an_r_max_design_is_saved_with_its_cap_and_other_methods_drop_it(context, exam):
    design = DesignPage(context, user="ada")
    assert "r_max" not in design.form.shown_exposure_parameters("sympson_hetter")
    assert design.form.shown_exposure_parameters("r_max") == ["r_max"]
    design.form.param.update(exposure="r_max", exposure_values={"strata_edges": "",
                                                                "r_max": "0.25"})  # fmt: skip
    assert design.ask_save() is True
    assert design.confirm_save() is True
    exposure = get_exam_design(context.sessions, TENANT, "EX").design["exposure"]
    assert (exposure["method"], exposure["r_max"]) == ("r_max", 0.25)
    design.form.exposure = "sympson_hetter"  # the cap stays typed but goes with r_max only
    assert design.form.as_json()["exposure"] == {"method": "sympson_hetter", "strata_edges": [],
                                                 "r_max": None}  # fmt: skip


def test_a_blueprint_topic_the_tenant_lacks_is_refused_by_the_service(context, exam):
    design = DesignPage(context, user="ada")
    design.form.param.update(balance=True, targets={"Cardiology": 0.5, "Dermatology": 0.5})
    assert design.ask_save() is True  # the design itself is valid; the store checks topics
    assert design.confirm_save() is False
    assert design.feedback.message == "Not saved: blueprint topic(s) not found: Dermatology."
    assert stored_rows(context.sessions) == []


def test_preview_simulates_the_unsaved_design_as_qbank_simulate_does(context, exam):
    design = DesignPage(context, user="ada")
    design.form.param.update(max_len=8, use_se=True, se=0.5, exposure="sympson_hetter")
    design.preview_n, design.preview_seed = 200, 3
    assert design.start_preview() is True
    assert design.preview_status == "running"
    design.wait_for_preview()
    assert design.preview_status == "done", design.preview_feedback.message
    pool = load_exam_pool(context.sessions, TENANT, "EX")
    expected = simulate_design(pool, TestDesign.from_json(design.form.as_json()), n=200, seed=3)
    assert design.preview.scalars() == expected.scalars()
    np.testing.assert_array_equal(np.asarray(design.preview.metrics.exposure_rates),
                                  np.asarray(expected.metrics.exposure_rates))  # fmt: skip
    figures = dict(preview_figures(design.preview))
    m = expected.scalars()
    assert figures["RMSE of θ estimates"] == f"{m['rmse']:.3f}"
    assert figures["test length"].startswith(f"mean {m['mean_test_length']:.3g} ")
    assert "blueprint met" not in figures
    assert "classified correctly" not in figures
    assert stored_rows(context.sessions) == []  # a preview writes nothing


def test_a_preview_the_pool_cannot_run_says_why(context, exam):
    design = DesignPage(context, user="ada")
    design.form.max_len = 40  # the pool has 24 items: the design is valid, the simulation is not
    assert design.start_preview() is True
    design.wait_for_preview()
    assert design.preview_status == "failed"
    assert design.preview_feedback.message == ("Not simulated: the design's maximum length (40) "
                                             "exceeds the pool size (24).")  # fmt: skip
    design.form.min_len = 50
    assert design.start_preview() is False
    assert design.feedback.message.startswith("Not valid: minimum length must be in")


def test_a_preview_that_crashes_says_so_and_the_next_one_runs(context, exam, monkeypatch):
    import dashboard.design_page as design_page

    real = design_page.simulate_design

    def out_of_memory(*args, **kwargs):
        raise MemoryError("planted")

    monkeypatch.setattr(design_page, "simulate_design", out_of_memory)
    design = DesignPage(context, user="ada")
    assert design.start_preview() is True
    design.wait_for_preview()
    assert design.preview_status == "failed"
    assert design.preview_feedback.message.startswith("The simulation failed (MemoryError)")
    monkeypatch.setattr(design_page, "simulate_design", real)
    design.preview_n, design.form.max_len = 50, 10
    assert design.start_preview() is True  # not refused as "still running"
    design.wait_for_preview()
    assert design.preview_status == "done", design.preview_feedback.message


def test_preview_figures_name_the_blueprint_and_classification_when_the_design_has_them(
    context, exam
):
    design = TestDesign.from_json({"stopping": {"max_len": 8, "cut": 0.0, "z": 1.0},
                                   "blueprint": {"Cardiology": 0.5, "Oncology": 0.5}})  # fmt: skip
    report = simulate_design(load_exam_pool(context.sessions, TENANT, "EX"), design, n=100)
    figures = dict(preview_figures(report))
    m = report.scalars()
    assert figures["blueprint met"] == f"{m['blueprint_met_share']:.1%} of tests"
    assert figures["classified correctly"] == (f"{m['classified_correctly']:.1%} "
                                               f"({m['passed_share']:.1%} passed)")  # fmt: skip


def test_the_app_builds_the_design_tab_for_the_admin_who_logged_in(context, users, exam):
    app = DashboardApp(context)
    app.login.param.update(username="ada", password=PASSWORD)
    assert app.login.submit() is True
    design = app.pages["Design"]
    design.form.max_len = 9
    assert design.ask_save() is True
    assert design.confirm_save() is True
    assert get_exam_design(context.sessions, TENANT, "EX").updated_by == "ada"


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
    page.locator(".qbank-balance input[type=checkbox]").check()
    fill(page, "Cardiology", "0.5")
    fill(page, "Neurology", "0.2")
    page.locator(".qbank-blueprint-sum", has_text="targets sum to 0.7").wait_for()
    page.get_by_role("button", name="Save…").click()
    page.locator(".qbank-danger", has_text="Not valid: blueprint targets must sum to 1, got 0.7."
                 ).wait_for()  # fmt: skip
    assert page.locator(".qbank-confirm").count() == 0
    assert page.locator(".qbank-success").count() == 0  # never "Saved"
    assert stored_rows(sessions, "default") == []
    snapshot_whole(page, "design-refused", size)


def test_a_design_saved_on_the_page_is_stored_and_served_by_the_api(page, served, size):
    sessions = served[1]
    log_in(page, "ada")
    tab(page, "Design")
    page.locator(".qbank-current", has_text="EX has no design").wait_for()
    page.get_by_label("next-item rule").select_option(
        label="randomesque (a random one of the n best) (randomesque)"
    )
    fill(page, "pick among the n best", "3")
    fill(page, "maximum length", "12")
    page.locator(".qbank-use-se input[type=checkbox]").check()
    fill(page, "SE", "0.4")
    page.locator(".qbank-balance input[type=checkbox]").check()
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
    assert view.stored
    assert view.updated_by == "ada"
    assert view.design["selection"] == {"rule": "randomesque", "options": {"n": 3}}
    assert view.design["stopping"]["max_len"] == 12
    assert view.design["stopping"]["se"] == 0.4
    assert view.design["blueprint"] == {"Cardiology": 0.25, "Nephrology": 0.25,
                                        "Neurology": 0.25, "Oncology": 0.25}  # fmt: skip
    shown = api_design(sessions)
    assert shown["stored"] is True
    assert shown["updated_by"] == "ada"
    assert shown["design"] == view.design


def snapshot_whole(page, name, size):
    """``snapshot`` of the whole page: the window grown to the height of what scrolls."""
    height = page.evaluate("""() => Math.max(window.innerHeight,
        ...[...document.querySelectorAll('*')].filter(e => e.scrollHeight > e.clientHeight + 5
                     && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
        .map(e => e.scrollHeight + e.getBoundingClientRect().top))""")
    page.set_viewport_size({"width": SIZES[size]["width"], "height": int(height) + 20})
    snapshot(page, name, size)
    page.set_viewport_size(SIZES[size])


@pytest.mark.parametrize("size", ["1440", "1024"], indirect=True)
def test_a_preview_shows_its_figures_and_charts(page, served, size):
    sessions = served[1]
    log_in(page, "ada")
    tab(page, "Design")
    page.locator(".qbank-current").wait_for()
    fill(page, "simulees", "300")
    page.get_by_role("button", name="Preview").click()
    page.locator(".qbank-preview-status", has_text="Simulating…").wait_for()
    figures = page.locator(".qbank-preview-figures")
    figures.wait_for(timeout=240_000)
    # The figures are those of the same simulation run here (the form shows the stored design).
    design = TestDesign.from_json(get_exam_design(sessions, "default", "EX").design)
    expected = simulate_design(load_exam_pool(sessions, "default", "EX"), design, n=300, seed=0)
    m = expected.scalars()
    for what, value in (("RMSE of θ estimates", f"{m['rmse']:.3f}"),
                        ("test overlap", f"{m['overlap']:.3g}"),
                        ("test length", f"mean {m['mean_test_length']:.3g} "),
                        ("max exposure", f"{m['max_exp']:.3g} (question")):  # fmt: skip
        figures.locator("tr", has_text=what).get_by_text(value).wait_for()
    page.locator(".qbank-exposure-chart canvas").first.wait_for()
    widths = [
        page.locator(css).bounding_box()["width"]
        for css in (".qbank-exposure-chart", ".qbank-length-chart", ".qbank-stratum-chart")
    ]
    assert min(widths) >= 250, widths
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    snapshot_whole(page, "design", size)
