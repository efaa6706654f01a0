"""What every request handler needs: settings, database sessions, state store, job queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from qbank.jobs.queue import JobQueue, make_job_queue
from qbank.services.access.throttle import InMemoryLoginThrottle, LoginThrottle, make_login_throttle
from qbank.settings import Settings
from qbank.state import StateStore, make_state_store
from qbank.store.db import init_schema, make_engine, make_session_factory

__all__ = ["Runtime", "build_runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Process-wide resources, built once by the app factory."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    state: StateStore
    queue: JobQueue
    throttle: LoginThrottle = field(default_factory=InMemoryLoginThrottle)  # failed logins


def build_runtime(settings: Settings) -> Runtime:
    """Connect to the configured database (creating the schema if needed), state and queue."""
    engine = make_engine(settings.database_url)
    init_schema(engine)
    return Runtime(settings, engine, make_session_factory(engine),
                   make_state_store(settings.redis_url, settings.state_prefix),
                   make_job_queue(settings.redis_url, settings.rq_queue),
                   make_login_throttle(settings.redis_url, settings.state_prefix))  # fmt: skip
