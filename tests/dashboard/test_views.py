import csv
import io
import math
import re

import pytest

from dashboard.app import DashboardApp
from dashboard.calibrate import CalibratePage, parse_strata, parse_topic_map, run_status_text
from dashboard.charts import exposure_histogram, history_chart, sweep_heatmap
from dashboard.feedback import as_text, in_words
from dashboard.items import ALL, ItemsPage, parse_sh_p
from dashboard.login import LoginForm
from dashboard.runs import (
    RunsPage,
    can_apply,
    can_roll_back,
    describe,
    diff_rows,
    values_state,
)
from dashboard.sweep import SweepPage
from qbank.errors import InvalidInputError
from qbank.services.calibration.run_views import get_run, list_runs
from qbank.services.calibration.runs import execute_run
from qbank.services.delivery.item_pool import load_exam_pool
from tests.dashboard.conftest import PASSWORD, TENANT

SMALL = {"n": 60, "test_len": 4, "iters": 2, "seed": 5}


def stored_k(context, question_id):
    pool = load_exam_pool(context.sessions, TENANT, "EX")
    return float(pool.k[pool.qids.index(str(question_id))])


def run_queued(context):
    for run_id in context.queue.run_ids:
        execute_run(context.sessions, run_id)


# Login


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("ada", "wrong password", "wrong username or password"),
        ("nobody", PASSWORD, "wrong username or password"),
        ("stu", PASSWORD, "not an admin"),
        ("", "", "Enter your username and password"),
    ],
)
def test_login_refuses_with_a_message(context, users, username, password, message):
    form = LoginForm(context, username=username, password=password)
    assert form.submit() is False
    assert form.principal is None
    assert message in form.feedback.message
    assert form.feedback.kind == "danger"
    assert form.password == ""


def test_an_admin_logs_in_and_gets_the_pages(context, users, exam):
    app = DashboardApp(context)
    app.login.param.update(username="ada", password=PASSWORD)
    assert app.login.submit() is True
    assert app.user == "ada"
    assert list(app.pages) == ["Items", "Calibrate", "Runs", "Sweep", "Monitor", "Design"]
    app.logout()
    assert (app.user, app.pages) == ("", {})


# Items


def test_items_show_the_first_exam_a_page_at_a_time(context, exam):
    page = ItemsPage(context, page_size=10)
    assert page.exam == "EX"
    assert (page.total, page.n_pages, len(page.table)) == (24, 3, 10)
    assert list(page.table.columns[:4]) == ["question_id", "version", "topic", "question"]
    page.next_page()
    page.next_page()
    page.next_page()  # past the last page: stays
    assert (page.page, len(page.table)) == (3, 4)
    page.previous_page()
    assert page.page == 2
    page.topic = "Neurology"
    assert (page.page, page.total) == (1, 6)
    assert set(page.table["topic"]) == {"Neurology"}
    page.param.update(topic=ALL, text="patient number 7 ")
    assert page.table["question_id"].tolist() == [exam[7].question_id]
    page.text = "nothing like this"
    assert page.total == 0
    assert "No items match" in page.empty_hint
    page.param.update(exam=ALL, text="")
    page.on_show()  # coming back to the tab keeps the choice of all exams
    assert (page.exam, page.total) == (ALL, 24)


def test_items_page_without_exams_says_what_to_do(context):
    page = ItemsPage(context)
    assert page.total == 0
    assert "qbank seed-demo" in page.empty_hint


def test_editing_sh_p_saves_and_confirms(context, exam):
    page = ItemsPage(context, sort="question_id", descending=False)
    qid = int(page.table.at[0, "question_id"])
    assert page.save_sh_p(0, 0.35) is True
    assert stored_k(context, qid) == pytest.approx(0.35)
    assert page.table.at[0, "sh_p"] == pytest.approx(0.35)
    assert (page.feedback.kind, page.feedback.message) == (
        "success", f"Saved: sh_p of question {qid} v1 is now 0.35.")  # fmt: skip


