"""The one place that knows every concrete adapter; it is configured by a `Settings` object.

Everything is a Singleton: the model, the store and the use cases are built once when
the worker boots, never per job. The micro-batcher's thread is a Resource: it starts with
the first use and stops at `shutdown_resources()`. Heavy adapters (torch, transformers) are
imported only when selected, so the fake engine starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping

from adapters.av_encoder import AvEncoder
from adapters.chinese_numbers import ChineseNumbers
from adapters.disk_cache import DiskCache
from adapters.english_numbers import EnglishNumbers
from adapters.f5.config import EngineConfig
from adapters.fake_aligner import FakeAligner
from adapters.fake_engine import FakeEngine
from adapters.fake_transcriber import FakeTranscriber
from adapters.fsspec_store import FsspecStore
from adapters.micro_batcher import AlignBatcher, MicroBatcher
from adapters.model_registry import LoadedEngine, LruModelRegistry, ModelSpec
from adapters.num2words_numbers import Num2WordsNumbers, languages
from adapters.output_sweeper import FolderOutputSweeper
from adapters.packaged_voice import default_voice

# the RunPod entrypoint imports runpod through here (it names no adapter): without py-cpuinfo's probe
from adapters.runpod_import import import_runpod_in_background as import_runpod_in_background
from adapters.soundfile_codec import SoundfileCodec
from adapters.step_scheduler import RowEngine, StepScheduler
from adapters.voice_prep import ModelVoice
from application.app import App
from application.concurrency import concurrency as worker_concurrency
from application.limits import Limits
from domain.text.normalize import TextNormalizer
from domain.timing import StageTimer
from domain.use_cases.outputs import StoreOutput
from domain.use_cases.synthesize import Synthesize
from domain.use_cases.voices import UploadVoice
from domain.voice import DEFAULT_VOICE
from domain.voice_library import VoiceLibrary
from ports.aligner import Aligner
from ports.blob_store import BlobStore
from ports.tts_engine import TtsEngine
from settings import Settings, load_settings


@contextlib.contextmanager
def _hidden(*modules: str) -> Iterator[None]:
    """Makes `modules` (those not imported yet) fail to import inside the block, then
    importable again. dependency_injector's wiring module probes FastAPI, fast-depends,
    Starlette and Werkzeug when it is imported, for wiring markers this project never uses
    (nothing here is wired): where FastAPI is installed that import cost the worker's start
    0.13 s on a 2-core CPU, for a web framework the RunPod worker does not serve with."""
    hidden = [name for name in modules if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


with _hidden("fastapi", "fast_depends", "starlette", "werkzeug"):
    from dependency_injector import containers, providers


def s3_options(settings: Settings) -> dict[str, object]:
    """s3fs settings from the seed's variables; credentials stay with botocore, which reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY itself, so they never pass through our code."""
    config: dict[str, object] = {
        "connect_timeout": 5,
        "read_timeout": 30,
        "retries": {"total_max_attempts": settings.aws_max_attempts, "mode": "standard"},
        "signature_version": "s3v4",  # presigned URLs B2/R2 accept; botocore may pick v2 otherwise
    }
    options: dict[str, object] = {"use_listings_cache": False, "skip_instance_cache": True}
    if settings.aws_endpoint_url:
        options["endpoint_url"] = settings.aws_endpoint_url
        # B2 and other S3-compatible stores reject the checksum headers recent botocore
        # sends by default; compute them only when an operation requires them.
        if not settings.aws_request_checksum_calculation:
            config["request_checksum_calculation"] = "when_required"
        if not settings.aws_response_checksum_validation:
            config["response_checksum_validation"] = "when_required"
    if settings.aws_region:
        options["client_kwargs"] = {"region_name": settings.aws_region}
    options["config_kwargs"] = config
    return options


def _store(settings: Settings) -> FsspecStore:
    url, public_base_url = settings.resolved_storage_url, settings.public_base_url
    if url.startswith(("s3://", "s3a://")):
        # botocore retries (standard mode: AWS_MAX_ATTEMPTS tries with backoff); s3fs adds none on top.
        return FsspecStore(url, public_base_url=public_base_url, retries=1, **s3_options(settings))
    return FsspecStore(url, public_base_url=public_base_url)


def _output_sweeper(store: BlobStore, settings: Settings) -> FolderOutputSweeper | None:
    """Only a folder store needs one: S3 and B2 expire outputs with a lifecycle rule."""
    root = store.local_root
    retention = settings.output_retention_seconds
    if root is None or retention <= 0:
        return None
    return FolderOutputSweeper(root, retention)


def engine_config(settings: Settings, **files: str | None) -> EngineConfig:
    """The F5 engine's configuration from `settings`; `files` (model, ckpt_file, vocab_file)
    replace the default model's, for a TTS_MODELS entry."""
    config = EngineConfig(
        model=settings.f5_model,
        ckpt_file=settings.f5_ckpt_file,
        vocab_file=settings.f5_vocab_file,
        vocoder_path=settings.vocoder_path,
        model_dir=settings.model_dir,
        dtype=settings.tts_dtype,
        compile=settings.tts_compile,
        device=settings.tts_device,
        runner=settings.tts_runner,
        max_graphs=settings.tts_max_graphs,
        max_batch_frames=settings.batch_max_frames,
    )
    return dataclasses.replace(config, **files)


