"""The Litestar application factory: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException

from api.docs import docs_assets_router, openapi_config
from api.errors import (
    domain_error_response,
    http_error_response,
    undecodable_body_response,
    unexpected_error_response,
)
from api.routes import admin, authoring, public, quizzes
from api.runtime import Runtime, build_runtime
from api.strict import strict_json_body
from qbank import __version__
from qbank.errors import QBankError
from qbank.services.calibration.run_sweep import RunSweeper
from qbank.settings import Settings, enable_compile_cache

__all__ = ["create_app"]


def _provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app on ``settings`` (from ``QBANK_*`` variables when omitted)."""
    # Fail closed: production without a usable secret does not start (ConfigError); a dev run
    # without one signs with a random key of this process.
    runtime = build_runtime((settings or Settings.from_env()).require_secret())
    enable_compile_cache(runtime.settings)  # in-process runs reuse earlier processes' XLA code
    # Mock login exists only in dev: in production the route is not there at all (404).
    dev_routes = [public.mock_login] if runtime.settings.env == "dev" else []
    # Every API process sweeps: a run whose job or worker vanished is failed within 60 s.
    sweeper = RunSweeper(runtime.sessions, runtime.queue)

    def start() -> None:
        sweeper.start()

    def close() -> None:
        sweeper.stop()
        runtime.engine.dispose()

    return Litestar(
        route_handlers=[
            public.health,
            public.login,
            *dev_routes,
            *authoring.ROUTES,
            *quizzes.ROUTES,
            *admin.ROUTES,
            docs_assets_router(),
        ],
        before_request=strict_json_body,  # wrong JSON types are a 400, not coerced
        dependencies={"runtime": Provide(_provide_runtime, sync_to_thread=False)},
        exception_handlers={
            QBankError: domain_error_response,
            HTTPException: http_error_response,
            UnicodeDecodeError: undecodable_body_response,
            RecursionError: undecodable_body_response,
            Exception: unexpected_error_response,
        },
        state=State({"runtime": runtime}),
        on_startup=[start],
        on_shutdown=[close],
        openapi_config=openapi_config("QBank API", __version__),
        signature_namespace={"Runtime": Runtime},
    )
