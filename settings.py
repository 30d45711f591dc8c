"""Every setting of the worker, read once from the environment, each default written once.

The variable names are the field names in upper case (`max_text_chars` is `MAX_TEXT_CHARS`);
an empty variable counts as unset, so `FOO=` in a template keeps the default. A bad value
is one line naming the variable (`SettingsError`), which `boot()` reports instead of a
traceback. Only this module and `container.py` know these names; adapters get plain
arguments.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_URL_TTL = 7 * 24 * 3600  # the longest a presigned S3 URL may live
DEFAULT_LOCAL_STORE = "file://./data"

PositiveInt = Annotated[int, Field(ge=1)]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`3600`, `90s`, `30m`, `24h`, `7d` as seconds. ValueError for anything else."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 3600, 30m, 24h or 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


_VOICE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")  # domain.voice's rule, without the .wav suffix


def parse_aliases(text: str) -> dict[str, str]:
    """`alloy=narrator,echo=alice` as {alias: voice}. ValueError for a malformed pair, a name
    the voice naming rule refuses, an alias given twice, or an alias of an alias (an alias
    names a voice, so what it speaks never depends on the order of the list)."""
    aliases: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        alias, equals, voice = (side.strip() for side in pair.partition("="))
        alias, voice = (name[:-4] if name.lower().endswith(".wav") else name for name in (alias, voice))
        if not equals or not _VOICE_NAME.fullmatch(alias) or not _VOICE_NAME.fullmatch(voice):
            raise ValueError(f"{pair!r} is not ALIAS=VOICE with two voice names (letters, digits, '.', '_', '-')")
        if alias in aliases:
            raise ValueError(f"alias {alias!r} is given twice")
        if alias == voice:
            raise ValueError(f"alias {alias!r} names itself")
        aliases[alias] = voice
    chained = sorted(voice for voice in aliases.values() if voice in aliases)
    if chained:
        raise ValueError(f"{chained[0]!r} is an alias and the target of another: point both at the voice itself")
    return aliases


class ModelEntry(BaseModel):
    """One model of TTS_MODELS beside the default (F5_MODEL): its files, architecture (a
    config name f5-tts ships or a yaml path), languages (the first is read when a request
    names none), licence, and whether it loads at start or on first use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    architecture: str = "F5TTS_Base"
    checkpoint: str
    vocab: str
    languages: list[str] = []
    licence: str = ""
    load: Literal["start", "first_use"] = "first_use"


_MODEL_ENTRIES = TypeAdapter(list[ModelEntry])


class SettingsError(ValueError):
    """A setting the worker cannot run with; the message is one line naming the variable."""


