"""Takes the README's screenshot of the web page (docs/web-page.png): the server on the fake
engine in this process, Debian's headless chromium, a voice added and a sentence spoken
with its words highlighted. `.venv/bin/python scripts/web_screenshot.py [OUT.png]`."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from application.bootstrap import bootstrap  # noqa: E402
from container import build_container  # noqa: E402
from tests.e2e.openai_server import serving_in_process  # noqa: E402
from tests.helpers import audio_file  # noqa: E402
from tests.web.conftest import CHROMIUM, chromium_args  # noqa: E402
from tests.web.page import add_voice_from_file, generate  # noqa: E402

TEXT = "Hello! This voice was cloned from a short recording. [pause:1s] Words light up as they are spoken."


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        microphone = Path(folder) / "microphone.wav"
        microphone.write_bytes(audio_file(3.0, rate=48000))
        container = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{folder}/store"})
        try:
            with serving_in_process(bootstrap(container=container)) as server, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args(microphone))
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(f"{server.base_url}/")
                page.wait_for_selector("body[data-ready]")
                add_voice_from_file(page, "narrator", audio_file(3.0), "Hello, this is my own voice.")
                page.get_by_role("button", name="Play narrator").wait_for()
                generate(page, TEXT, voice="narrator", seed=42)
                page.wait_for_function("Number(document.querySelector('#readalong').dataset.time) > 1.2")
                page.get_by_text("Show the call").click()
                png = page.screenshot(full_page=True)
                browser.close()
        finally:
            container.shutdown_resources()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64)
    image.save(out, optimize=True)
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "web-page.png")
