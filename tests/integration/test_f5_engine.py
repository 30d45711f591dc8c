"""The real F5-TTS engine on a tiny random checkpoint, loaded the way production loads it.

The checkpoint is written by `scripts/make_tiny_checkpoint.py` and loaded through
`build_f5_engine` from the KEY=VALUE settings the script prints, so these tests cover the
same files, formats and code path as the released weights. Its output is noise; what is
checked is the engine's behaviour: the port's contract, parity with upstream's inference,
and the start-up errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from adapters.audio_arrays import from_numpy, to_numpy
from adapters.f5 import engine as f5_engine
from adapters.f5 import references
from adapters.f5.cpu_attention import onednn_attention, onednn_attention_works, sdpa_attention
from adapters.f5.cpu_linear import PackedLinear, packing_works
from adapters.f5.engine import F5Engine, build_f5_engine
from adapters.f5.loading import EngineStartupError
from adapters.f5.runner import RunnerFactory, make_runner
from adapters.step_scheduler import MAX_PADDING_RATIO
from container import engine_config
from domain.errors import InvalidInput
from domain.synthesis import Reference
from ports.tts_engine import EngineCapacity, EngineStatus
from settings import load_settings
from tests.contracts.tts_engine import TtsEngineContract, item, voiced_reference
from tests.helpers import script_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(tiny_checkpoint: dict[str, str]) -> dict[str, str]:
    """The tiny checkpoint's settings under the name test_f5_batching and test_f5_compile import."""
    return tiny_checkpoint


def build(settings: dict[str, str], make_runner: RunnerFactory = make_runner, **overrides: object) -> F5Engine:
    """The engine the worker builds from these settings, in fp32 on the CPU, with `overrides`
    (EngineConfig's fields) and the runner from `make_runner`."""
    config = engine_config(load_settings({**settings, "TTS_DTYPE": "fp32", "TTS_DEVICE": "cpu"}))
    return build_f5_engine(dataclasses.replace(config, **overrides), make_runner=make_runner)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fp32_engine(settings: dict[str, str]) -> f5_engine.F5Engine:
    return build(settings)


class TestF5EngineContract(TtsEngineContract):
    # fp32 on the CPU: a padded batch differs from single runs by ~3e-7 (matmul blocking)
    batch_atol = 1e-5

    @pytest.fixture
    def engine(self, fp32_engine: f5_engine.F5Engine) -> f5_engine.F5Engine:
        return fp32_engine


def test_prints_the_settings_that_load_it(settings: dict[str, str]) -> None:
    assert set(settings) == {"F5_MODEL", "F5_CKPT_FILE", "F5_VOCAB_FILE", "VOCODER_PATH"}
    assert all(Path(v).exists() for v in settings.values())


def test_default_precision_for_this_machine_runs(settings: dict[str, str]) -> None:
    engine = build(settings, dtype=None)
    engine.warm_up()
    out = to_numpy(engine.synthesize([item("Whatever precision this CPU gets.")])[0])
    assert out.size > 0 and np.isfinite(out).all()


def test_int8_runs(settings: dict[str, str]) -> None:
    out = to_numpy(build(settings, dtype="int8").synthesize([item("Dynamic int8 Linear layers.")])[0])
    assert out.size > 0 and np.isfinite(out).all()


@pytest.mark.skipif(not packing_works(torch.float32), reason="torch built without oneDNN linears")
def test_cpu_linears_are_packed_and_speak_as_plain_ones(settings: dict[str, str], fp32_engine) -> None:
    plain = build(settings, pack_cpu_linears=False)
    assert any(isinstance(m, PackedLinear) for m in fp32_engine._dit.modules())
    assert not any(isinstance(m, PackedLinear) for m in plain._dit.modules())
    job = [item("Packed and plain layers.", seed=5)]
    np.testing.assert_allclose(to_numpy(fp32_engine.synthesize(job)[0]), to_numpy(plain.synthesize(job)[0]), atol=1e-5)