@pytest.mark.parametrize("bad", [1.5, -0.2, "abc", "0.5x", "", "  ", None, float("nan")])
def test_a_bad_sh_p_is_refused_and_changes_nothing(context, exam, bad):
    page = ItemsPage(context, sort="question_id", descending=False)
    qid = int(page.table.at[0, "question_id"])
    assert page.save_sh_p(0, bad) is False
    assert page.feedback.kind == "danger"
    assert page.feedback.message.startswith(f"Not saved (question {qid} v1): sh_p")
    assert page.feedback.message.endswith("it stays 1.")
    assert "Saved" not in page.feedback.message
    assert stored_k(context, qid) == 1.0
    assert page.table.at[0, "sh_p"] == 1.0  # the cell shows the stored value again


def test_the_stored_sh_p_typed_again_is_not_saved(context, exam):
    page = ItemsPage(context, sort="question_id", descending=False)
    assert page.save_sh_p(0, "1") is False
    assert page.feedback.message.startswith("Nothing saved")
    assert page.save_sh_p(0, " 0.25 ") is True  # text as the table's text editor sends it
    assert stored_k(context, int(page.table.at[0, "question_id"])) == 0.25


def test_parse_sh_p_accepts_numbers_and_numeric_text():
    assert parse_sh_p("0.5") == 0.5
    assert parse_sh_p(1) == 1.0
    for bad in ("", True, math.inf):
        with pytest.raises(ValueError, match="sh_p"):
            parse_sh_p(bad)


# Calibrate


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tau": 0.0}, "tau (target exposure) must be in"),
        ({"test_len": 50}, "test length (50) exceeds the exam's pool size"),
        ({"topic_tau": "{oops"}, "per-topic tau must be a JSON object"),
        ({"topic_weights": "[1, 2]"}, "per-topic weights must be a JSON object"),
        ({"topic_tau": '{"Nowhere": 0.1}'}, "Nowhere"),
        ({"n": None}, "give a value for n simulees"),
        ({"theta_dist": "gamma1"}, "theta distribution must look like 'normal<mu>,<sd>'"),
        ({"tol": None}, "give a value for tol (max_over)"),
        ({"tol": -0.5}, "tol (max_over) must be in"),
        ({"strata": "-1, x"}, "strata cut points must be numbers"),
        ({"conditional": True, "strata": "1, 0"}, "strata"),
    ],
)
def test_calibrate_refuses_bad_input_and_starts_nothing(context, exam, fields, message):
    page = CalibratePage(context, **{**SMALL, **fields})
    assert page.start() is False
    assert message in page.feedback.message
    assert page.feedback.kind == "danger"
    assert list_runs(context.sessions, TENANT)[1] == 0


def test_calibrate_starts_a_run_and_follows_it_to_done(context, exam):
    page = CalibratePage(context, topic_weights='{"Cardiology": 2, "Neurology": 1}', **SMALL)
    assert page.exam == "EX"
    assert page.start() is True
    assert (page.run.status, page.run.progress) == ("queued", 0)
    assert "dry run" in page.feedback.message
    assert page.start() is False  # one run at a time
    run_queued(context)
    assert page.run.poll() is False
    assert (page.run.status, page.run.progress, len(page.run.history)) == ("done", 100, 2)
    assert page.feedback.message.endswith("is done.")
    assert stored_k(context, exam[0].question_id) == 1.0  # a dry run writes nothing
    page.run.cancel()
    assert "Nothing to cancel" in page.feedback.message


def test_calibrate_passes_the_update_rule_and_stopping_rule(context, exam):
    page = CalibratePage(context, **{**SMALL, "iters": 6, "tau": 1.0},
                         update_rule="sympson-hetter", until_converged=True, tol=0.0)  # fmt: skip
    assert page.start() is True
    run_queued(context)
    page.run.poll()
    run = get_run(context.sessions, TENANT, page.run.run_id)
    assert (run.params["update_rule"], run.params["until_converged"]) == ("sympson-hetter", True)
    assert len(run.history) == 3
    assert run.result["stop_reason"].startswith("converged")


