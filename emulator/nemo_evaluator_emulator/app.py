"""Build the emulator's ASGI app: API routes, control routes, error handlers, middleware."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from . import __version__
from .core import Emulator
from .errors import install_error_handlers
from .middleware import EmulatorMiddleware
from .routes_configs import router as configs_router
from .routes_control import router as control_router
from .routes_jobs import router as jobs_router
from .routes_misc import router as misc_router
from .routes_results import router as results_router
from .routes_targets import router as targets_router

__all__ = ["create_app"]


def create_app(emulator: Emulator | None = None) -> ASGIApp:
    """The app, wrapped in the fault/recording middleware (which sees raw requests first)."""
    emu = emulator or Emulator()
    api = FastAPI(
        title="NeMo Evaluator emulator",
        version=__version__,
        description="A stand-in for NVIDIA NeMo Evaluator's v1 API. Scores are synthetic.",
    )
    api.state.emulator = emu
    install_error_handlers(api)
    for router in (
        misc_router,
        configs_router,
        targets_router,
        jobs_router,
        results_router,
        control_router,
    ):
        api.include_router(router)
    return EmulatorMiddleware(api, emu.faults, emu.requests)
