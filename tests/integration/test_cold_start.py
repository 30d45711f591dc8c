"""Cold start: what the worker imports and times while it boots, and the weights it bakes in
the dtype it serves them in (scripts/convert_weights.py), read through the engine's loader.

Everything runs on the tiny checkpoint scripts/make_tiny_checkpoint.py writes; the worker is
started in a subprocess as the image starts it, so sys.modules is the worker's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open

from adapters.f5.engine import build_f5_engine
from adapters.f5.loading import load_dit_state, resolve_files
from container import engine_config
from settings import load_settings
from tests.contracts.tts_engine import item
from tests.helpers import script_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONVERT = ROOT / "scripts" / "convert_weights.py"
#: what serving never needs at start: the trainer and its stack, plotting, the ASR stack,
#: pydub, the modules f5-tts's model code imports for paths inference does not take, and
#: what only some jobs need (PyAV for opus/aac/mp3/flac streams, cn2an for Chinese numbers,
#: pypinyin for Chinese characters), the hub client (vocos imports it for downloads the worker
#: does not make), and the web frameworks dependency_injector probes for (the OpenAI-compatible
#: server's, not the RunPod worker's)
HEAVY = (
    "av",
    "fastapi",
    "starlette",
    "werkzeug",
    "cn2an",
    "pypinyin",
    "f5_tts.model.trainer",
    "f5_tts.infer.utils_infer",
    "wandb",
    "datasets",
    "accelerate",
    "gradio",
    "matplotlib",
    "transformers",
    "pydub",
    "einx",
    "sympy",
    "torch._dynamo",
    "scipy.signal",
    "numba",
    "librosa.filters",
    "huggingface_hub",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return script_settings("make_tiny_checkpoint.py", tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def bf16_file(tiny: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint converted to bf16 once, for the tests that read it (none alters it)."""
    converted = tmp_path_factory.mktemp("bf16") / "model.bf16.safetensors"
    assert _script_main("convert_weights", [tiny["F5_CKPT_FILE"], str(converted)]).returncode == 0
    return converted


def _convert(src: str | Path, dst: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CONVERT), str(src), str(dst), *extra], capture_output=True, text=True, timeout=300
    )


