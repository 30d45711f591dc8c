"""Several models in one worker (fake engines): a model per request, its own batches, the
least recently used unloaded past the bound, unknown models and vocabulary misses refused,
and a worker without TTS_MODELS answering exactly as before."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest

from adapters.fake_engine import FakeEngine
from adapters.model_registry import LoadedEngine, LruModelRegistry, ModelSpec
from domain.errors import EngineError, InvalidInput
from entrypoints.service import WorkerService
from settings import SettingsError, load_settings
from tests.helpers import audio_file, make_test_container


def vocab(path: Path, chars: str) -> str:
    path.write_text("".join(f"{c}\n" for c in chars), encoding="utf-8")
    return str(path)


@pytest.fixture
def models_env(tmp_path: Path) -> dict[str, str]:
    latin = vocab(tmp_path / "latin.txt", " abcdefghijklmnopqrstuvwxyzéèàçùâêîôûëïüœ.,'-!?")
    german = vocab(tmp_path / "german.txt", " abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZ.,'-!?")
    models = [
        {"name": "fr-base", "architecture": "F5TTS_Base", "checkpoint": "/ckpt/fr.pt", "vocab": latin,
         "languages": ["fr"], "licence": "cc-by-nc-4.0"},
        {"name": "de-base", "architecture": "F5TTS_Base", "checkpoint": "/ckpt/de.pt", "vocab": german,
         "languages": ["de"], "licence": "cc-by-nc-4.0", "load": "start"},
    ]  # fmt: skip
    return {"TTS_MODELS": json.dumps(models), "MAX_LOADED_MODELS": "1"}


WORDS = ("un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit")


def engine_of(container, name: str) -> FakeEngine:
    """The fake engine behind a loaded model's micro-batcher."""
    with container.models().using(name) as batcher:
        return batcher._engine


def test_a_request_names_its_model_and_only_that_models_engine_speaks_it(models_env):
    container = make_test_container(env=models_env)
    service = WorkerService(container.app())
    answer = service.handle({"text": "bonjour tout le monde", "model": "fr-base", "return": "base64"})
    assert answer["model"] == "fr-base", answer
    french = engine_of(container, "fr-base")
    assert [item.text for call in french.calls for item in call] == ["bonjour tout le monde"]
    default = service.handle({"text": "hello there", "return": "base64"})
    assert default["model"] == "F5TTS_v1_Base"
    assert "hello there" not in [item.text for call in french.calls for item in call]


def test_jobs_of_two_models_at_once_never_share_a_batch(models_env):
    container = make_test_container(env={**models_env, "MAX_LOADED_MODELS": "2"})
    service = WorkerService(container.app())
    answers: list[dict] = []
    jobs = [{"text": f"mot {WORDS[i]}", "model": "fr-base" if i % 2 else "de-base", "return": "base64"}
            for i in range(8)]  # fmt: skip
    threads = [threading.Thread(target=lambda job=job: answers.append(service.handle(job))) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer.get("status") == "completed" for answer in answers), answers
    for name, odd in (("fr-base", 1), ("de-base", 0)):
        spoken = [item.text for call in engine_of(container, name).calls for item in call]
        assert sorted(spoken) == sorted(f"mot {WORDS[i]}" for i in range(8) if i % 2 == odd)


def test_the_least_recently_used_model_unloads_past_the_bound(models_env):
    container = make_test_container(env=models_env)
    registry = container.models()
    assert [(m.name, m.loaded) for m in registry.models()] == [
        ("F5TTS_v1_Base", True), ("fr-base", False), ("de-base", True)]  # fmt: skip
    WorkerService(container.app()).handle({"text": "bonjour", "model": "fr-base", "return": "base64"})
    assert [(m.name, m.loaded) for m in registry.models()] == [
        ("F5TTS_v1_Base", True), ("fr-base", True), ("de-base", False)]  # fmt: skip


def test_unloading_closes_the_engine_and_a_later_job_loads_it_again():
    built: list[str] = []
    closed: list[str] = []

    def build(spec: ModelSpec) -> LoadedEngine:
        built.append(spec.name)
        return LoadedEngine(FakeEngine(model_id=spec.name), lambda: closed.append(spec.name))

    specs = [ModelSpec(name, "F5TTS_Base") for name in ("a", "b", "c")]
    registry = LruModelRegistry(ModelSpec("default", "F5TTS_v1_Base"), FakeEngine, specs, build, max_loaded=2)
    for name in ("a", "b", "a", "c", "b"):
        registry.engine(name).synthesize([])
    assert built == ["a", "b", "c", "b"]  # "a" used again before "c" came, so "b" went first
    assert closed == ["b", "a"]
    registry.close()
    assert sorted(closed) == ["a", "b", "b", "c"]