def test_calibrate_prefills_settings_that_converge():
    page_defaults = CalibratePage.param
    assert page_defaults.update_rule.default == "sympson-hetter"
    assert (page_defaults.n.default, page_defaults.iters.default) == (2000, 20)
    assert page_defaults.until_converged.default is True


def test_calibrate_reattaches_to_the_tenants_active_run_after_a_reload(context, exam):
    first = CalibratePage(context, **SMALL)
    assert first.start() is True
    reloaded = CalibratePage(context)  # what a reload builds
    assert (reloaded.run.run_id, reloaded.run.status) == (first.run.run_id, "queued")
    assert "started before this page was loaded" in reloaded.feedback.message
    assert reloaded.start() is False  # it knows a run is going
    run_queued(context)
    assert reloaded.run.poll() is False
    assert reloaded.run.status == "done"
    assert CalibratePage(context).run.run_id == ""  # nothing active: nothing to follow


def test_the_run_status_says_preparing_while_xla_compiles():
    assert "preparing the simulation" in run_status_text("running", "abcdef012", 0, 20)
    assert run_status_text("running", "abcdef012", 3, 20).endswith("iteration 3 of 20")
    assert "waiting" in run_status_text("queued", "abcdef012", 0, 0)


def test_messages_are_escaped_and_in_the_forms_words():
    message = "theta_dist must look like 'normal<mu>,<sd>'; n × test_len too big"
    worded = in_words(message, {"theta_dist": "theta distribution", "n": "n simulees",
                                "test_len": "test length"})  # fmt: skip
    assert worded == ("theta distribution must look like 'normal<mu>,<sd>'; "
                      "n simulees × test length too big")  # fmt: skip
    assert as_text(worded).count("&lt;mu&gt;") == 1
    assert parse_strata(" -1, 0 1 ") == [-1.0, 0.0, 1.0]


def test_cancel_stops_a_queued_run(context, exam):
    page = CalibratePage(context, **SMALL)
    page.start()
    page.run.cancel()
    assert page.run.status == "cancelled"
    assert "cancelled" in page.feedback.message


def test_parse_topic_map():
    assert parse_topic_map("topic_tau", "  ") == {}
    assert parse_topic_map("topic_tau", '{"1": 0.1}') == {"1": 0.1}
    with pytest.raises(InvalidInputError, match="JSON object"):
        parse_topic_map("topic_tau", "0.1")


# Runs


def test_runs_page_without_runs_says_what_to_do(context, exam):
    page = RunsPage(context)
    assert page.total == 0
    assert page.empty_hint == "No runs yet — start one on Calibrate (or a sweep on Sweep)."
    page.status = "failed"
    assert "No runs match" in page.empty_hint


