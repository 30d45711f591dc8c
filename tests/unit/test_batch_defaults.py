"""BATCH_MAX_ITEMS (and with it the default MAX_CONCURRENCY) comes from the engine's device
unless set: a captured-graph GPU engine batches up to its largest graph, a CPU engine less."""

from __future__ import annotations

from adapters.fake_engine import FakeEngine
from container import DEFAULT_BATCH_ITEMS
from tests.helpers import make_test_container


class PreferringEngine(FakeEngine):
    preferred_batch_items = 32


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