def test_a_model_with_a_call_running_is_never_unloaded():
    closed: list[str] = []

    def build(spec: ModelSpec) -> LoadedEngine:
        return LoadedEngine(FakeEngine(model_id=spec.name), lambda: closed.append(spec.name))

    specs = [ModelSpec(name, "F5TTS_Base") for name in ("a", "b", "c")]
    registry = LruModelRegistry(ModelSpec("default", "F5TTS_v1_Base"), FakeEngine, specs, build, max_loaded=1)
    with registry.using("a"):  # a job of "a" is running
        registry.engine("b").synthesize([])
        assert closed == [] and {m.name for m in registry.models() if m.loaded} == {"default", "a", "b"}
    registry.engine("c").synthesize([])  # "a" is idle now, and the least recently used
    assert closed == ["a", "b"]


def test_a_handle_planned_before_its_model_unloaded_loads_it_again():
    built: list[str] = []

    def build(spec: ModelSpec) -> LoadedEngine:
        built.append(spec.name)
        return LoadedEngine(FakeEngine(model_id=spec.name))

    specs = [ModelSpec(name, "F5TTS_Base") for name in ("a", "b")]
    registry = LruModelRegistry(ModelSpec("default", "F5TTS_v1_Base"), FakeEngine, specs, build, max_loaded=1)
    planned = registry.engine("a")
    registry.engine("b").synthesize([])
    planned.synthesize([])
    assert built == ["b", "a"]


def test_an_unknown_model_is_invalid_input_naming_the_choices(models_env):
    answer = WorkerService(make_test_container(env=models_env).app()).handle({"text": "hi", "model": "tts-9"})
    assert answer["error"].startswith("invalid_input"), answer
    assert "'tts-9'" in answer["error"] and "F5TTS_v1_Base, fr-base, de-base" in answer["error"]


def test_characters_the_models_vocabulary_lacks_are_refused_naming_them(models_env):
    answer = WorkerService(make_test_container(env=models_env).app()).handle(
        {"text": "Straße über", "model": "fr-base"}
    )
    assert answer["error"].startswith("invalid_input"), answer
    assert "'S'" in answer["error"] and "'ß'" in answer["error"] and "fr-base" in answer["error"]


def test_numbers_are_read_in_the_models_first_language_unless_the_request_names_one(models_env):
    service = WorkerService(make_test_container(env=models_env).app())
    french = service.handle({"text": "il a 21 ans", "model": "fr-base", "return": "base64"})
    assert french["spoken_text"] == "il a vingt et un ans"
    german = service.handle({"text": "er ist 21", "model": "de-base", "return": "base64"})
    assert german["spoken_text"] == "er ist einundzwanzig"
    asked = service.handle({"text": "il a 21 ans", "model": "fr-base", "language": "es", "return": "base64"})
    assert asked["spoken_text"] == "il a veintiuno ans"


def test_a_language_without_rules_is_spoken_as_written_and_the_answer_says_so():
    answer = WorkerService(make_test_container().app()).handle(
        {"text": "मेरे पास 21 सेब", "language": "hi", "return": "base64"}
    )
    assert answer["spoken_text"] == "मेरे पास 21 सेब"
    assert "'hi'" in answer["notes"][0]


def test_list_models_shows_languages_licence_and_whether_loaded(models_env):
    answer = WorkerService(make_test_container(env=models_env).app()).handle({"endpoint": "list_models"})
    assert answer["models"] == [
        {"name": "F5TTS_v1_Base", "architecture": "F5TTS_v1_Base", "languages": ["en", "zh"],
         "licence": "cc-by-nc-4.0", "loaded": True, "default": True},
        {"name": "fr-base", "architecture": "F5TTS_Base", "languages": ["fr"], "licence": "cc-by-nc-4.0",
         "loaded": False, "default": False},
        {"name": "de-base", "architecture": "F5TTS_Base", "languages": ["de"], "licence": "cc-by-nc-4.0",
         "loaded": True, "default": False},
    ]  # fmt: skip


def test_a_worker_with_one_model_answers_as_before():
    service = WorkerService(make_test_container().app())
    answer = service.handle({"text": "I have 3 apples", "return": "base64"})
    assert "model" not in answer and "notes" not in answer
    assert answer["spoken_text"] == "I have three apples"
    assert service.handle({"text": "hi", "model": "F5TTS_v1_Base", "return": "base64"})["status"] == "completed"


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '[{"name": "x"}]',  # no checkpoint or vocab
        '[{"name": "a", "checkpoint": "c", "vocab": "v"}, {"name": "a", "checkpoint": "c", "vocab": "v"}]',
        '[{"name": "../x", "checkpoint": "c", "vocab": "v"}]',
    ],
)
def test_a_bad_model_list_is_one_settings_line(value):
    with pytest.raises(SettingsError, match="TTS_MODELS"):
        load_settings({"TTS_MODELS": value})


