"""What every page needs: settings, database sessions, state store and job queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from qbank.jobs.queue import JobQueue, make_job_queue
from qbank.services.access.throttle import InMemoryLoginThrottle, LoginThrottle, make_login_throttle
from qbank.settings import Settings, enable_compile_cache
from qbank.state import StateStore, make_state_store
from qbank.store.db import init_schema, make_engine, make_session_factory

__all__ = ["DashboardContext", "build_context"]


@dataclass(frozen=True, slots=True)
class DashboardContext:
    """Process-wide resources shared by every browser session of the dashboard."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    state: StateStore
    queue: JobQueue
    throttle: LoginThrottle = field(default_factory=InMemoryLoginThrottle)  # failed logins

    @property
    def tenant_id(self) -> str:
        """The tenant the dashboard serves (``QBANK_TENANT_ID``)."""
        return self.settings.tenant_id


def build_context(settings: Settings) -> DashboardContext:
    """Connect to the configured database (creating the schema if needed), state and queue.

    Without ``QBANK_REDIS_URL`` jobs run in this process (the same in-process queue the API
    uses when both are served by ``qbank demo``); with it they go to ``qbank worker``.
    """
    enable_compile_cache(settings)  # a run of shapes seen before starts without XLA's compile
    engine = make_engine(settings.database_url)
    init_schema(engine)
    return DashboardContext(
        settings, engine, make_session_factory(engine),
        make_state_store(settings.redis_url, settings.state_prefix),
        make_job_queue(settings.redis_url, settings.rq_queue),
        make_login_throttle(settings.redis_url, settings.state_prefix),
    )  # fmt: skip
