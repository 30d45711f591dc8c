"""The one place that knows every concrete adapter and reads the environment.

Everything is a Singleton: the model, the store and the use cases are built once when
the worker boots, never per job. Heavy adapters (torch, transformers) are imported only
when selected, so the fake engine starts in a fraction of a second.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

from dependency_injector import containers, providers

from adapters.disk_cache import DiskCache
from adapters.fake_engine import FakeEngine
from adapters.fake_transcriber import FakeTranscriber
from adapters.fsspec_store import FsspecStore
from adapters.http_fetcher import HttpFetcher
from adapters.micro_batcher import MicroBatcher
from adapters.packaged_voice import default_voice
from adapters.soundfile_codec import SoundfileCodec
from domain.use_cases.synthesize import Synthesize
from domain.use_cases.voices import DeleteVoice, ListVoices, UploadVoice
from domain.voice import DEFAULT_VOICE
from domain.voice_library import VoiceLibrary
from entrypoints.jobs import Limits
from entrypoints.service import WorkerService

DEFAULT_LOCAL_STORE = "file://./data"


def storage_url(environ: Mapping[str, str]) -> str:
    """`STORAGE_URL`, else the seed's `S3_BUCKET`, else a folder beside the worker."""
    if environ.get("STORAGE_URL"):
        return environ["STORAGE_URL"]
    if environ.get("S3_BUCKET"):
        return f"s3://{environ['S3_BUCKET']}"
    return DEFAULT_LOCAL_STORE


def s3_options(environ: Mapping[str, str]) -> dict[str, object]:
    """s3fs settings from the seed's variables; credentials stay with botocore, which reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY itself, so they never pass through our code."""
    config: dict[str, object] = {
        "connect_timeout": 5,
        "read_timeout": 30,
        "retries": {"max_attempts": 3, "mode": "standard"},
        "signature_version": "s3v4",  # presigned URLs B2/R2 accept; botocore may pick v2 otherwise
    }
    options: dict[str, object] = {"use_listings_cache": False, "skip_instance_cache": True}
    if environ.get("AWS_ENDPOINT_URL"):
        options["endpoint_url"] = environ["AWS_ENDPOINT_URL"]
        # B2 and other S3-compatible stores reject the checksum headers recent botocore
        # sends by default; compute them only when an operation requires them.
        if not environ.get("AWS_REQUEST_CHECKSUM_CALCULATION"):
            config["request_checksum_calculation"] = "when_required"
        if not environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION"):
            config["response_checksum_validation"] = "when_required"
    if environ.get("AWS_REGION"):
        options["client_kwargs"] = {"region_name": environ["AWS_REGION"]}
    options["config_kwargs"] = config
    return options


def _store(url: str, public_base_url: str | None, s3: dict[str, object]) -> FsspecStore:
    if url.startswith(("s3://", "s3a://")):
        # botocore retries (standard mode: 3 attempts with backoff); s3fs adds none on top.
        return FsspecStore(url, public_base_url=public_base_url, retries=1, **s3)
    return FsspecStore(url, public_base_url=public_base_url)


def _f5_engine(**settings: object) -> object:
    from adapters.f5_engine import build_f5_engine

    return build_f5_engine(**settings)  # type: ignore[arg-type]


