import pytest

from dashboard.context import DashboardContext
from qbank.services.access.auth import create_user
from qbank.settings import Settings
from qbank.state import InMemoryStateStore
from qbank.store.db import init_schema, make_engine, make_session_factory
from tests.services.conftest import build_exam

TENANT = "default"
PASSWORD = "long enough secret"


class RecordingQueue:
    """Keeps queued run ids; a test runs them with execute_run when it wants."""

    def __init__(self):
        self.run_ids = []

    def enqueue(self, task_path, *args):
        self.run_ids.append(args[0])
        return f"job-{len(self.run_ids)}"

    def status(self, job_id):
        raise NotImplementedError


@pytest.fixture
def context(tmp_path):
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    engine = make_engine(url)
    init_schema(engine)
    sessions = make_session_factory(engine)
    yield DashboardContext(Settings(database_url=url), engine, sessions, InMemoryStateStore(),
                           RecordingQueue())  # fmt: skip
    engine.dispose()


@pytest.fixture
def exam(context):
    return build_exam(context.sessions, n_items=24, tenant_id=TENANT, exam_code="EX")


@pytest.fixture
def users(context):
    create_user(context.sessions, TENANT, "ada", PASSWORD, ("admin",))
    create_user(context.sessions, TENANT, "stu", PASSWORD, ("student",))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