@pytest.mark.skipif(not onednn_attention_works(torch.float32), reason="torch built without oneDNN")
def test_cpu_attention_as_onednn_products_speaks_as_the_fused_kernel(
    settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f5_engine, "read_cpu_flags", lambda: "fpu avx2 avx512f avx512_bf16")  # no AMX
    onednn, fused = build(settings), build(settings, onednn_cpu_attention=False)
    assert {b.attn.processor.attend for b in onednn._dit.transformer_blocks} == {onednn_attention}
    assert {b.attn.processor.attend for b in fused._dit.transformer_blocks} == {sdpa_attention}
    calls: list[tuple[int, ...]] = []

    def recording(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(query.shape[:3]))
        return onednn_attention(query, key, value)

    for block in onednn._dit.transformer_blocks:
        block.attn.processor.attend = recording
    alone = [item("One item, unmasked attention.", seed=3)]
    padded = [item("A short one.", seed=4), item("A short one, and more.", seed=5)]
    for job in (alone, padded):
        calls.clear()
        for got, want in zip(onednn.synthesize(job), fused.synthesize(job), strict=True):
            np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-5)
        # alone: the guided pair at once; padded: item by item over each one's own frames
        assert {shape[0] for shape in calls} == ({2} if job is alone else {1})
        assert len({shape[2] for shape in calls}) == (1 if job is alone else 2)


def test_on_a_cpu_it_runs_one_job_at_a_time_and_holds_several(fp32_engine: f5_engine.F5Engine) -> None:
    assert fp32_engine.capacity() == EngineCapacity(batch_items=1, jobs=8)


def test_status_says_how_it_runs(fp32_engine: f5_engine.F5Engine, settings: dict[str, str]) -> None:
    expected = EngineStatus(fp32_engine.model_id, device="cpu", dtype="fp32", runner="eager", graphs=0, compile="off")
    assert fp32_engine.status() == expected
    assert build(settings, compile="on").status().compile == "on"


def test_low_nfe_uses_upstreams_epss_schedule(fp32_engine: f5_engine.F5Engine) -> None:
    expected = {7: [0, 2, 4, 6, 8, 16, 24, 32], 16: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32]}
    for nfe, steps in expected.items():
        times, deltas = fp32_engine._grid(nfe, sway=0.0)
        np.testing.assert_allclose([*times, times[-1] + deltas[-1]], np.array(steps) / 32, atol=1e-7)
        out = to_numpy(fp32_engine.synthesize([item("Fewer steps.", nfe_step=nfe)])[0])
        assert np.isfinite(out).all()


