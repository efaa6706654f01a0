"""Runtime configuration from ``QBANK_*`` environment variables, read once per entry point."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from qbank.errors import ConfigError

__all__ = [
    "KNOWN_SECRETS",
    "MIN_SECRET_BYTES",
    "Settings",
    "data_dir_secret",
    "enable_compile_cache",
]

# Secrets that were ever written in QBank's source or docs: public, so never a signing key.
KNOWN_SECRETS = frozenset({"dev-secret-change-me-not-for-production"})
MIN_SECRET_BYTES = 32  # HS256 key: at least the hash's output size (RFC 7518 §3.2)
ENVIRONMENTS = ("dev", "prod")
SECRET_FILE = "secret"  # in the data directory: the dev/demo signing key, made on first use


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qbank"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an entry point needs to build its engine, state store and job queue."""

    database_url: str  # QBANK_DATABASE_URL; default sqlite:///<data dir>/qbank.db
    redis_url: str | None = None  # QBANK_REDIS_URL; unset → in-process state and jobs
    env: str = "prod"  # QBANK_ENV: dev | prod; unset is prod (fail closed)
    secret: str = ""  # QBANK_SECRET: JWT signing key; see secret_problem()
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
        if self.secret in KNOWN_SECRETS:
            raise ConfigError(
                "QBANK_SECRET is a default published in QBank's source; choose your own"
            )
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

    def secret_problem(self) -> str | None:
        """Why ``secret`` cannot sign tokens in this mode, or None when it can.

        Production needs a secret of its own: set, at least 32 bytes and none of the published
        defaults. Dev also accepts none (the entry point then makes a random key).
        """
        if self.secret in KNOWN_SECRETS:
            return "QBANK_SECRET is a default published in QBank's source; choose your own"
        if not self.secret:
            if self.env == "dev":
                return None
            return (
                "QBANK_SECRET is missing or empty; production (QBANK_ENV unset or prod) needs one "
                "of at least 32 random bytes, e.g. from: python3 -c "
                "'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if len(self.secret.encode()) < MIN_SECRET_BYTES:
            return f"QBANK_SECRET must be at least {MIN_SECRET_BYTES} bytes (an HS256 key)"
        return None

    def require_secret(self) -> Settings:
        """These settings, ready to sign tokens: a dev run without a secret gets a random one.

        Raises:
            ConfigError: production without a usable secret (see ``secret_problem``).
        """
        problem = self.secret_problem()
        if problem:
            raise ConfigError(problem)
        if not self.secret:
            return replace(self, secret=secrets.token_urlsafe(48))
        return self

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
            env=env.get("QBANK_ENV") or "prod",
            secret=env.get("QBANK_SECRET", ""),
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


def data_dir_secret(data_dir: Path) -> str:
    """The random signing key of a data directory (``<data dir>/secret``), made on first use.

    Every process serving the same data directory (``qbank demo``, ``qbank serve --workers``
    in dev) reads the same key, so their tokens are valid across them; no two directories share
    one, and none is a constant of the source.
    """
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{SECRET_FILE}.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:  # atomic: of processes starting together, the first link wins, all read it
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"cannot read the dev secret {path}: {error}") from None
    if len(key.encode()) < MIN_SECRET_BYTES:  # a writer that is still writing, or a bad file
        raise ConfigError(f"{path} holds no usable secret; delete it to make a new one")
    return key
