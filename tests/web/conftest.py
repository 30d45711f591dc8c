"""The web page in a real browser: Debian's chromium (never a downloaded one) driven by
Playwright, headless, one browser per test module with a fake microphone that plays a
known recording, and a fresh browser context (storage, permissions) per test, or one tab a
module's tests share, wiped between them (`tests.web.page.wipe`). The browser closes with its
module: Playwright's sync API keeps an event loop running while it is open, and other modules
on the same test process call asyncio.run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import audio_file
from tests.web.page import new_context

CHROMIUM = Path("/usr/bin/chromium")
MICROPHONE_SECONDS = 4.0  # the fake microphone loops this recording


def chromium_args(microphone: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
    ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; make install does it as root)")
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("browser")
    microphone = folder / "microphone.wav"
    microphone.write_bytes(audio_file(MICROPHONE_SECONDS, rate=48000))
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args(microphone))
        yield launched
        launched.close()


@pytest.fixture
def context(browser) -> Iterator[object]:
    made = new_context(browser)
    yield made
    made.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives the headless browser starts chromium: slow, as a worker process is
    (`make test-fast` leaves it out; `make test` runs it)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
