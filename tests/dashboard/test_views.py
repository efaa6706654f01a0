import csv
import io
import math

import pytest

from dashboard.app import DashboardApp
from dashboard.calibrate import CalibratePage, parse_topic_map
from dashboard.charts import exposure_histogram, history_chart, sweep_heatmap
from dashboard.items import ALL, ItemsPage, parse_sh_p
from dashboard.login import LoginForm
from dashboard.runs import RunsPage, can_apply, can_roll_back, describe
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
    assert list(app.pages) == ["Items", "Calibrate", "Runs", "Sweep"]
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


@pytest.mark.parametrize("bad", [1.5, -0.2, "abc", None, float("nan")])
def test_a_bad_sh_p_is_refused_and_changes_nothing(context, exam, bad):
    page = ItemsPage(context, sort="question_id", descending=False)
    qid = int(page.table.at[0, "question_id"])
    if isinstance(bad, float):
        page.table.at[0, "sh_p"] = bad  # what the edited cell holds
    assert page.save_sh_p(0, bad) is False
    assert page.feedback.kind == "danger"
    assert "sh_p" in page.feedback.message
    assert stored_k(context, qid) == 1.0
    assert page.table.at[0, "sh_p"] == 1.0  # the cell shows the stored value again


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
        ({"tau": 0.0}, "tau must be in"),
        ({"test_len": 50}, "exceeds the exam's pool size"),
        ({"topic_tau": "{oops"}, "topic_tau must be a JSON object"),
        ({"topic_weights": "[1, 2]"}, "topic_weights must be a JSON object"),
        ({"topic_tau": '{"Nowhere": 0.1}'}, "Nowhere"),
        ({"n": None}, "give a value for n"),
        ({"theta_dist": "gamma1"}, "theta_dist"),
        ({"tol": None}, "give a value for tol"),
        ({"tol": -0.5}, "tol must be in"),
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
    page.apply()
    assert page.feedback.kind == "success"
    assert (can_apply(page.selected), can_roll_back(page.selected)) == (False, True)
    diff = {row["qid"]: row["after"] for row in run.result["diff"]}
    assert stored_k(context, exam[0].question_id) == pytest.approx(diff[exam[0].question_id])
    page.apply()
    assert "already applied" in page.feedback.message
    page.roll_back()
    assert stored_k(context, exam[0].question_id) == 1.0
    assert "rolled back" in describe(page.selected)
    page.kind = "sweep"
    assert page.total == 0


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
    assert "alpha must be in" in page.feedback.message
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
    history = [{"iter": 1, "max_over": 0.3, "avg_exp": 0.1}, {"iter": 2, "max_over": 0.2,
                                                             "avg_exp": 0.1}]  # fmt: skip
    chart = history_chart(history)
    assert [layer.label for layer in chart] == ["max_over", "max_over", "avg_exp", "avg_exp"]
    assert list(chart.get(0).dimension_values("value")) == [0.3, 0.2]
    histogram = exposure_histogram([0.1, 0.5, 0.5], [0.2, 0.2, 0.3], bins=5)
    assert [layer.label for layer in histogram] == ["before", "after"]
    assert sum(histogram.get(0).dimension_values("items")) == 3
    cells = [{"tau": 0.1, "alpha": 1.0, "rmse": 0.4}, {"tau": 0.2, "alpha": 1.0, "rmse": 0.3}]
    heatmap = sweep_heatmap(cells, "rmse").get(0)
    assert list(heatmap.dimension_values("rmse")) == [0.4, 0.3]


def test_the_dashboard_login_is_throttled_like_the_api(context, users):
    def attempt(password, address="10.1.1.1"):
        form = LoginForm(context, address=address, username="ada", password=password)
        return form.submit(), form.feedback.message

    assert [attempt("wrong password")[0] for _ in range(5)] == [False] * 5
    ok, message = attempt(PASSWORD)
    assert not ok
    assert "too many failed logins; try again in 1 s" in message
    # the same browser guessing other accounts is throttled by its address as well
    for i in range(20):
        LoginForm(context, address="10.2.2.2", username=f"u{i}", password="x").submit()
    assert "too many" in LoginForm(context, address="10.2.2.2", username="stu",
                                   password=PASSWORD)._attempt()[1]  # fmt: skip