def test_runs_page_lists_shows_applies_and_rolls_back(context, exam):
    calibrate = CalibratePage(context, **SMALL)
    calibrate.start()
    run_queued(context)
    page = RunsPage(context)
    assert (page.total, page.table.at[0, "status"], page.table.at[0, "kind"]) == (1, "done", "sh")
    page.select_row(0)
    run = page.selected
    assert run.id == calibrate.run.run_id
    assert "not applied" in describe(run)
    assert (can_apply(run), can_roll_back(run)) == (True, False)
    assert len(page.diff_table()) == 24
    rows = list(csv.reader(io.StringIO(page.csv_text())))
    assert rows[0] == ["qid", "ver", "sh_p_before", "sh_p_after", "delta"]
    assert len(rows) == 25
    assert page.csv_filename() == f"run-{run.id[:8]}-diff.csv"
    page.apply()  # asks first, with the number of items it writes
    assert page.pending["question"].startswith(f"Apply run {run.id[:8]}? It writes new values "
                                               "to 24 items")  # fmt: skip
    assert stored_k(context, exam[0].question_id) == 1.0
    page.cancel_pending()
    assert (page.pending, page.action_feedback.message) == (None, "Nothing written.")
    assert stored_k(context, exam[0].question_id) == 1.0
    page.apply()
    assert page.confirm() == 24
    assert page.action_feedback.kind == "success"
    assert "applied: 24 items written" in page.action_feedback.message
    assert (can_apply(page.selected), can_roll_back(page.selected)) == (False, True)
    assert page.table.at[0, "values"] == "applied"
    diff = {row["qid"]: row["after"] for row in run.result["diff"]}
    assert stored_k(context, exam[0].question_id) == pytest.approx(diff[exam[0].question_id])
    page.apply()
    page.confirm()
    assert "already applied" in page.action_feedback.message
    page.roll_back()
    assert page.pending["force"] is False
    assert page.confirm() == 24
    assert stored_k(context, exam[0].question_id) == 1.0
    assert "rolled back" in describe(page.selected)
    page.kind = "sweep"
    assert page.total == 0


def _applied_run(context, seed):
    page = CalibratePage(context, **{**SMALL, "seed": seed}, dry_run=False)
    assert page.start() is True
    run_queued(context)
    context.queue.run_ids.clear()
    return page.run.run_id


def test_a_superseded_run_says_by_which_run_and_asks_before_a_forced_rollback(context, exam):
    older = _applied_run(context, seed=1)
    newer = _applied_run(context, seed=2)
    page = RunsPage(context)
    assert page.table["values"].tolist() == ["applied", "superseded"]  # newest first
    page.select(older)
    assert values_state(page.selected) == "superseded"
    text = describe(page.selected)
    assert "**superseded**" in text
    assert f"run {newer}" in text
    newer_k = stored_k(context, exam[0].question_id)
    page.roll_back()
    assert page.pending["force"] is True
    assert f"run {newer}" in page.pending["question"]
    assert "undoes those changes" in page.pending["question"]
    assert stored_k(context, exam[0].question_id) == newer_k  # nothing written before the yes
    assert page.confirm() == 24
    assert stored_k(context, exam[0].question_id) == 1.0
    assert values_state(page.selected) == "rolled back"
    page.select(newer)
    assert values_state(page.selected) == "superseded"  # by the forced rollback, in words
    assert "the rollback of run" in describe(page.selected)


def test_the_runs_list_follows_active_runs_by_itself(context, exam):
    page = RunsPage(context)
    calibrate = CalibratePage(context, **SMALL)
    calibrate.start()  # started after the list was loaded
    page.tick()
    assert page.table.at[0, "status"] == "queued"
    page.select_row(0)
    run_queued(context)
    page.tick()
    assert (page.table.at[0, "status"], page.table.at[0, "progress"]) == ("done", "2/2")
    assert page.selected.status == "done"
    assert page.table.at[0, "values"] == "not applied (dry run)"
    before = page.table
    page.tick()  # nothing active any more: the list is left alone
    assert page.table is before


def test_runs_list_rows_name_the_key_parameters_and_a_sweep_has_no_dry_run(context, exam):
    CalibratePage(context, **SMALL, update_rule="sympson-hetter", until_converged=True).start()
    SweepPage(context, taus="0.2 0.1", alphas="1.0", **SMALL).start()
    run_queued(context)
    page = RunsPage(context)
    sweep, sh = page.table.to_dict("records")
    assert "dry_run" not in page.table.columns
    assert (sweep["kind"], sweep["tau"], sweep["alpha"], sweep["values"]) == (
        "sweep", "0.1, 0.2", "1", "report only")  # fmt: skip
    assert (sh["tau"], sh["alpha"], sh["n"], sh["iters"]) == ("0.2", "—", "60", "2")
    assert sh["rule"] == "sympson-hetter · until converged"
    assert 0 < float(sh["max_exp"]) <= 1