def _f5_engine(config: EngineConfig, timer: StageTimer, make_runner: Callable[..., object]) -> object:
    with timer.stage("imports_engine"):  # torch and the engine's modules
        from adapters.f5.engine import build_f5_engine

    return build_f5_engine(config, timer=timer, make_runner=make_runner)  # type: ignore[arg-type]


def _runner_factory() -> Callable[..., object]:
    """How the F5 engine builds its ODE runner (runner.make_runner), imported when the
    engine is. A provider so that a benchmark overrides it: benchmarks/paced_worker.py serves
    with a clock in the DiT's place."""
    from adapters.f5.runner import make_runner

    return make_runner


def _imported(module: str, name: str) -> Callable[..., object]:
    """An adapter whose module is imported only when it is first built: the aligner's and the
    transcriber's import torch and transformers, and the voice fetcher's imports runpod, which
    the worker imports beside the model's loading instead of before it (entrypoints/runpod_handler.py)."""
    return lambda *args, **kwargs: getattr(importlib.import_module(module), name)(*args, **kwargs)


DEFAULT_BATCH_ITEMS = 16  # the aligner's batch where BATCH_MAX_ITEMS is unset


def _micro_batcher(engine: TtsEngine, max_items: int, wait_ms: float) -> Iterator[MicroBatcher | StepScheduler]:
    """Started on first use, closed by `shutdown_resources()` (not by garbage collection:
    whoever holds the container decides when the thread stops). A batch holds `max_items`
    (application/concurrency.py). An engine that runs items row by row (F5) gets the step
    scheduler: jobs join its batch at the next ODE step, so it does not wait for company
    (`wait_ms`)."""
    batcher = _started_batcher(engine, max_items, wait_ms)
    yield batcher
    batcher.close()


def _started_batcher(engine: TtsEngine, max_items: int, wait_ms: float) -> MicroBatcher | StepScheduler:
    if isinstance(engine, RowEngine):
        return StepScheduler(engine, max_rows=max_items).start()
    return MicroBatcher(engine, max_items=max_items, wait_ms=wait_ms).start()


def _align_batcher(aligner: Aligner, max_items: int | None, wait_ms: float) -> Iterator[AlignBatcher]:
    """Like the micro-batcher: a thread from first use to `shutdown_resources()`; the model
    inside still loads only when a job first asks for timestamps."""
    batcher = AlignBatcher(aligner, max_items=max_items or DEFAULT_BATCH_ITEMS, wait_ms=wait_ms).start()
    yield batcher
    batcher.close()


def _model_builder(
    settings: Settings, runner_factory: Callable[[], Callable[..., object]]
) -> Callable[[ModelSpec], LoadedEngine]:
    """How one TTS_MODELS entry becomes an engine: the worker's own engine kind, built from
    that model's files, behind its own micro-batcher (items of two models never share a
    forward pass); unloading stops the batcher and lets the weights go."""

    def build(spec: ModelSpec) -> LoadedEngine:
        if settings.tts_engine == "fake":
            engine: object = FakeEngine(model_id=spec.name)
        else:
            files = {"model": spec.architecture, "ckpt_file": spec.checkpoint, "vocab_file": spec.vocab}
            engine = _f5_engine(engine_config(settings, **files), StageTimer(), runner_factory())
        batch_items = worker_concurrency(settings, engine.capacity()).batch_items  # type: ignore[attr-defined]
        batcher = _started_batcher(engine, batch_items, settings.batch_wait_ms)  # type: ignore[arg-type]

        def close() -> None:
            batcher.close()
            if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
                sys.modules["torch"].cuda.empty_cache()

        return LoadedEngine(batcher, close)

    return build


def _local_file(settings: Settings) -> Callable[[str], str]:
    """Where a TTS_MODELS file is on this machine: the F5 engine fetches an hf:// one from
    the hub when that is allowed; the fake engine reads paths as given."""
    if settings.tts_engine == "fake":
        return str
    from adapters.f5.loading import hub_or_local

    return lambda path: str(hub_or_local(path, "model file", "TTS_MODELS"))