def _whisper(model: str) -> object:
    from adapters.whisper_transcriber import WhisperTranscriber

    return WhisperTranscriber(model=model)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    # --- gateways -------------------------------------------------------------
    store = providers.Singleton(
        _store, url=config.storage_url, public_base_url=config.public_base_url, s3=config.s3_options
    )
    disk_cache = providers.Singleton(DiskCache, directory=config.voice_cache_dir, max_bytes=config.voice_cache_bytes)
    codec = providers.Singleton(SoundfileCodec)
    fetcher = providers.Singleton(HttpFetcher, max_bytes=config.max_voice_bytes)
    engine = providers.Selector(
        config.engine,
        fake=providers.Singleton(FakeEngine),
        f5=providers.Singleton(
            _f5_engine,
            model=config.f5.model,
            ckpt_file=config.f5.ckpt_file,
            vocab_file=config.f5.vocab_file,
            vocoder_path=config.f5.vocoder_path,
            model_dir=config.f5.model_dir,
            dtype=config.f5.dtype,
            compile=config.f5.compile,
            device=config.f5.device,
            max_batch_frames=config.batch_max_frames,
        ),
    )
    batched_engine = providers.Singleton(
        MicroBatcher, engine=engine, max_items=config.batch_max_items, wait_ms=config.batch_wait_ms
    )
    transcriber = providers.Selector(
        config.engine,
        fake=providers.Singleton(FakeTranscriber),
        f5=providers.Singleton(_whisper, model=config.asr_model),
    )

    # --- domain services and use cases ------------------------------------------
    voices = providers.Singleton(
        VoiceLibrary,
        store=store,
        codec=codec,
        builtins=providers.Dict({DEFAULT_VOICE: providers.Singleton(default_voice)}),
        disk_cache=disk_cache,
    )
    synthesize = providers.Singleton(
        Synthesize, engine=batched_engine, voices=voices, codec=codec, store=store, url_ttl=config.output_url_ttl
    )
    upload_voice = providers.Singleton(
        UploadVoice,
        voices=voices,
        codec=codec,
        fetcher=fetcher,
        transcriber=transcriber,
        max_seconds=config.max_voice_seconds,
    )
    list_voices = providers.Singleton(ListVoices, voices=voices)
    delete_voice = providers.Singleton(DeleteVoice, voices=voices)

    # --- entrypoint ---------------------------------------------------------------
    limits = providers.Singleton(Limits, max_text_chars=config.max_text_chars, max_voice_bytes=config.max_voice_bytes)
    service = providers.Singleton(
        WorkerService,
        synthesize=synthesize,
        upload_voice=upload_voice,
        list_voices=list_voices,
        delete_voice=delete_voice,
        store=store,
        limits=limits,
    )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def build_container(environ: Mapping[str, str] | None = None) -> Container:
    """A container configured from the environment table in the README."""
    env = os.environ if environ is None else environ
    engine = env.get("TTS_ENGINE", "f5").strip().lower() or "f5"
    if engine not in ("f5", "fake"):
        raise SystemExit(f"TTS_ENGINE must be 'f5' or 'fake', got {engine!r}")
    container = Container()
    container.config.from_dict(
        {
            "storage_url": storage_url(env),
            "public_base_url": env.get("PUBLIC_BASE_URL") or None,
            "s3_options": s3_options(env),
            "voice_cache_dir": env.get("VOICE_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "f5-voice-cache"),
            "voice_cache_bytes": _int(env, "VOICE_CACHE_BYTES", 512 * 1024 * 1024),
            "engine": engine,
            "f5": {
                "model": env.get("F5_MODEL") or "F5TTS_v1_Base",
                "ckpt_file": env.get("F5_CKPT_FILE") or None,
                "vocab_file": env.get("F5_VOCAB_FILE") or None,
                "vocoder_path": env.get("VOCODER_PATH") or None,
                "model_dir": env.get("MODEL_DIR") or None,
                "dtype": env.get("TTS_DTYPE") or None,
                "compile": _flag(env.get("TTS_COMPILE")),
                "device": env.get("TTS_DEVICE") or None,
            },
            "asr_model": env.get("ASR_MODEL") or "openai/whisper-large-v3-turbo",
            "max_text_chars": _int(env, "MAX_TEXT_CHARS", 20_000),
            "max_voice_bytes": _int(env, "MAX_VOICE_BYTES", 50 * 1024 * 1024),
            "max_voice_seconds": float(_int(env, "MAX_VOICE_SECONDS", 60)),
            "output_url_ttl": min(_int(env, "OUTPUT_URL_TTL", 3600), 7 * 24 * 3600),
            "batch_max_items": _int(env, "BATCH_MAX_ITEMS", 16),
            "batch_max_frames": _int(env, "BATCH_MAX_FRAMES", 32768),
            "batch_wait_ms": float(_int(env, "BATCH_WAIT_MS", 5)),
        }
    )
    return container
