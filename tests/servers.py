"""Serving the app in tests: uvicorn in a thread on a free port of 127.0.0.1, and Debian's Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(settings: Any, assistant: Any = None, *, port: int | None = None) -> Iterator[str]:
    """The app (server.create_app) under uvicorn on 127.0.0.1; yields its base URL and stops it after."""
    import uvicorn

    from server import create_app

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the service did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def needs_chromium() -> Any:
    """The mark of a browser test: skipped without Debian's Chromium, except in CI, which must run it."""
    import os

    import pytest

    if os.environ.get("CI") and not CHROMIUM.exists():
        raise RuntimeError("CI must run the browser tests: .ci/run installs Debian's chromium")
    return pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")


@contextmanager
def corpus_service(corpus_index: Any, embedder: Any, data: Path) -> Iterator[tuple[str, Any]]:
    """A copy of the bundled corpus's index in ``data``, served; yields the URL and the settings."""
    import shutil

    from assistant.index import IndexSnapshot
    from assistant.service import Assistant
    from assistant.settings import Settings

    shutil.copytree(corpus_index.settings.data_dir, data)
    port = free_port()
    settings = Settings(data_dir=data, allowed_origins=[f"http://127.0.0.1:{port}"])
    with served(settings, Assistant(settings, IndexSnapshot.open(settings), embedder), port=port) as url:
        yield url, settings
