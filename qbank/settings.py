"""Runtime configuration from ``QBANK_*`` environment variables, read once per entry point."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qbank.errors import ConfigError

__all__ = ["DEFAULT_SECRET", "Settings", "enable_compile_cache"]

DEFAULT_SECRET = "dev-secret-change-me-not-for-production"
ENVIRONMENTS = ("dev", "prod")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qbank"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an entry point needs to build its engine, state store and job queue."""

    database_url: str  # QBANK_DATABASE_URL; default sqlite:///<data dir>/qbank.db
    redis_url: str | None = None  # QBANK_REDIS_URL; unset → in-process state and jobs
    env: str = "dev"  # QBANK_ENV: dev | prod
    secret: str = DEFAULT_SECRET  # QBANK_SECRET: JWT signing key; prod refuses the default
    max_daily_exposures: int = 500  # QBANK_MAX_DAILY_EXPOSURES: per item version and UTC day
    tenant_id: str = "default"  # QBANK_TENANT_ID: tenant of CLI commands and the demo
    data_dir: Path = Path(".")  # QBANK_DATA_DIR: where the embedded database lives
    rq_queue: str = "qbank"  # QBANK_RQ_QUEUE: the RQ queue jobs go to and workers serve
    state_prefix: str = "qbank"  # QBANK_STATE_PREFIX: prefix of every Redis state key
    max_active_quizzes: int = 10  # QBANK_MAX_ACTIVE_QUIZZES: per student, at a time
    max_quizzes_per_day: int = 100  # QBANK_MAX_QUIZZES_PER_DAY: per student and UTC day
    # QBANK_COMPILE_CACHE: directory of JAX's persistent compilation cache, so that a process
    # reuses the XLA programs an earlier one compiled; default <data dir>/jax-cache, "off"
    # disables it. None (the default of a directly built Settings) means off.
    compile_cache: Path | None = None

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"QBANK_ENV must be dev or prod, got {self.env!r}")
        if self.env == "prod" and (not self.secret or self.secret == DEFAULT_SECRET):
            raise ConfigError("QBANK_ENV=prod needs QBANK_SECRET set to a non-default value")
        if self.env == "prod" and len(self.secret) < 32:
            raise ConfigError("QBANK_SECRET must be at least 32 characters in prod (HS256 key)")
        if self.max_daily_exposures < 1:
            raise ConfigError("QBANK_MAX_DAILY_EXPOSURES must be >= 1")
        if not self.tenant_id:
            raise ConfigError("QBANK_TENANT_ID must not be empty")
        if self.max_active_quizzes < 1 or self.max_quizzes_per_day < 1:
            raise ConfigError("QBANK_MAX_ACTIVE_QUIZZES and QBANK_MAX_QUIZZES_PER_DAY must be >= 1")
        if not self.database_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg2:")):
            raise ConfigError(
                "QBANK_DATABASE_URL must be sqlite:///… or postgresql://…, "
                f"got {self.database_url.split(':', 1)[0]}:…"
            )

    @property
    def uses_redis(self) -> bool:
        """True when state and jobs go to Redis/RQ."""
        return bool(self.redis_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``QBANK_*`` variables (``os.environ`` by default).

        Raises:
            ConfigError: a value is missing or invalid.
        """
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("QBANK_DATA_DIR") or _default_data_dir())
        database_url = env.get("QBANK_DATABASE_URL") or f"sqlite:///{data_dir / 'qbank.db'}"
        try:
            max_daily = int(env.get("QBANK_MAX_DAILY_EXPOSURES", "500"))
            max_active = int(env.get("QBANK_MAX_ACTIVE_QUIZZES", "10"))
            max_per_day = int(env.get("QBANK_MAX_QUIZZES_PER_DAY", "100"))
        except ValueError:
            raise ConfigError(
                "QBANK_MAX_DAILY_EXPOSURES, QBANK_MAX_ACTIVE_QUIZZES and QBANK_MAX_QUIZZES_PER_DAY "
                "must be integers"
            ) from None
        return cls(
            database_url=database_url,
            redis_url=env.get("QBANK_REDIS_URL") or None,
            env=env.get("QBANK_ENV", "dev"),
            secret=env.get("QBANK_SECRET", DEFAULT_SECRET),
            max_daily_exposures=max_daily,
            tenant_id=env.get("QBANK_TENANT_ID", "default"),
            data_dir=data_dir,
            rq_queue=env.get("QBANK_RQ_QUEUE", "qbank"),
            state_prefix=env.get("QBANK_STATE_PREFIX", "qbank"),
            max_active_quizzes=max_active,
            max_quizzes_per_day=max_per_day,
            compile_cache=_compile_cache_dir(env.get("QBANK_COMPILE_CACHE"), data_dir),
        )


def _compile_cache_dir(value: str | None, data_dir: Path) -> Path | None:
    if value is None or not value.strip():
        return data_dir / "jax-cache"
    if value.strip().lower() in ("off", "0", "false", "no", "none"):
        return None
    return Path(value.strip())


def enable_compile_cache(settings: Settings) -> Path | None:
    """Point JAX's persistent compilation cache at ``settings.compile_cache``; its path or None.

    Before JAX is imported this only sets ``JAX_COMPILATION_CACHE_DIR`` (and caches every
    program, however quick its compile), so a command that never uses JAX does not pay for
    importing it; afterwards it updates JAX's config. A directory that cannot be created
    leaves the cache off: it is an optimisation, never a reason to fail.
    """
    import sys

    folder = settings.compile_cache
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if "jax" not in sys.modules:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder))
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        return folder
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # type: ignore[no-untyped-call]
    return folder