def _model_registry(
    settings: Settings, default_engine: Callable[[], TtsEngine], runner_factory: Callable[[], Callable[..., object]]
) -> Iterator[LruModelRegistry]:
    """The default model (F5_MODEL, the worker's usual engine) and the TTS_MODELS entries."""
    name = settings.f5_model  # a config name, or a yaml's file name without .yaml
    name = name.rsplit("/", 1)[-1].rsplit(".", 1)[0] if name.endswith((".yaml", ".yml")) else name
    default = ModelSpec(name, settings.f5_model, languages=settings.default_languages, licence=settings.f5_licence)
    others = [
        ModelSpec(e.name, e.architecture, e.checkpoint, e.vocab, tuple(e.languages), e.licence, e.load == "start")
        for e in settings.model_entries
    ]
    build = _model_builder(settings, runner_factory)
    registry = LruModelRegistry(
        default, default_engine, others, build, settings.max_loaded_models, _local_file(settings)
    )
    yield registry.start()
    registry.close()


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    config = settings.provided
    #: where start-up stages are timed (the worker's `worker_ready` breakdown)
    startup_timer = providers.Singleton(StageTimer)

    # --- gateways -------------------------------------------------------------
    store = providers.Singleton(_store, settings=settings)
    output_sweeper = providers.Singleton(_output_sweeper, store=store, settings=settings)
    disk_cache = providers.Singleton(DiskCache, directory=config.voice_cache_dir, max_bytes=config.voice_cache_bytes)
    codec = providers.Singleton(SoundfileCodec)
    encoder = providers.Singleton(AvEncoder, files=codec)
    fetcher = providers.Singleton(_imported("adapters.http_fetcher", "HttpFetcher"), max_bytes=config.max_voice_bytes)
    #: the F5 engine's ODE runner factory; benchmarks override it (see _runner_factory)
    runner_factory = providers.Callable(_runner_factory)
    engine = providers.Selector(
        config.tts_engine,
        fake=providers.Singleton(FakeEngine),
        f5=providers.Singleton(_f5_engine, providers.Singleton(engine_config, settings), startup_timer, runner_factory),
    )
    #: jobs and chunks at once: BATCH_MAX_ITEMS and MAX_CONCURRENCY, else what the engine runs best
    concurrency = providers.Singleton(worker_concurrency, settings=settings, capacity=engine.provided.capacity.call())
    batched_engine = providers.Resource(
        _micro_batcher, engine=engine, max_items=concurrency.provided.batch_items, wait_ms=config.batch_wait_ms
    )
    models = providers.Resource(_model_registry, settings, batched_engine.provider, runner_factory.provider)
    # CTC forced aligner for word timestamps; the fake one only on a fake worker without weights.
    aligner = providers.Selector(
        config.aligner_kind,
        fake=providers.Singleton(FakeAligner),
        ctc=providers.Singleton(_imported("adapters.ctc_aligner", "CtcAligner"), path=config.resolved_aligner_path),
    )
    batched_aligner = providers.Resource(
        _align_batcher, aligner=aligner, max_items=config.batch_max_items, wait_ms=config.batch_wait_ms
    )
    transcriber = providers.Selector(
        config.tts_engine,
        fake=providers.Singleton(FakeTranscriber),
        f5=providers.Singleton(_imported("adapters.whisper_transcriber", "WhisperTranscriber"), model=config.asr_model),
    )

    # --- domain services and use cases ------------------------------------------
    #: the English clip inside the f5-tts package: the built-in voice, and the CLI's `--example`
    packaged_voice = providers.Singleton(default_voice)
    as_model_reads = providers.Singleton(ModelVoice)  # a voice as the engine reads it: 24 kHz, ~12-40 s
    voices = providers.Singleton(
        VoiceLibrary,
        store=store,
        codec=codec,
        builtins=providers.Dict({DEFAULT_VOICE: packaged_voice}),
        cache_bytes=config.voice_memory_bytes,
        disk_cache=disk_cache,
        aliases=config.voice_alias_map,
        as_model_reads=as_model_reads,
    )
    normalizer = providers.Singleton(
        TextNormalizer,
        english=providers.Singleton(EnglishNumbers),
        chinese=providers.Singleton(ChineseNumbers),
        # number words for every language beyond English and Chinese that num2words reads
        others=providers.Singleton(lambda: {language: Num2WordsNumbers(language) for language in languages()}),
    )
    synthesize = providers.Singleton(
        Synthesize,
        engine=batched_engine,
        voices=voices,
        normalizer=normalizer,
        max_audio_seconds=config.max_audio_seconds,
        aligner=batched_aligner,
        batch_items=batched_engine.provided.max_items,
        models=models,
    )
    store_output = providers.Singleton(StoreOutput, store=store, url_ttl=config.output_url_ttl)
    upload_voice = providers.Singleton(
        UploadVoice,
        voices=voices,
        codec=codec,
        fetcher=fetcher,
        transcriber=transcriber,
        max_seconds=config.max_voice_seconds,
        as_model_reads=as_model_reads,
        models=models,
    )

    # --- the application ------------------------------------------------------------
    limits = providers.Singleton(Limits.from_settings, settings)
    #: the container itself, so that the App can stop the Resources' threads
    __self__ = providers.Self()
    app = providers.Singleton(
        App,
        synthesize=synthesize,
        store_output=store_output,
        upload_voice=upload_voice,
        voices=voices,
        store=store,
        encoder=encoder,
        engine=batched_engine,
        limits=limits,
        concurrency=concurrency,
        timer=startup_timer,
        shutdown=__self__.provided.shutdown_resources,
        aligner=batched_aligner,
        sweep_outputs=output_sweeper,
    )


def build_container(environ: Mapping[str, str] | None = None, settings: Settings | None = None) -> Container:
    """A container configured by `settings`, else read from `environ` (default: the process
    environment). A bad value raises SettingsError, one line naming the variable."""
    return Container(settings=settings or load_settings(environ))
