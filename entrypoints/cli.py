"""Command line: `python -m entrypoints.cli synth|voices|doctor` (console script `f5-tts-worker`).

It builds the same App as every way in (`bootstrap`) and its requests through the same field
rules, so a request behaves the same from a terminal as through `/runsync` or the OpenAI server.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import structlog

from application.app import App
from application.bootstrap import bootstrap
from application.fields import TtsOptions, UploadOptions, tts_request, upload_request, validated
from domain.errors import EngineError, InvalidInput, TtsError
from domain.voice import DEFAULT_VOICE, voice_name
from entrypoints.logging_setup import configure_logging
from ports.audio_encoder import FORMAT_NAMES
from settings import Settings, SettingsError, load_settings

log = structlog.get_logger("cli")
#: what a synth answer leaves out: the audio goes to a file; the rest is the run's own bookkeeping
_NOT_SHOWN = frozenset(("audio", "audio_url", "chunks", "timings", "words", "captions", "captions_url"))


def _run(settings: Settings, command: Callable[[App], dict[str, Any]]) -> int:
    """One command over a fresh App, shut down after: its answer as JSON, or its error on
    stderr (anything but a TtsError logged with its traceback, and shown as engine_error)."""
    try:
        app = bootstrap(settings)
        try:
            output = command(app)
        finally:
            app.shutdown()
    except Exception as exc:
        if not isinstance(exc, TtsError):
            log.error("command_crashed", exc_info=exc)
            exc = EngineError("the command failed unexpectedly; the error was logged")
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps({**output, "status": "completed"}, indent=2))
    return 0


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def cmd_synth(args: argparse.Namespace) -> int:
    """`text` may hold [pause:..] and [voice:..] tags; `--segment VOICE=TEXT` (repeatable) is
    the request's structured `segments` instead."""
    segments = [dict(zip(("voice", "text"), item.split("=", 1), strict=True)) for item in args.segment or ()]
    options = _given(segments=segments or None, seed=args.seed, speed=args.speed, nfe_step=args.nfe_step,
                     model=args.model, language=args.language, normalize=not args.no_normalize)  # fmt: skip
    out = Path(args.out or f"output.{args.format}")

    def synth(app: App) -> dict[str, Any]:
        shared = validated(TtsOptions, options)
        result = app.synthesize(tts_request(app.limits, shared, args.text, args.voice, format=args.format))
        out.write_bytes(app.encoder.encode(result.audio, args.format))  # the use case answers samples
        shown = replace(result, audio=None)  # not asdict's deep copy of every sample
        return {k: v for k, v in asdict(shown).items() if v not in (None, ()) and k not in _NOT_SHOWN} | {
            "file": str(out)
        }

    return _run(args.settings, synth)


