"""Wyoming TTS server (Home Assistant): `python -m entrypoints.wyoming_server [--uri tcp://HOST:PORT]`.

A third way in, beside the RunPod worker and the OpenAI server, over the same container and
use cases, so the same voices (aliases included), text front-end, limits and engine answer:
Home Assistant's Wyoming integration sends `describe` and gets one TTS program whose voices
are the stored voices; `synthesize` gets `audio-start`, 16-bit mono PCM `audio-chunk`s at the
model's rate and `audio-stop`, the first chunk as soon as the first short chunk of text is
spoken (the streaming use case). Streamed text (`synthesize-start`, `synthesize-chunk`s,
`synthesize-stop`) is spoken a sentence at a time as each sentence completes, with an
`audio-start`/`audio-stop` per sentence, then `synthesize-stopped`, as wyoming-piper does.
A refused request (unknown voice, empty or oversized text) answers an `error` event and the
connection stays open; a client that goes away stops its synthesis at the next chunk.

The protocol has no authentication: it listens on loopback unless told otherwise, and serves
only synthesis and the voice list (no upload or delete). The OpenAI server opens this port
itself when WYOMING_URI is set, so one process and one model serve both.
"""

from __future__ import annotations

import argparse
import asyncio

import structlog

from application.bootstrap import bootstrap
from entrypoints.logging_setup import configure_logging
from entrypoints.servers import boot
from entrypoints.wyoming_tts import DEFAULT_URI, WyomingTts, handlers, warn_if_exposed, wyoming_server
from settings import SettingsError, load_settings

log = structlog.get_logger("wyoming")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m entrypoints.wyoming_server", description=__doc__.split("\n")[0])
    parser.add_argument("--uri", default=DEFAULT_URI, help=f"where to listen (default {DEFAULT_URI})")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
    server = wyoming_server(args.uri)
    configure_logging(settings.log_level or "INFO", settings.log_format or "console")
    app = bootstrap(settings)
    try:
        tts = WyomingTts.from_api(boot(app))
        warn_if_exposed(args.uri)
        log.info("wyoming_listening", uri=args.uri)
        asyncio.run(server.run(handlers(tts)))
    except KeyboardInterrupt:
        pass
    finally:
        app.shutdown()


if __name__ == "__main__":
    main()
