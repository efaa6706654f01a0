"""Concurrent writers of one question, flag, cohort or topic, from threads, on both backends."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from qbank.errors import ConflictError
from qbank.services.access.flags import assign_cohort, set_feature_flag
from qbank.services.authoring.questions import create_question
from qbank.services.authoring.versions import add_version, publish_version, retire_version
from qbank.store.models import CohortAssignment, FeatureFlag, QuestionPublication
from tests.services.conftest import TENANT, make_question


def _race(calls):
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def test_parallel_versions_get_distinct_numbers(session_factory):
    qid = create_question(session_factory, TENANT, make_question(0)).question_id
    made = _race([lambda i=i: add_version(session_factory, TENANT, qid,
                                          make_question(i, external_ref=None, publish=False))
                  for i in range(8)])  # fmt: skip
    assert sorted(item.version for item in made) == list(range(2, 10))


def test_parallel_upserts_keep_one_row_with_one_of_the_values(session_factory):
    _race([lambda i=i: set_feature_flag(session_factory, TENANT, "new-flag", True, i)
           for i in range(8)])  # fmt: skip
    _race([lambda i=i: assign_cohort(session_factory, TENANT, "u1", "arm", f"v{i}")
           for i in range(8)])  # fmt: skip
    with session_factory() as session:
        flags = session.scalars(select(FeatureFlag).where(FeatureFlag.key == "new-flag")).all()
        cohorts = session.scalars(select(CohortAssignment)).all()
    assert len(flags) == 1
    assert flags[0].value_json in range(8)
    assert len(cohorts) == 1
    assert cohorts[0].cohort_value in {f"v{i}" for i in range(8)}


def test_parallel_creates_share_one_new_topic(session_factory):
    made = _race([lambda i=i: create_question(session_factory, TENANT,
                                              make_question(i, topic="Fresh topic"))
                  for i in range(8)])  # fmt: skip
    assert len({item.topic_id for item in made}) == 1


def test_publish_racing_retire_never_leaves_a_retired_version_live(session_factory):
    qid = create_question(session_factory, TENANT, make_question(0)).question_id
    add_version(session_factory, TENANT, qid, make_question(1, external_ref=None, publish=False))

    lost = []

    def publish():
        try:
            publish_version(session_factory, TENANT, qid, 2, "OTHER")
        except ConflictError as error:  # the publish may lose: retired first
            lost.append(str(error))

    _race([publish, lambda: retire_version(session_factory, TENANT, qid, 2)] * 4)
    with session_factory() as session:
        live = session.scalars(select(QuestionPublication.live_version).where(
            QuestionPublication.question_id == qid)).all()  # fmt: skip
    assert 2 not in live
    assert all("retired" in message for message in lost)