def test_diff_rows_put_changed_items_first_beside_their_exposure():
    result = {
        "diff": [{"qid": 1, "ver": 1, "before": 1.0, "after": 1.0, "delta": 0.0},
                 {"qid": 2, "ver": 1, "before": 1.0, "after": 0.4, "delta": -0.6},
                 {"qid": 3, "ver": 1, "before": 0.5, "after": 0.6, "delta": 0.1}],
        "exposure_rates_before": [0.01, 0.5, 0.2], "exposure_rates_after": [0.02, 0.2, 0.21],
    }  # fmt: skip
    rows = diff_rows(result)
    assert rows["qid"].tolist() == [2, 3, 1]
    assert rows.iloc[0][["exposure_before", "exposure_after"]].tolist() == [0.5, 0.2]
    assert diff_rows(result, changed_only=True)["qid"].tolist() == [2, 3]


def test_runs_page_refuses_a_backwards_date_range(context, exam):
    from datetime import date

    page = RunsPage(context)
    page.param.update(start=date(2026, 5, 2), end=date(2026, 5, 1))
    assert "is after end" in page.feedback.message


# Sweep


def test_sweep_refuses_a_bad_grid(context, exam):
    page = SweepPage(context, taus="0.1, x", **SMALL)
    assert page.start() is False
    assert "not a number" in page.feedback.message
    page.param.update(taus="0.1", alphas="9")
    assert page.start() is False
    assert "alpha (damping) must be in" in page.feedback.message
    assert list_runs(context.sessions, TENANT)[1] == 0


def test_sweep_runs_the_grid_and_offers_it_as_csv(context, exam):
    page = SweepPage(context, taus="0.2 0.1", alphas="1.0", **SMALL)
    assert page.run.run_id == ""
    assert page.start() is True
    run_queued(context)
    page.run.poll()
    assert page.feedback.message == f"Sweep {page.run.run_id[:8]} is done."
    assert [(cell["tau"], cell["alpha"]) for cell in page.cells()] == [(0.1, 1.0), (0.2, 1.0)]
    rows = list(csv.reader(io.StringIO(page.csv_text())))
    assert rows[0][:5] == ["tau", "alpha", "max_exp", "unused_share", "rmse"]
    assert len(rows) == 3
    again = SweepPage(context)  # a new visit shows the latest sweep
    assert again.run.run_id == page.run.run_id
    runs = RunsPage(context)
    runs.select_row(0)
    assert runs.csv_filename().endswith("-grid.csv")
    assert len(list(csv.reader(io.StringIO(runs.csv_text())))) == 3
    assert not can_apply(runs.selected)


# Charts


def test_charts_carry_the_data_they_show():
    history = [{"iter": 1, "max_exp": 0.5, "max_over": 0.3, "avg_exp": 0.1},
               {"iter": 2, "max_exp": 0.4, "max_over": 0.2, "avg_exp": 0.1}]  # fmt: skip
    upper, lower = history_chart(history, tau=0.2)
    assert [layer.label for layer in upper] == ["max exposure", "max exposure", "tau = 0.2"]
    assert list(upper.get(0).dimension_values("max_exp")) == [0.5, 0.4]
    assert upper.get(2).data == 0.2  # the tau reference line
    assert list(lower.get(0).dimension_values("avg_exp")) == [0.1, 0.1]  # its own panel
    histogram = exposure_histogram([0.1, 0.5, 0.5], [0.2, 0.2, 0.3], bins=5, tau=0.25)
    assert [layer.label for layer in histogram][:2] == ["before", "after"]
    assert sum(histogram.get(0).dimension_values("items")) == 3
    assert max(histogram.get(0).dimension_values("items")) == 2
    cells = [{"tau": 0.1, "alpha": 1.0, "rmse": 0.4}, {"tau": 0.2, "alpha": 1.0, "rmse": 0.3}]
    heatmap = sweep_heatmap(cells, "rmse").get(0)
    assert list(heatmap.dimension_values("rmse")) == [0.4, 0.3]