def test_unknown_model_names_the_choices_without_a_registry():
    registry = LruModelRegistry(ModelSpec("d", "F5TTS_v1_Base"), FakeEngine, [], lambda s: None, 1)  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidInput, match="serves d"):
        registry.engine("x")


def upload(service, name: str, **fields) -> dict:
    job = {"endpoint": "upload", "voice_name": name, "ref_text": "Bonjour, je suis une voix.",
           "voice_file_base64": base64.b64encode(audio_file(2.0)).decode(), **fields}  # fmt: skip
    return service.handle(job)


def test_a_voice_names_its_model_and_language_and_jobs_in_it_use_them(models_env):
    service = WorkerService(make_test_container(env=models_env).app())
    stored = upload(service, "amelie", model="fr-base", language="fr")
    assert (stored["voice"]["model"], stored["voice"]["language"]) == ("fr-base", "fr"), stored
    answer = service.handle({"text": "il a 21 ans", "voice": "amelie", "return": "base64"})
    assert (answer["model"], answer["spoken_text"]) == ("fr-base", "il a vingt et un ans")
    told = service.handle({"text": "er ist 21", "voice": "amelie", "model": "de-base", "language": "de",
                           "return": "base64"})  # fmt: skip
    assert (told["model"], told["spoken_text"]) == ("de-base", "er ist einundzwanzig")
    listed = service.handle({"endpoint": "list_voices"})["voices"]
    amelie = next(voice for voice in listed if voice["name"] == "amelie")
    assert (amelie["model"], amelie["language"]) == ("fr-base", "fr")


def test_a_voice_with_only_a_language_is_read_in_it_by_the_default_model(models_env):
    service = WorkerService(make_test_container(env=models_env).app())
    upload(service, "hans", language="de")
    answer = service.handle({"text": "er ist 21", "voice": "hans", "return": "base64"})
    assert (answer["model"], answer["spoken_text"]) == ("F5TTS_v1_Base", "er ist einundzwanzig")


def test_a_voice_for_a_model_the_worker_does_not_serve_is_refused(models_env):
    answer = upload(WorkerService(make_test_container(env=models_env).app()), "x", model="tts-9")
    assert answer["error"].startswith("invalid_input") and "fr-base" in answer["error"]


def test_a_voice_without_model_or_language_is_stored_as_before():
    service = WorkerService(make_test_container().app())
    stored = upload(service, "plain")
    assert "model" not in stored["voice"] and "language" not in stored["voice"]


def test_a_missing_vocabulary_is_an_engine_error_naming_the_file(tmp_path):
    spec = ModelSpec("x", "F5TTS_Base", "/c", str(tmp_path / "absent.txt"))
    registry = LruModelRegistry(ModelSpec("d", "F5TTS_v1_Base"), FakeEngine, [spec], lambda s: None, 1)  # type: ignore[arg-type,return-value]
    with pytest.raises(EngineError, match=r"absent\.txt"):
        registry.unknown_characters("x", "abc")


def test_a_stream_speaks_in_its_model(models_env):
    container = make_test_container(env={**models_env, "STREAMING": "1"})
    service = WorkerService(container.app())
    answers = list(service.stream({"text": "un. deux. trois.", "model": "fr-base", "stream": True, "return": "base64"}))
    assert answers[-1]["model"] == "fr-base", answers[-1]
    spoken = [item.text for call in engine_of(container, "fr-base").calls for item in call]
    assert " ".join(spoken) == answers[-1]["spoken_text"]


def test_word_timestamps_keep_the_written_words_of_a_text_read_in_another_language():
    answer = WorkerService(make_test_container().app()).handle(
        {"text": "Il a 21 ans, le 2024-03-05.", "language": "fr", "timestamps": True, "return": "base64"}
    )
    assert answer["spoken_text"] == "Il a vingt et un ans, le cinq mars deux mille vingt-quatre."
    assert [word["word"] for word in answer["words"]] == ["Il", "a", "21", "ans,", "le", "2024-03-05."]


def test_health_says_which_models_are_loaded(models_env):
    app = make_test_container(env=models_env).app()
    assert app.health()["models"] == {
        "F5TTS_v1_Base": {"loaded": True}, "fr-base": {"loaded": False}, "de-base": {"loaded": True}}  # fmt: skip
    assert "models" not in make_test_container().app().health()