def test_reference_is_prepared_once_per_key(fp32_engine: f5_engine.F5Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = references.clip_reference

    def counting(samples: np.ndarray, rate: int) -> np.ndarray:
        calls.append(rate)
        return real(samples, rate)

    monkeypatch.setattr(references, "clip_reference", counting)
    ref = voiced_reference(key="cached-once")
    fp32_engine.synthesize([item("First use.", reference=ref)])
    fp32_engine.synthesize([item("Second use.", reference=ref), item("Third.", reference=ref)])
    assert calls == [24000]


def test_warm_up_converts_the_default_voices_transcript(
    fp32_engine: f5_engine.F5Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So a voice that speaks Chinese loads pypinyin (deferred) while the worker warms up,
    not in its first job."""
    converted: list[list[str]] = []
    real = fp32_engine._to_pinyin

    def recording(texts: list[str]) -> list[list[str]]:
        converted.append(texts)
        return real(texts)

    monkeypatch.setattr(fp32_engine, "_to_pinyin", recording)
    voice = Reference(key="chinese-default", audio=voiced_reference().audio, text="你好，欢迎收听。")
    fp32_engine.warm_up(voice)
    assert any(text.startswith("你好，欢迎收听。") for texts in converted for text in texts)


def test_reference_at_another_rate_is_resampled(fp32_engine: f5_engine.F5Engine) -> None:
    ref = voiced_reference(rate=16000, key="ref-16k")
    out = fp32_engine.synthesize([item("A sixteen kilohertz voice.", reference=ref)])[0]
    assert out.sample_rate == 24000 and np.isfinite(to_numpy(out)).all()


def test_empty_text_and_silent_reference_are_invalid_input(fp32_engine: f5_engine.F5Engine) -> None:
    with pytest.raises(InvalidInput):
        fp32_engine.synthesize([item("   ")])
    silent = Reference(key="silent", audio=from_numpy(np.zeros(24000, np.float32), 24000), text="Nothing.")
    with pytest.raises(InvalidInput):
        fp32_engine.synthesize([item("Hello.", reference=silent)])


def test_remove_silence_never_lengthens(fp32_engine: f5_engine.F5Engine) -> None:
    plain = fp32_engine.synthesize([item("Silence handling.", seed=5)])[0]
    trimmed = fp32_engine.synthesize([item("Silence handling.", seed=5, remove_silence=True)])[0]
    assert 0 < trimmed.num_samples <= plain.num_samples


# -- parity with upstream -------------------------------------------------------------------


@pytest.fixture
def upstream(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    return upstream_model(settings, monkeypatch)


def upstream_model(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """Upstream's `F5TTS` on the same files, inference path unchanged.

    Three things differ from `F5TTS()` and none touches inference: its constructor only
    accepts config names shipped inside f5-tts (the tiny config is not), so the object is
    assembled with upstream's own `load_model`/`load_vocoder`; `transformers` (imported by
    utils_infer for Whisper, unused here) is stubbed when absent; `torchaudio.load` needs
    FFmpeg, so it is replaced by a soundfile reader returning the same tensor.
    """
    pytest.importorskip("pydub")
    pytest.importorskip("matplotlib")
    import torch
    import torchaudio
    import yaml

    from adapters.f5.loading import import_f5_model

    pkg = import_f5_model()
    if not hasattr(pkg, "CFM"):
        pkg.CFM = __import__("f5_tts.model.cfm", fromlist=["cfm"]).CFM
    try:
        import transformers  # noqa: F401
    except ImportError:
        stub = types.ModuleType("transformers")
        stub.pipeline = lambda *a, **k: None  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "transformers", stub)

    def soundfile_load(path: str, *args: object, **kwargs: object):
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), rate

    monkeypatch.setattr(torchaudio, "load", soundfile_load)
    from f5_tts import api
    from f5_tts.infer import utils_infer

    arch = yaml.safe_load(Path(settings["F5_MODEL"]).read_text())["model"]["arch"]
    model = api.F5TTS.__new__(api.F5TTS)
    model.mel_spec_type, model.target_sample_rate, model.ode_method = "vocos", 24000, "euler"
    model.use_ema, model.device = True, "cpu"
    with contextlib.redirect_stdout(io.StringIO()):
        model.vocoder = utils_infer.load_vocoder("vocos", True, settings["VOCODER_PATH"], "cpu")
        model.ema_model = utils_infer.load_model(
            pkg.DiT, arch, settings["F5_CKPT_FILE"], "vocos", settings["F5_VOCAB_FILE"], "euler", True, "cpu"
        )
    return model


def both_sides(upstream, engine: f5_engine.F5Engine, tmp_path: Path, nfe: int) -> tuple[np.ndarray, np.ndarray]:
    """(upstream's `F5TTS.infer`, the engine's) waveforms for one chunk of the same text, seed
    and reference; upstream reads the reference from a 16-bit wav, so the engine gets that
    file's decoded samples."""
    ref = voiced_reference()
    path = tmp_path / "ref.wav"
    sf.write(path, to_numpy(ref.audio), 24000, subtype="PCM_16")
    decoded, rate = sf.read(path, dtype="float32")
    reference = Reference(key="parity", audio=from_numpy(decoded, rate), text=ref.text)
    text = "The quick brown fox jumps over the lazy dog."
    with contextlib.redirect_stdout(io.StringIO()):
        expected, _, _ = upstream.infer(
            str(path), ref.text, text, nfe_step=nfe, seed=1234, show_info=lambda *a: None, progress=None
        )
    return expected, to_numpy(engine.synthesize([item(text, seed=1234, reference=reference, nfe_step=nfe)])[0])


@pytest.mark.parametrize("nfe", [16, 32])
def test_matches_upstream_f5tts_infer(upstream, fp32_engine: f5_engine.F5Engine, tmp_path: Path, nfe: int) -> None:
    """Same checkpoint, fp32, one chunk, same seed: the same waveform as `F5TTS.infer`.

    Upstream reads the reference from a 16-bit wav, so the engine gets that file's decoded
    samples. The two agree to within 1e-7 on the 2-core EPYC, with the engine's Linears
    oneDNN-packed or plain (kernels that round differently, not different math); the
    tolerance leaves room for other CPUs' kernels.
    """
    expected, got = both_sides(upstream, fp32_engine, tmp_path, nfe)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.fixture(scope="module", params=["v0", "small"])
def other_arch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The layouts of the community checkpoints: v0 Base (text_mask_padding False,
    pe_attn_head 1) and Small, tiny, each with its own character vocabulary."""
    return script_settings(
        "make_tiny_checkpoint.py", tmp_path_factory.mktemp(f"tiny-{request.param}"), "--arch", request.param
    )


def test_other_architectures_match_upstream(other_arch: dict[str, str], tmp_path: Path, monkeypatch) -> None:
    """As above, for each other layout: same checkpoint, seed and text, the same waveform."""
    model = upstream_model(other_arch, monkeypatch)
    expected, got = both_sides(model, build(other_arch), tmp_path, nfe=16)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


# -- start-up errors ------------------------------------------------------------------------


def test_offline_and_missing_vocoder_names_the_variable(
    settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineStartupError, match="VOCODER_PATH"):
        build(settings, vocoder_path=None)


def test_explicit_path_that_does_not_exist_names_the_variable(settings: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(EngineStartupError, match="F5_CKPT_FILE"):
        build(settings, ckpt_file=str(tmp_path / "nope.safetensors"))
    with pytest.raises(EngineStartupError, match="F5_VOCAB_FILE"):
        build(settings, vocab_file=str(tmp_path / "nope.txt"))


def test_model_dir_layout_is_found(settings: dict[str, str], tmp_path: Path) -> None:
    model_dir = tmp_path / "models"
    (model_dir / "F5TTS_tiny").mkdir(parents=True)
    (model_dir / "F5TTS_tiny" / "model_1.safetensors").symlink_to(settings["F5_CKPT_FILE"])
    (model_dir / "F5TTS_tiny" / "vocab.txt").symlink_to(settings["F5_VOCAB_FILE"])
    (model_dir / "vocos-mel-24khz").symlink_to(settings["VOCODER_PATH"])
    engine = build(settings, ckpt_file=None, vocab_file=None, vocoder_path=None, model_dir=str(model_dir))
    assert engine.model_id.startswith("F5TTS_tiny:model_1.safetensors")


def test_steps_hold_rows_of_similar_length(fp32_engine: f5_engine.F5Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call's rows run in steps whose padding stays within the scheduler's ratio: a much
    longer item steps on its own."""
    shapes: list[tuple[int, ...]] = []
    runner = fp32_engine.runner
    real = runner.step

    def recording(batch):
        shapes.append(batch.lengths)
        return real(batch)

    monkeypatch.setattr(runner, "step", recording)
    long_text = "A much longer item that goes on and on, saying a great deal more than the others do. " * 2
    items = [item("Short one.", nfe_step=2), item(long_text, nfe_step=2), item("Short two.", nfe_step=2)]
    fp32_engine.synthesize(items)
    assert sorted(len(shape) for shape in shapes) == [1, 1, 2, 2]
    for shape in shapes:
        assert len(shape) * max(shape) <= MAX_PADDING_RATIO * sum(shape)
