from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from qbank.errors import InvalidInputError, NotFoundError
from qbank.services.access.flags import assign_cohort, selector_for_user, set_feature_flag
from qbank.services.delivery.exposure_caps import items_under_cap, reserve_exposure
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.services.exposure.sh_p import list_exposure_items, set_sh_p
from qbank.state import InMemoryStateStore
from qbank.store.models import UserResponse
from tests.services.conftest import EXAM, TENANT


def test_set_sh_p_validates_and_reaches_the_pool(session_factory, exam):
    first = exam[0].question_id
    set_sh_p(session_factory, TENANT, first, 1, 0.25)
    set_sh_p(session_factory, TENANT, first, 1, 0.3)  # update, not a second row
    pool = load_exam_pool(session_factory, TENANT, EXAM)
    assert pool.k[pool.qids.index(str(first))] == pytest.approx(0.3)
    for bad in (1.5, -0.1, float("nan"), True):
        with pytest.raises(InvalidInputError, match="sh_p"):
            set_sh_p(session_factory, TENANT, first, 1, bad)
    with pytest.raises(NotFoundError):
        set_sh_p(session_factory, TENANT, first, 9, 0.5)
    with pytest.raises(NotFoundError):
        set_sh_p(session_factory, "other-tenant", first, 1, 0.5)
    pool = load_exam_pool(session_factory, TENANT, EXAM)  # the refused calls changed nothing
    assert pool.k[pool.qids.index(str(first))] == pytest.approx(0.3)


def test_exposure_items_count_attempts_of_the_last_7_days(session_factory, exam):
    now = datetime.now(UTC)
    target = exam[3].question_id
    with session_factory.begin() as session:
        for days_ago in (0, 1, 6, 7.5, 8, 30):
            created_at = now - timedelta(days=days_ago, minutes=1)
            response = UserResponse(user_id="u1", tenant_id=TENANT, question_id=target, version=1,
                                    option_label="A", is_correct=True, time_taken_ms=1000,
                                    created_at=created_at)  # fmt: skip
            session.add(response)
    items = list_exposure_items(session_factory, TENANT, exam_code=EXAM, limit=5)
    assert items[0].question_id == target
    assert items[0].recent_attempts == 3
    assert items[0].sh_p == 1.0
    assert len(items) == 5
    assert list_exposure_items(session_factory, "other-tenant") == []
    with pytest.raises(InvalidInputError):
        list_exposure_items(session_factory, TENANT, limit=0)


def test_daily_exposure_cap(session_factory):
    state = InMemoryStateStore()
    monday = datetime(2026, 11, 23, 12, tzinfo=UTC)
    reserved = [reserve_exposure(session_factory, state, TENANT, 1, 1, 3, now=monday)
                for _ in range(4)]  # fmt: skip
    assert reserved == [True, True, True, False]
    assert state.exposure_counts(TENANT, [(1, 1)], monday.date()) == [3]
    reserve_exposure(session_factory, state, TENANT, 2, 1, 3, now=monday)
    assert items_under_cap(state, TENANT, [(1, 1), (2, 1), (3, 1)], now=monday) == [
        False, True, True]  # fmt: skip
    tuesday = monday + timedelta(days=1)
    assert items_under_cap(state, TENANT, [(1, 1)], now=tuesday) == [True]


def test_selector_cohort_wins_over_flag(session_factory):
    assert selector_for_user(session_factory, TENANT, "u1") == "vanilla"
    set_feature_flag(session_factory, TENANT, "selector_strategy", True, "sympson_hetter")
    assert selector_for_user(session_factory, TENANT, "u1") == "sympson_hetter"
    assign_cohort(session_factory, TENANT, "u1", "selector_strategy", "vanilla")
    assert selector_for_user(session_factory, TENANT, "u1") == "vanilla"
    assert selector_for_user(session_factory, TENANT, "u2") == "sympson_hetter"
    set_feature_flag(session_factory, TENANT, "selector_strategy", False, "sympson_hetter")
    assert selector_for_user(session_factory, TENANT, "u2") == "vanilla"
    assert selector_for_user(session_factory, "other-tenant", "u2") == "vanilla"
    with pytest.raises(InvalidInputError):
        assign_cohort(session_factory, TENANT, "u1", "selector_strategy", "random")


@pytest.mark.parametrize("value", ["nul\x00", float("nan"), "x" * 20_000])
def test_flag_values_both_backends_cannot_store_are_refused(session_factory, value):
    with pytest.raises(InvalidInputError, match="value must"):
        set_feature_flag(session_factory, TENANT, "banner", True, value)


def test_an_exposure_at_21_00_minus_5_counts_on_the_next_utc_day(session_factory):
    state = InMemoryStateStore()
    evening = datetime(2026, 11, 23, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert reserve_exposure(session_factory, state, TENANT, 1, 1, 1, now=evening)
    assert state.exposure_counts(TENANT, [(1, 1)], date(2026, 11, 24)) == [1]
    assert state.exposure_counts(TENANT, [(1, 1)], date(2026, 11, 23)) == [0]
    next_utc_day = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    assert items_under_cap(state, TENANT, [(1, 1)], now=next_utc_day) == [False]
