"""BATCH_MAX_ITEMS and MAX_CONCURRENCY come from the engine's device unless set: a
captured-graph GPU engine batches up to its largest graph and takes that many jobs; a CPU
engine runs one job's chunks at a time and holds a few jobs."""

from __future__ import annotations

import pytest

from adapters.fake_engine import DEFAULT_BATCH_ITEMS, FakeEngine
from application.concurrency import concurrency
from container import engine_config
from ports.tts_engine import EngineCapacity
from settings import SettingsError, load_settings
from tests.helpers import make_test_container


class PreferringEngine(FakeEngine):
    def capacity(self) -> EngineCapacity:
        return EngineCapacity(batch_items=32, jobs=32)


class CpuLikeEngine(FakeEngine):
    def capacity(self) -> EngineCapacity:
        return EngineCapacity(batch_items=1, jobs=8)


def test_the_engine_preference_sets_the_batch_size_when_unset() -> None:
    container = make_test_container(engine=PreferringEngine())
    assert container.batched_engine().max_items == 32


def test_an_engine_without_a_preference_gets_the_general_default() -> None:
    assert make_test_container().batched_engine().max_items == DEFAULT_BATCH_ITEMS


def test_the_setting_wins_over_the_engine() -> None:
    container = make_test_container(env={"BATCH_MAX_ITEMS": "3"}, engine=PreferringEngine())
    assert container.batched_engine().max_items == 3


def test_concurrency_and_runner_settings_parse() -> None:
    settings = make_test_container(env={"MAX_CONCURRENCY": "12", "TTS_RUNNER": "CUDA_GRAPH"}).settings()
    assert settings.max_concurrency == 12 and settings.tts_runner == "cuda_graph"
    defaults = make_test_container().settings()
    assert defaults.max_concurrency is None and defaults.batch_max_items is None and defaults.tts_runner == "auto"


@pytest.mark.parametrize(
    ("env", "engine", "jobs"),
    [
        ({}, PreferringEngine(), 32),  # a GPU: one full batch
        ({}, CpuLikeEngine(), 8),  # a CPU: one at a time, a few held
        ({}, FakeEngine(), DEFAULT_BATCH_ITEMS),  # no preference: one batch's worth
        ({"BATCH_MAX_ITEMS": "4"}, CpuLikeEngine(), 4),  # jobs that fill the batch asked for
        ({"MAX_CONCURRENCY": "3", "BATCH_MAX_ITEMS": "4"}, PreferringEngine(), 3),
    ],
)
def test_job_concurrency(env: dict[str, str], engine: FakeEngine, jobs: int) -> None:
    container = make_test_container(env=env, engine=engine)
    assert container.app().concurrency.jobs == jobs


def test_a_worker_that_failed_to_start_takes_one_job_at_a_time() -> None:
    assert concurrency(make_test_container().settings(), None).jobs == 1


@pytest.mark.parametrize(
    ("value", "mode"),
    [("1", "on"), ("true", "on"), ("0", "off"), ("", "off"), ("Background", "background"), ("on", "on")],
)
def test_tts_compile_reads_as_a_mode(value: str, mode: str) -> None:
    assert make_test_container(env={"TTS_COMPILE": value}).settings().tts_compile == mode


def test_an_unknown_compile_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="background"):
        make_test_container(env={"TTS_COMPILE": "sometimes"}).settings()


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("TTS_COMPILE", "sometimes", "'off', 'on' or 'background'"),
        ("TTS_RUNNER", "fast", "'auto', 'eager' or 'cuda_graph'"),
        ("TTS_DTYPE", "fp8", "'fp32', 'fp16', 'bf16' or 'int8'"),
    ],
)
def test_settings_refuse_an_engine_value_in_one_line_naming_it(name: str, value: str, allowed: str) -> None:
    """Only settings.py checks these (the engine trusts its EngineConfig): one line, the
    variable, the value and what it may be, before any engine is built."""
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value, "TTS_ENGINE": "f5"})
    message = str(refused.value)
    assert message.startswith(f"bad setting: {name}={value!r}") and allowed in message and "\n" not in message


def test_engine_settings_read_case_blind_into_the_engine_config() -> None:
    settings = load_settings({"TTS_DTYPE": "BF16", "TTS_RUNNER": "Eager", "TTS_COMPILE": "1", "TTS_MAX_GRAPHS": "3"})
    config = engine_config(settings, ckpt_file="other.safetensors")
    assert (config.dtype, config.runner, config.compile, config.max_graphs) == ("bf16", "eager", "on", 3)
    assert config.ckpt_file == "other.safetensors" and config.model == settings.f5_model