def _script_main(name: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """scripts/NAME.py's `main(argv)`, run in this process (which has torch imported already: a
    subprocess paid about 3 s of CPU to import it again), with what it printed to stderr; the
    answer a subprocess of the script would have given. The scripts import each other by name,
    as in the image, where they sit side by side."""
    for module_name in ("fetch_weights", name):
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, ROOT / "scripts" / f"{module_name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = sys.modules[name].main(argv)
    return subprocess.CompletedProcess([name, *argv], code, "", err.getvalue())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the worker's start-up -------------------------------------------------------------------

BOOT = """
import json, sys
from container import build_container
from entrypoints.logging_setup import configure_logging
from entrypoints.runpod_handler import boot
configure_logging("INFO", "json")
boot(build_container())
print("MODULES " + json.dumps(sorted(sys.modules)), flush=True)
from vocos import Vocos  # loaded by the boot, with the hub client deferred
try:  # the hub download vocos imported still reaches the real client (offline: no request is made)
    Vocos.from_pretrained("nobody/no-such-vocoder")
    error = None
except Exception as exc:
    error = type(exc).__name__
print("HUB " + json.dumps(["huggingface_hub" in sys.modules, error]))
"""


@pytest.fixture(scope="module")
def booted(tiny: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The worker's boot on the tiny checkpoint in a process of its own (its sys.modules is the
    worker's), then vocos' hub download: one process for both tests that read it (each start
    paid seconds of CPU for the interpreter, torch and the model's code)."""
    tmp_path = tmp_path_factory.mktemp("boot")
    env = {**os.environ, **tiny, "TTS_ENGINE": "f5", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "STORAGE_URL": f"file://{tmp_path}/data", "LOG_FORMAT": "json", "HF_HOME": str(tmp_path / "hf")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", BOOT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


def _printed(done: subprocess.CompletedProcess[str], tag: str) -> Any:
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith(f"{tag} "))[len(tag) + 1 :])


def test_worker_boot_imports_no_heavy_module_and_times_every_stage(booted: subprocess.CompletedProcess[str]) -> None:
    done = booted
    output = done.stdout + done.stderr
    modules = set(_printed(done, "MODULES"))
    assert "f5_tts.model.backbones.dit" in modules  # the model was loaded, through the trimmed path
    assert not modules & set(HEAVY), f"start-up imported {sorted(modules & set(HEAVY))}"
    ready = json.loads(next(line for line in output.splitlines() if '"worker_ready"' in line))
    stages = ready["stages"]
    assert {"interpreter", "imports_worker", "imports_engine", "imports_model", "device_init", "weights_read",
            "weights_to_device", "vocoder", "reference_prep", "warm_up"} <= set(stages)  # fmt: skip
    assert all(seconds >= 0 for seconds in stages.values())
    assert ready["ready_from"] == "process start (/proc/self/stat)"
    assert ready["ready_cpu_seconds"] > 0
    # counted from the process start: every stage, from the interpreter's own start-up on, is inside it
    assert ready["ready_seconds"] >= sum(stages.values()) - 0.01
    assert ready["unaccounted_seconds"] == pytest.approx(ready["ready_seconds"] - sum(stages.values()), abs=0.01)


CONVERT_TEXT = """
import json, sys
if sys.argv[1] == "eager":
    import pypinyin  # noqa: F401  (already imported: f5-tts binds the real module, as upstream does)
from adapters.f5.loading import import_f5_model
import_f5_model()
utils = sys.modules["f5_tts.model.utils"]
before = "pypinyin" in sys.modules
english = utils.convert_char_to_pinyin(["Ready to take jobs."])
after_english = "pypinyin" in sys.modules
chinese = utils.convert_char_to_pinyin(["你好，世界。Hello 中文 TTS; 重庆的银行行长。", "长大了 3 次"])
print("RESULT " + json.dumps([before, after_english, "pypinyin" in sys.modules, english, chinese]))
"""


def _convert_text(mode: str) -> list:
    done = subprocess.run(
        [sys.executable, "-c", CONVERT_TEXT, mode], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])


def test_pypinyin_loads_with_the_first_chinese_text_and_converts_as_upstream() -> None:
    before, after_english, after_chinese, english, chinese = _convert_text("deferred")
    assert (before, after_english, after_chinese) == (False, False, True)
    eager = _convert_text("eager")
    assert eager[:3] == [True, True, True]
    assert [english, chinese] == eager[3:]
    assert "chong2" in chinese[0] and "zhang3" in chinese[1]  # 重 and 长 read in context: the real dictionary


def test_vocos_loads_without_the_hub_client_and_its_download_still_reaches_it(
    booted: subprocess.CompletedProcess[str],
) -> None:
    """The boot loaded the vocoder (its `vocoder` stage) without importing the hub client;
    vocos' own download then imports it."""
    output = booted.stdout + booted.stderr
    assert "vocoder" in json.loads(next(line for line in output.splitlines() if '"worker_ready"' in line))["stages"]
    before = "huggingface_hub" in _printed(booted, "MODULES")
    after, error = _printed(booted, "HUB")
    assert (before, after) == (False, True)
    assert error in ("LocalEntryNotFoundError", "OfflineModeIsEnabled")  # the hub's own offline error


# --- weights in the serving dtype ------------------------------------------------------------


def test_conversion_is_deterministic_and_keeps_every_tensor(
    tiny: dict[str, str], bf16_file: Path, tmp_path: Path
) -> None:
    first, second = bf16_file, tmp_path / "b.bf16.safetensors"
    assert _convert(tiny["F5_CKPT_FILE"], second).returncode == 0  # another process: another hash seed
    assert _sha256(first) == _sha256(second)
    assert first.stat().st_size < 0.55 * Path(tiny["F5_CKPT_FILE"]).stat().st_size
    with safe_open(tiny["F5_CKPT_FILE"], "pt") as src, safe_open(str(first), "pt") as dst:
        assert set(src.keys()) == set(dst.keys())
        for key in src.keys():  # noqa: SIM118
            a, b = src.get_tensor(key), dst.get_tensor(key)
            if a.is_floating_point():
                assert b.dtype == torch.bfloat16 and torch.equal(b, a.to(torch.bfloat16)), key
            else:
                assert torch.equal(a, b), key


def test_half_precision_file_is_read_straight_into_the_serving_dtype(tiny: dict[str, str], bf16_file: Path) -> None:
    state = load_dit_state(bf16_file, device="cpu", dtype=torch.bfloat16)
    assert state and all(t.dtype == torch.bfloat16 for t in state.values() if t.is_floating_point())
    from_fp32 = load_dit_state(Path(tiny["F5_CKPT_FILE"]), device="cpu", dtype=torch.bfloat16)
    assert state.keys() == from_fp32.keys() and all(torch.equal(state[k], from_fp32[k]) for k in state)


def _engine(tiny: dict[str, str], ckpt: Path | str, dtype: str):
    env = {**tiny, "F5_CKPT_FILE": str(ckpt), "TTS_DTYPE": dtype, "TTS_DEVICE": "cpu"}
    return build_f5_engine(engine_config(load_settings(env)))


def test_engine_serves_the_same_audio_from_the_bf16_file_and_still_loads_fp32(
    tiny: dict[str, str], bf16_file: Path
) -> None:
    converted = bf16_file
    job = [item("Hello there.", seed=3, nfe_step=4)]
    from_bf16 = _engine(tiny, converted, "bf16").synthesize(job)[0]
    from_fp32_file = _engine(tiny, tiny["F5_CKPT_FILE"], "bf16").synthesize(job)[0]
    assert np.array_equal(np.asarray(from_bf16.samples), np.asarray(from_fp32_file.samples))
    fp32 = _engine(tiny, tiny["F5_CKPT_FILE"], "fp32")  # the release's fp32 file still serves fp32
    assert next(fp32._dit.parameters()).dtype == torch.float32
    upcast = _engine(tiny, converted, "fp32")  # and the bf16 file serves a CPU without native bf16
    assert next(upcast._dit.parameters()).dtype == torch.float32
    assert np.isfinite(np.asarray(upcast.synthesize(job)[0].samples)).all()


def test_model_dir_prefers_the_checkpoint_stored_in_the_serving_dtype(tiny: dict[str, str], tmp_path: Path) -> None:
    model_dir = tmp_path / "models" / "F5TTS_tiny"
    model_dir.mkdir(parents=True)
    (model_dir / "model_1.safetensors").symlink_to(tiny["F5_CKPT_FILE"])
    (model_dir / "model_1.bf16.safetensors").write_bytes(b"")

    def pick(serving: str | None) -> str:
        found = resolve_files(model=tiny["F5_MODEL"], ckpt_file=None, vocab_file=None,
                              vocoder_path=tiny["VOCODER_PATH"], model_dir=str(tmp_path / "models"),
                              serving_dtype=serving)  # fmt: skip
        return found.checkpoint.name

    assert pick("bf16") == "model_1.bf16.safetensors"
    assert pick("fp32") == "model_1.safetensors"
    assert pick("fp16") == "model_1.bf16.safetensors"  # half the bytes, cast at load
    assert pick(None) == "model_1.bf16.safetensors"


# --- the image build's conversion step -------------------------------------------------------


def _manifest(tmp_path: Path, source_sha: str, derived_sha: str | None) -> Path:
    manifest = tmp_path / "weights.json"
    manifest.write_text(json.dumps({
        "files": [{"group": "f5", "repo": "r", "revision": "0" * 40, "path": "m.safetensors",
                   "dest": "M/model_1.safetensors", "size": 1, "sha256": source_sha}],
        "derived": [{"group": "f5", "source": "M/model_1.safetensors", "dtype": "bf16",
                     "dest": "M/model_1.bf16.safetensors", "sha256": derived_sha}],
    }))  # fmt: skip
    return manifest


def _build_step(model_dir: Path, manifest: Path) -> subprocess.CompletedProcess[str]:
    """The image build's conversion step (the script's `--model-dir` form); the script's own
    command line runs in a subprocess in test_conversion_is_deterministic_and_keeps_every_tensor."""
    argv = ["--model-dir", str(model_dir), "--manifest", str(manifest), "--remove-source"]
    return _script_main("convert_weights", argv)


def _model_dir(tiny: dict[str, str], tmp_path: Path) -> Path:
    model_dir = tmp_path / "models"
    (model_dir / "M").mkdir(parents=True)
    (model_dir / "M" / "model_1.safetensors").write_bytes(Path(tiny["F5_CKPT_FILE"]).read_bytes())
    return model_dir


def test_build_step_converts_a_pinned_source_and_records_the_result(tiny: dict[str, str], tmp_path: Path) -> None:
    model_dir = _model_dir(tiny, tmp_path)
    manifest = _manifest(tmp_path, _sha256(Path(tiny["F5_CKPT_FILE"])), None)
    done = _build_step(model_dir, manifest)
    assert done.returncode == 0, done.stderr
    out = model_dir / "M" / "model_1.bf16.safetensors"
    digest = _sha256(out)
    assert (model_dir / "derived.sha256").read_text() == f"{digest}  M/model_1.bf16.safetensors\n"
    assert "UNPINNED" in done.stderr and digest in done.stderr
    assert not (model_dir / "M" / "model_1.safetensors").exists()  # --remove-source
    with safe_open(str(out), "pt") as fh:
        assert json.loads(fh.metadata()["f5_tts_worker"])["source_sha256"] == _sha256(Path(tiny["F5_CKPT_FILE"]))

    # pinned: the same conversion passes again, a different pin fails and leaves nothing
    again = tmp_path / "again"
    model_dir = _model_dir(tiny, again)
    assert _build_step(model_dir, _manifest(again, _sha256(Path(tiny["F5_CKPT_FILE"])), digest)).returncode == 0
    wrong = tmp_path / "wrong"
    model_dir = _model_dir(tiny, wrong)
    failed = _build_step(model_dir, _manifest(wrong, _sha256(Path(tiny["F5_CKPT_FILE"])), "0" * 64))
    assert failed.returncode == 1 and "not the pinned" in failed.stderr
    assert not (model_dir / "M" / "model_1.bf16.safetensors").exists()


def test_build_step_refuses_a_source_that_is_not_the_pinned_file(tiny: dict[str, str], tmp_path: Path) -> None:
    model_dir = _model_dir(tiny, tmp_path)
    done = _build_step(model_dir, _manifest(tmp_path, "1" * 64, None))
    assert done.returncode == 1 and "not the pinned file" in done.stderr
    assert sorted(p.name for p in (model_dir / "M").iterdir()) == ["model_1.safetensors"]