class StartupMode(BaseSettings):
    """Read on its own too: a worker whose other settings are bad still knows whether to exit."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    exit_on_startup_failure: bool = False


class Settings(StartupMode):
    # --- storage ------------------------------------------------------------------
    storage_url: str | None = None
    s3_bucket: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str | None = None
    aws_request_checksum_calculation: str | None = None
    aws_response_checksum_validation: str | None = None
    aws_max_attempts: PositiveInt = 4  # botocore's meaning: tries of one S3 call, the first included
    public_base_url: str | None = None
    output_url_ttl: PositiveInt = 3600
    output_retention: str = "24h"  # answers under outputs/ on a folder store; 0 keeps them
    voice_cache_dir: str = Field(default_factory=lambda: os.path.join(tempfile.gettempdir(), "f5-voice-cache"))
    voice_cache_bytes: Annotated[int, Field(ge=0)] = 512 * 1024 * 1024
    voice_memory_bytes: Annotated[int, Field(ge=0)] = 128 * 1024 * 1024  # decoded voices kept in memory

    # --- engine ---------------------------------------------------------------------
    tts_engine: Literal["f5", "fake"] = "f5"
    f5_model: str = "F5TTS_v1_Base"
    model_dir: str | None = None
    f5_ckpt_file: str | None = None
    f5_vocab_file: str | None = None
    vocoder_path: str | None = None
    tts_dtype: Literal["fp32", "fp16", "bf16", "int8"] | None = None  # the loader checks it fits the device
    tts_compile: Literal["off", "on", "background"] = "off"  # 1/0 and true/false read as on/off
    tts_device: str | None = None
    tts_runner: Literal["auto", "eager", "cuda_graph"] = "auto"
    tts_max_graphs: PositiveInt = 24
    asr_model: str = "openai/whisper-large-v3-turbo"
    aligner_path: str | None = None  # word timestamps; default MODEL_DIR/mms-fa
    # --- more models in one worker (README "Languages and models") ---------------------
    f5_languages: str = "en,zh"  # the default model's languages, first-read-first
    f5_licence: str = "cc-by-nc-4.0"
    tts_models: str | None = None  # a JSON list of ModelEntry: models served beside the default
    max_loaded_models: PositiveInt = 2  # of TTS_MODELS resident at once; the least recently used unloads

    # --- limits and batching ------------------------------------------------------
    max_text_chars: PositiveInt = 20_000
    max_text_bytes: PositiveInt = 40_000  # speech length follows UTF-8 bytes, not characters
    # MAX_TEXT_CHARS at 8.3 characters a second, slower than natural speech (13-16), so the
    # longest text fits any sane voice (the default voice speaks 20,000 ASCII characters in
    # about 2,010 s); what passes it comes from a voice or a speed that stretches speech.
    max_audio_seconds: Annotated[float, Field(gt=0)] = 2400.0
    max_voice_bytes: PositiveInt = 50 * 1024 * 1024
    max_voice_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_concurrency: PositiveInt | None = None  # None: from the device (the engine's batch size)
    batch_max_items: PositiveInt | None = None  # None: from the device and the largest captured batch
    batch_max_frames: PositiveInt = 32768
    batch_wait_ms: Annotated[float, Field(ge=0)] = 5.0

    # --- worker mode and logs -------------------------------------------------------
    streaming: bool = False
    log_level: str | None = None  # None: the entrypoint's own default (worker INFO, CLI WARNING)
    log_format: Literal["json", "console"] | None = None
    runpod_log_level: str = "INFO"

    # --- the OpenAI-compatible server (entrypoints/openai_api.py) --------------------------
    api_key: SecretStr | None = None  # clients send it as a bearer token
    allow_no_api_key: bool = False  # listen beyond loopback without API_KEY
    cors_origins: str | None = None  # comma-separated; none: CORS off
    public_list_routes: bool = False  # GET /v1/audio/models and /v1/audio/voices answer without API_KEY

    # --- integrations (README "Plugging in") ----------------------------------------------
    voice_aliases: str | None = None  # alloy=narrator,echo=alice: a name that speaks in a stored voice
    wyoming_uri: str | None = None  # the OpenAI server also serves Wyoming here, e.g. tcp://0.0.0.0:10200
    progress_interval: Annotated[float, Field(ge=0)] = 1.0  # seconds between a RunPod job's progress posts
    server_header_timeout: Annotated[float, Field(gt=0)] = 10.0  # seconds for a request's headers to arrive
    server_body_timeout: Annotated[float, Field(gt=0)] = 120.0  # seconds for its body, after the headers
    server_max_connections: PositiveInt = 256  # open connections; more are answered 503

    @field_validator("tts_engine", "tts_runner", "tts_dtype", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("tts_compile", mode="before")
    @classmethod
    def _compile_mode(cls, value: Any) -> Any:
        if isinstance(value, str | int):  # bool too: str(True) reads as "true"
            text = str(value).strip().lower()
            return {"1": "on", "true": "on", "yes": "on", "0": "off", "false": "off", "no": "off", "": "off"}.get(
                text, text
            )
        return value

    @field_validator("voice_aliases", mode="after")
    @classmethod
    def _check_aliases(cls, value: str | None) -> str | None:
        parse_aliases(value or "")
        return value

    @field_validator("wyoming_uri", mode="after")
    @classmethod
    def _check_wyoming_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(tcp://[^\s/]+:\d+|unix://\S+)", value.strip()):
            raise ValueError("use tcp://HOST:PORT (e.g. tcp://0.0.0.0:10200) or unix://PATH")
        return value.strip() if value else value

    @field_validator("tts_models", mode="after")
    @classmethod
    def _check_models(cls, value: str | None) -> str | None:
        if value:
            entries = _MODEL_ENTRIES.validate_json(value)
            names = [entry.name for entry in entries]
            if len(set(names)) != len(names):
                raise ValueError(f"model names must differ: {', '.join(names)}")
        return value

    @property
    def model_entries(self) -> list[ModelEntry]:
        return _MODEL_ENTRIES.validate_json(self.tts_models) if self.tts_models else []

    @property
    def default_languages(self) -> tuple[str, ...]:
        return tuple(lang.strip() for lang in self.f5_languages.split(",") if lang.strip())

    @property
    def voice_alias_map(self) -> dict[str, str]:
        return parse_aliases(self.voice_aliases or "")

    @field_validator("output_retention", mode="after")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        parse_duration(value)
        return value.strip()

    @field_validator("output_url_ttl", mode="after")
    @classmethod
    def _cap_ttl(cls, value: int) -> int:
        return min(value, MAX_URL_TTL)

    @property
    def output_retention_seconds(self) -> float:
        return parse_duration(self.output_retention)

    @property
    def resolved_storage_url(self) -> str:
        """`STORAGE_URL`, else the seed's `S3_BUCKET`, else a folder beside the worker."""
        if self.storage_url:
            return self.storage_url
        if self.s3_bucket:
            return f"s3://{self.s3_bucket}"
        return DEFAULT_LOCAL_STORE

    @property
    def resolved_aligner_path(self) -> str | None:
        """`ALIGNER_PATH`, else `MODEL_DIR/mms-fa` (where the image bakes it), else none."""
        if self.aligner_path:
            return self.aligner_path
        return os.path.join(self.model_dir, "mms-fa") if self.model_dir else None

    @property
    def aligner_kind(self) -> Literal["ctc", "fake"]:
        """The fake aligner only on a fake worker that was not pointed at aligner weights."""
        return "fake" if self.tts_engine == "fake" and not self.aligner_path else "ctc"

    @classmethod
    def env_names(cls) -> set[str]:
        """The environment variables this object reads."""
        return {name.upper() for name in cls.model_fields}

    @classmethod
    def defaults(cls) -> Settings:
        """Every default, with no environment read: for tests and for callers with no container."""
        return _GivenOnly()


class _GivenOnly(Settings):
    """Settings from the mapping given, not from the process environment (tests, benchmarks)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, *_: Any, **__: Any) -> tuple[Any, ...]:
        return (init_settings,)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `environ` (default: the process environment), or one SettingsError line."""
    try:
        if environ is None:
            return Settings()
        known = Settings.env_names()
        return _GivenOnly(**{k.lower(): v for k, v in environ.items() if k.upper() in known and v.strip() != ""})
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def startup_mode() -> StartupMode:
    """EXIT_ON_STARTUP_FAILURE alone; a bad value of it means exit, the conservative reading."""
    try:
        return StartupMode()
    except ValidationError:
        return StartupMode(exit_on_startup_failure=True)


def _one_line(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
        problems.append(f"{name}={error.get('input')!r}: {error['msg']}")
    return "bad setting: " + "; ".join(problems)