def cmd_voices(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _run(args.settings, lambda app: {"voices": [voice.public() for voice in app.voices.list()]})
    if args.action == "delete":
        return _run(args.settings, lambda app: {"deleted": app.voices.delete(voice_name(args.name))})
    if args.example == (args.source is not None):
        print("give either an audio file (or URL) or --example", file=sys.stderr)
        return 2

    def upload(app: App) -> dict[str, Any]:
        ref_text, source = args.ref_text, args.source
        if args.example:  # the built-in voice's clip, on every installation: the README's examples run as written
            ref_text, source = ref_text or app.voices.info(DEFAULT_VOICE).ref_text, app.voices.audio(DEFAULT_VOICE)
        elif not source.startswith(("http://", "https://")):
            try:
                source = Path(source).read_bytes()
            except OSError as exc:
                raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
        options = _given(ref_text=ref_text, overwrite=args.overwrite, model=args.model, language=args.language)
        uploaded = app.upload_voice(upload_request(args.name, source, app.limits, validated(UploadOptions, options)))
        return {"voice": uploaded.voice.public(), "transcribed": uploaded.transcribed}

    return _run(args.settings, upload)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Each check on its own line with its time; exit 1 when any fails."""
    failures = 0

    def line(name: str, ok: bool, seconds: float, detail: str = "", warn: bool = False) -> None:
        nonlocal failures
        failures += not ok and not warn
        print(f"{'ok  ' if ok else 'WARN' if warn else 'FAIL'} {name:<22} {seconds * 1000:8.1f} ms  {detail}")

    def timed(name: str, step: Callable[[], object], warn: bool = False) -> None:
        """A line for `step`: ok (with the text it answers, if any), else failed with what it raised."""
        start = time.perf_counter()
        try:
            detail, ok = step(), True
        except Exception as exc:
            detail, ok = str(exc), False
        line(name, ok, time.perf_counter() - start, detail if isinstance(detail, str) else "", warn)

    def lifecycle() -> str:
        if (rule := apps[0].store.expiry_rule("outputs/")) is None:
            raise LookupError("no lifecycle rule expires outputs/: answers pile up forever (README: Storage)")
        return rule

    def load() -> str:
        apps.append(bootstrap(settings))
        return apps[-1].engine.model_id

    settings, apps = args.settings, []
    print(f"engine={settings.tts_engine} store={settings.resolved_storage_url}")
    # all but the model, over the stand-in engine (with the aligner the worker would have)
    stand_in = {"tts_engine": "fake", "aligner_path": settings.resolved_aligner_path}
    fake = settings if settings.tts_engine == "fake" else settings.model_copy(update=stand_in)
    timed("store configured", lambda: apps.append(bootstrap(fake)))
    if not apps:
        return 1
    try:
        for check in apps[0].health()["store"]:
            line(f"store {check['check']}", check["ok"], check["seconds"], check["detail"])
        if settings.resolved_storage_url.startswith(("s3://", "s3a://")):
            timed("outputs lifecycle", lifecycle, warn=True)
        if not args.skip_engine:
            timed("engine loaded", load)
        aligner = apps[-1].aligner
        if aligner is None or not aligner.available:
            line("aligner weights", True, 0.0, f"absent: timestamps are refused ({aligner and aligner.detail})")
        elif args.skip_engine:
            line("aligner weights", True, 0.0, aligner.detail)
        else:
            timed("aligner loaded", lambda: aligner.warm_up() or aligner.detail)
        timed("default voice", lambda: apps[-1].voices.info(DEFAULT_VOICE))
    finally:
        for app in apps:
            app.shutdown()
    return 1 if failures else 0


def _segment(value: str) -> str:
    if "=" not in value:
        raise argparse.ArgumentTypeError("a segment is VOICE=TEXT")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="f5-tts-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="speak text into an audio file")
    synth.add_argument("text", nargs="?", help="text to speak; may hold [pause:1.5s] and [voice:name] tags")
    synth.add_argument("--segment", action="append", type=_segment, metavar="VOICE=TEXT",
                       help="a segment in its own voice (repeat for a dialogue), instead of text")  # fmt: skip
    synth.add_argument("--no-normalize", action="store_true", help="speak numbers and symbols as written")
    synth.add_argument("--voice")
    synth.add_argument("--out", help="file to write (default output.<format>)")
    synth.add_argument("--format", default="wav", choices=FORMAT_NAMES)
    synth.add_argument("--seed", type=int)
    synth.add_argument("--speed", type=float)
    synth.add_argument("--nfe-step", type=int, dest="nfe_step")
    synth.add_argument("--model", help="a model of TTS_MODELS (default: the voice's, else F5_MODEL)")
    synth.add_argument("--language", help="read numbers in this language (fr, de, ...)")
    synth.set_defaults(run=cmd_synth)

    voices = commands.add_parser("voices", help="list, upload or delete voices")
    actions = voices.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    upload = actions.add_parser("upload")
    upload.add_argument("name")
    upload.add_argument("source", nargs="?", help="an audio file or an http(s) URL")
    example = "instead of a file: the English clip that ships with f5-tts, with its transcript"
    upload.add_argument("--example", action="store_true", help=example)
    upload.add_argument("--ref-text", dest="ref_text")
    upload.add_argument("--overwrite", action="store_true")
    upload.add_argument("--model", help="the model that speaks this voice when a job names none")
    upload.add_argument("--language", help="the language its numbers are read in when a job names none")
    delete = actions.add_parser("delete")
    delete.add_argument("name")
    voices.set_defaults(run=cmd_voices)

    doctor = commands.add_parser("doctor", help="check configuration, store and model")
    doctor.add_argument("--skip-engine", action="store_true", help="do not load the model")
    doctor.set_defaults(run=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(args.settings.log_level or "WARNING", args.settings.log_format or "console")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