def test_tooltips_name_the_series_with_3_significant_digits():
    import holoviews as hv
    from bokeh.models import HoverTool

    history = [{"iter": 1, "max_exp": 0.034721, "avg_exp": 0.01}]
    plot = hv.renderer("bokeh").get_plot(history_chart(history, tau=0.2))
    tips = [tool.tooltips for tool in plot.state.select({"type": HoverTool})]
    assert ["series", "max exposure"] in [list(tip) for tips_ in tips for tip in tips_]
    assert any("{%.3g}" in value for tips_ in tips for _, value in tips_)


def test_the_tau_line_is_in_view_far_below_max_exposure_and_mean_exposure_starts_at_0():
    import holoviews as hv

    history = [{"iter": 1, "max_exp": 0.9, "avg_exp": 1 / 3},
               {"iter": 2, "max_exp": 0.88, "avg_exp": 1 / 3}]  # fmt: skip
    plot = hv.renderer("bokeh").get_plot(history_chart(history, tau=0.2))
    upper, lower = (child[0] for child in plot.state.children)
    assert upper.y_range.start < 0.2
    assert upper.y_range.end > 0.9
    assert lower.y_range.start == 0
    assert lower.y_range.end > 1 / 3


def test_heatmap_values_are_white_on_dark_cells_and_black_on_light_ones():
    cells = [{"tau": t, "alpha": 1.0, "rmse": v} for t, v in ((0.1, 0.4), (0.2, 0.6), (0.3, 0.7))]
    labels = sweep_heatmap(cells, "rmse").get(1)
    assert list(labels.dimension_values("color")) == ["white", "black", "black"]


def test_the_dashboard_login_is_throttled_like_the_api(context, users, slow_login_backoff):
    def attempt(password, address="10.1.1.1"):
        form = LoginForm(context, address=address, username="ada", password=password)
        return form.submit(), form.feedback.message

    assert [attempt("wrong password")[0] for _ in range(5)] == [False] * 5
    ok, message = attempt(PASSWORD)
    assert not ok
    wait = re.search(r"too many failed logins; try again in (\d+) s", message)
    assert wait is not None, message
    assert 50 <= int(wait.group(1)) <= 60
    # the same browser guessing other accounts is throttled by its address as well
    for i in range(20):
        LoginForm(context, address="10.2.2.2", username=f"u{i}", password="x").submit()
    assert "too many" in LoginForm(context, address="10.2.2.2", username="stu",
                                   password=PASSWORD)._attempt()[1]  # fmt: skip


# Monitor and delivery


def test_an_applied_run_says_when_delivery_does_not_use_its_k(context, exam):
    from dashboard.monitor import MonitorPage

    run_id = _applied_run(context, seed=1)
    runs = RunsPage(context)
    runs.select(run_id)
    assert "Delivery does not use these k" in runs.delivery_warning(runs.selected)
    monitor = MonitorPage(context)
    assert monitor.run.id == run_id  # the plan is the applied run
    assert len(monitor.report.last_7_days.items) == 24  # every planned item, served or not
    monitor.switch_to = "sympson_hetter"
    monitor.ask_switch()
    assert monitor.pending_switch == "sympson_hetter"
    assert "Delivery does not use" in runs.delivery_warning(runs.selected)  # not before the yes
    monitor.cancel_switch()
    assert monitor.overview.flag_selector == "vanilla"
    monitor.ask_switch()
    assert monitor.confirm_switch() is True
    assert monitor.overview.flag_selector == "sympson_hetter"
    assert runs.delivery_warning(runs.selected) is None
    assert "Switched" in monitor.switch_feedback.message
