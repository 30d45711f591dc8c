"""What the long-running servers (the OpenAI-compatible one and Wyoming) share: their
start-up over the App, and which addresses are private to this machine."""

from __future__ import annotations

import ipaddress
import time

import structlog

from application.app import App

log = structlog.get_logger("worker")


def boot(app: App) -> App:
    """Start the App as the RunPod worker does (default voice, warm-up, store check,
    aliases), except that a failing store leaves the server up, reporting it in `/health`."""
    started = time.perf_counter()
    app.start(require_store=False)
    log.info("server_ready", engine=app.engine.model_id, ready_seconds=round(time.perf_counter() - started, 3))
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
