"""Command line: `python -m entrypoints.cli synth|voices|doctor` (console script `f5-tts-worker`).

It drives the same WorkerService as the RunPod worker, so a request behaves the same
from a terminal as through `/runsync`.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

from container import build_container
from entrypoints.logging_setup import configure_logging
from entrypoints.service import WorkerService
from ports.audio_encoder import FORMAT_NAMES
from settings import SettingsError, load_settings


def _handle(args: argparse.Namespace, job: dict[str, Any]) -> dict[str, Any]:
    """One job through a fresh container, whose resources (the batcher's thread) are released after."""
    container = build_container(settings=args.settings)
    try:
        return WorkerService(container.app()).handle(job, "cli")
    finally:
        container.shutdown_resources()


def _answer(output: dict[str, Any]) -> int:
    if "error" in output:
        print(output["error"], file=sys.stderr)
        return 1
    print(json.dumps(output, indent=2))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """`text` may hold [pause:..] and [voice:..] tags; `--segment VOICE=TEXT` (repeatable) is
    the job's structured `segments` instead."""
    job: dict[str, Any] = {"format": args.format, "return": "base64", "normalize": not args.no_normalize}
    if args.segment:
        job["segments"] = [dict(zip(("voice", "text"), item.split("=", 1), strict=True)) for item in args.segment]
    if args.text is not None:
        job["text"] = args.text
    optional = {"local_voice": args.voice, "seed": args.seed, "speed": args.speed, "nfe_step": args.nfe_step,
                "model": args.model, "language": args.language}  # fmt: skip
    job.update({key: value for key, value in optional.items() if value is not None})
    output = _handle(args, job)
    if "error" in output:
        return _answer(output)
    out = Path(args.out or f"output.{args.format}")
    out.write_bytes(base64.b64decode(output.pop("audio_base64")))
    output["file"] = str(out)
    return _answer(output)


def cmd_voices(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _answer(_handle(args, {"endpoint": "list_voices"}))
    if args.action == "delete":
        return _answer(_handle(args, {"endpoint": "delete_voice", "voice_name": args.name}))
    job: dict[str, Any] = {"endpoint": "upload", "voice_name": args.name, "overwrite": args.overwrite}
    if args.example == (args.source is not None):
        print("give either an audio file (or URL) or --example", file=sys.stderr)
        return 2
    if args.example:  # a clip every installation has, so the README's examples run as written
        example = build_container(settings=args.settings).packaged_voice()
        job["voice_file_base64"] = base64.b64encode(example.load()).decode("ascii")
        job["ref_text"] = example.ref_text
    elif args.source.startswith(("http://", "https://")):
        job["voice_file_url"] = args.source
    else:
        job["voice_file_base64"] = base64.b64encode(Path(args.source).read_bytes()).decode("ascii")
    if args.ref_text:
        job["ref_text"] = args.ref_text
    job.update({key: value for key, value in (("model", args.model), ("language", args.language)) if value})
    return _answer(_handle(args, job))


def cmd_doctor(args: argparse.Namespace) -> int:
    """Each check on its own line with its time; exit 1 when any fails."""
    container = build_container(settings=args.settings)
    failures = 0

    def line(name: str, ok: bool, seconds: float, detail: str = "", warn: bool = False) -> None:
        nonlocal failures
        failures += not ok and not warn
        print(f"{'ok  ' if ok else 'WARN' if warn else 'FAIL'} {name:<22} {seconds * 1000:8.1f} ms  {detail}")

    settings = container.settings()
    print(f"engine={settings.tts_engine} store={settings.resolved_storage_url}")
    start = time.perf_counter()
    try:
        store = container.store()
        line("store configured", True, time.perf_counter() - start)
    except Exception as exc:
        line("store configured", False, time.perf_counter() - start, str(exc))
        return 1
    for check in store.check():
        line(f"store {check.name}", check.ok, check.seconds, check.detail)
    if settings.resolved_storage_url.startswith(("s3://", "s3a://")):
        start = time.perf_counter()
        try:
            rule = store.expiry_rule("outputs/")
        except Exception as exc:
            line("outputs lifecycle", False, time.perf_counter() - start, str(exc), warn=True)
        else:
            missing = "no lifecycle rule expires outputs/: answers pile up forever (README: Storage)"
            line("outputs lifecycle", rule is not None, time.perf_counter() - start, rule or missing, warn=True)
    if not args.skip_engine:
        start = time.perf_counter()
        try:
            engine = container.engine()
            line("engine loaded", True, time.perf_counter() - start, engine.model_id)
        except Exception as exc:
            line("engine loaded", False, time.perf_counter() - start, str(exc))
    start = time.perf_counter()
    aligner = container.aligner()
    if not aligner.available:
        line("aligner weights", True, 0.0, f"absent: timestamps are refused ({aligner.detail})")
    elif args.skip_engine:
        line("aligner weights", True, time.perf_counter() - start, aligner.detail)
    else:
        try:
            getattr(aligner, "warm_up", lambda: None)()
            line("aligner loaded", True, time.perf_counter() - start, aligner.detail)
        except Exception as exc:
            line("aligner loaded", False, time.perf_counter() - start, str(exc))
    start = time.perf_counter()
    try:
        container.voices().info("default")
        line("default voice", True, time.perf_counter() - start)
    except Exception as exc:
        line("default voice", False, time.perf_counter() - start, str(exc))
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
