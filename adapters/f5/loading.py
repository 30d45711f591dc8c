"""Finding and loading F5-TTS's files: model config, DiT weights, vocabulary, Vocos vocoder.

These things here exist for cold start and offline operation:

* `import_f5_model()` imports only the model modules inference needs (`dit`, `modules`,
  `utils`). A plain `import f5_tts.model.<anything>` first runs `f5_tts/model/__init__.py`,
  which imports the trainer and with it wandb, datasets and accelerate: packages a worker
  does not install, and seconds of import time where they are. Registering a bare package
  object for `f5_tts.model` (with the real directory as its `__path__`) before importing
  the submodules lets Python find them without executing that `__init__`. Two imports of
  those modules serve no inference path and are deferred to their first use (see
  `DEFERRED_IMPORTS`): `einx`, which x-transformers imports for position-bias classes the
  DiT does not use and which pulls in torch._dynamo and sympy, and librosa's mel filterbank
  (scipy.signal, numba), used only for BigVGAN mels. pypinyin (a third of a second on a
  2-core CPU, most of it its phrase dictionary) is deferred too: upstream's text conversion
  calls it for Chinese characters only, so it loads with the first Chinese text, once.
  Vocos' import likewise leaves out huggingface_hub (75 ms of a 90 ms import on a 2-core
  CPU), which only its hub download uses; the worker's own downloads import it when they run.
* `load_dit_state()` reads the weights straight into the serving dtype on the serving
  device, tensor by tensor (safetensors' `safe_open(device=...)`), so a half-precision file
  (`scripts/convert_weights.py`) is read once at half the bytes and an fp32 file is never
  held in full precision as a whole.
* `resolve_files()` looks for every file locally first (explicit paths, then `MODEL_DIR`,
  then the vocabulary packaged with f5-tts) and goes to the hub only where that is allowed;
  offline and missing is one clear error naming the file and the variable to set.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.f5.precision import Precision
from domain.errors import EngineError
from domain.timing import StageTimer

#: where upstream's F5TTS downloads each model's weights from
HUB_CHECKPOINTS = {
    "F5TTS_v1_Base": ("SWivid/F5-TTS", "F5TTS_v1_Base/model_1250000.safetensors"),
    "F5TTS_Base": ("SWivid/F5-TTS", "F5TTS_Base/model_1200000.safetensors"),
    "E2TTS_Base": ("SWivid/E2-TTS", "E2TTS_Base/model_1200000.safetensors"),
}
VOCOS_REPO = "charactr/vocos-mel-24khz"
VOCOS_FILES = ("config.yaml", "pytorch_model.bin")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt")
#: modules f5-tts's model code imports but not every inference path uses: name -> names it
#: imports from them (`from m import f`), which must exist on the stand-in at import time
DEFERRED_IMPORTS: dict[str, tuple[str, ...]] = {
    "einx": (),
    "librosa.filters": ("mel",),
    "pypinyin": ("lazy_pinyin", "Style"),
}
#: the same for vocos: its `Vocos.from_pretrained` downloads with huggingface_hub, imported with
#: the module, and the worker builds Vocos from local files (`load_vocoder`)
VOCOS_DEFERRED_IMPORTS: dict[str, tuple[str, ...]] = {"huggingface_hub": ("hf_hub_download",)}
#: the dtype a checkpoint's file name declares (`model_1250000.bf16.safetensors`); no tag: fp32
NAMED_DTYPES = ("bf16", "fp16")


class EngineStartupError(EngineError):
    """The engine cannot start: a file is missing or unreadable, or a setting is wrong."""


@dataclass(frozen=True)
class ModelFiles:
    config: Path
    checkpoint: Path
    vocab: Path
    vocoder_dir: Path


def f5_package_dir() -> Path:
    spec = importlib.util.find_spec("f5_tts")
    if spec is None or not spec.submodule_search_locations:
        raise EngineStartupError("the f5-tts package is not installed (pip install --no-deps f5-tts)")
    return Path(next(iter(spec.submodule_search_locations)))


class _DeferredModule(types.ModuleType):
    """Stands in for a module while another one is imported: the importer binds this object,
    and the real module is imported the first time an attribute is used. Dunder lookups do
    not load it (tools that scan sys.modules probe `__file__`). Names imported from it
    (`from m import f`) are `_Later` stand-ins that import `m` when called or read."""

    def __init__(self, name: str, names: Iterable[str] = ()) -> None:
        super().__init__(name)
        for attr in names:
            setattr(self, attr, _Later(self, attr))

    def _real(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return importlib.import_module(self.__name__)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._real(), attr)


class _Later:
    """A name imported from a deferred module: calling it calls the real function, reading an
    attribute reads the real object's (`Style.TONE3` for an enum class), both importing the
    module on first use."""

    def __init__(self, module: _DeferredModule, name: str) -> None:
        self._module, self._name = module, name

    def _target(self) -> Any:
        return getattr(self._module._real(), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._target(), attr)


@contextlib.contextmanager
def _deferred(modules: dict[str, tuple[str, ...]]) -> Iterator[None]:
    """Stand-ins for `modules` (those not imported yet) while the block imports; afterwards
    sys.modules holds only real modules again, so any later importer gets the real ones."""
    stand_ins = {name: _DeferredModule(name, fns) for name, fns in modules.items() if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def import_f5_model() -> types.ModuleType:
    """`f5_tts.model` with `DiT` loaded, without running the package `__init__` and with
    `DEFERRED_IMPORTS` left for later (see the module docstring). Idempotent; if the real
    package is already imported it is used."""
    existing = sys.modules.get("f5_tts.model")
    if existing is None:
        pkg = types.ModuleType("f5_tts.model")
        pkg.__path__ = [str(f5_package_dir() / "model")]
        pkg.__package__ = "f5_tts.model"
        pkg.__file__ = None
        sys.modules["f5_tts.model"] = pkg
        existing = pkg
    if not hasattr(existing, "DiT"):
        with _deferred(DEFERRED_IMPORTS):
            existing.DiT = importlib.import_module("f5_tts.model.backbones.dit").DiT
    return existing


def _download(repo: str, filename: str, what: str, variable: str) -> Path:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise EngineStartupError(
            f"{what} not found locally and HF_HUB_OFFLINE is set: set {variable} to a local {what}"
        )
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # any hub failure ends in the same actionable message
        raise EngineStartupError(
            f"could not download {what} ({repo}/{filename}): {type(exc).__name__}; set {variable} to a local file"
        ) from exc


def _existing(path: str, what: str, variable: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise EngineStartupError(f"{what} {p} does not exist (from {variable})")
    return p


def hub_or_local(path: str, what: str, variable: str) -> Path:
    """A local file, or `hf://owner/repo/path/in/repo` (how f5-tts's list of shared
    checkpoints names them) fetched from the hub where that is allowed, as the default
    model's files are."""
    if not path.startswith("hf://"):
        return _existing(path, what, variable)
    parts = path.removeprefix("hf://").split("/", 2)
    if len(parts) < 3 or not all(parts):
        raise EngineStartupError(f"{what} {path!r} is not hf://owner/repo/file (from {variable})")
    return _download(f"{parts[0]}/{parts[1]}", parts[2], what, variable)


def model_config_path(model: str) -> Path:
    """A model name f5-tts ships a config for (`F5TTS_v1_Base`, ...) or a path to a yaml."""
    if model.endswith((".yaml", ".yml")):
        return _existing(model, "model config", "F5_MODEL")
    path = f5_package_dir() / "configs" / f"{model}.yaml"
    if not path.exists():
        shipped = sorted(p.stem for p in (f5_package_dir() / "configs").glob("*.yaml"))
        raise EngineStartupError(f"F5_MODEL={model!r} is not a config f5-tts ships ({', '.join(shipped)})")
    return path


def load_model_config(path: Path) -> dict[str, Any]:
    import yaml

    with path.open() as fh:
        cfg = yaml.safe_load(fh)
    model = cfg.get("model", {})
    if model.get("backbone") != "DiT" or model.get("mel_spec", {}).get("mel_spec_type") != "vocos":
        raise EngineStartupError(f"{path}: only DiT backbones with the vocos mel spectrogram are supported")
    return model


def checkpoint_dtype(path: Path) -> str:
    """The dtype a checkpoint's name declares: `<stem>.bf16.safetensors` (what
    `scripts/convert_weights.py` writes) is bf16; a name without a tag is the fp32 release."""
    tag = path.name.split(".")[-2] if path.name.count(".") >= 2 else ""
    return tag if tag in NAMED_DTYPES else "fp32"


def _preferred_checkpoint(candidates: list[Path], serving_dtype: str | None) -> Path | None:
    """The checkpoint stored in the dtype it is served in, else a half-precision one (half
    the bytes to read), else the last by name."""

    def rank(path: Path) -> tuple[int, str]:
        stored = checkpoint_dtype(path)
        return (2 if stored == serving_dtype else 1 if stored != "fp32" else 0, path.name)

    return max(candidates, key=rank) if candidates else None


def _in_model_dir(model_dir: Path, model_name: str, serving_dtype: str | None = None) -> dict[str, Path | None]:
    """Files under MODEL_DIR: `<dir>` or `<dir>/<model>` for the checkpoint (any
    .safetensors/.pt, the serving dtype's first) and vocab.txt, `<dir>/vocos-mel-24khz` or
    `<dir>` for the vocoder."""
    found: dict[str, Path | None] = {"checkpoint": None, "vocab": None, "vocoder": None}
    for base in (model_dir / model_name, model_dir):
        if found["checkpoint"] is None and base.is_dir():
            ckpts = [p for p in base.iterdir() if p.suffix in CHECKPOINT_SUFFIXES and not p.name.startswith(".")]
            found["checkpoint"] = _preferred_checkpoint(ckpts, serving_dtype)
        if found["vocab"] is None and (base / "vocab.txt").exists():
            found["vocab"] = base / "vocab.txt"
    for base in (model_dir / "vocos-mel-24khz", model_dir):
        if found["vocoder"] is None and all((base / f).exists() for f in VOCOS_FILES):
            found["vocoder"] = base
    return found


def resolve_files(
    *,
    model: str,
    ckpt_file: str | None,
    vocab_file: str | None,
    vocoder_path: str | None,
    model_dir: str | None,
    serving_dtype: str | None = None,
) -> ModelFiles:
    """Every file the engine loads, local first; in MODEL_DIR the checkpoint stored in
    `serving_dtype` wins over the others."""
    config = model_config_path(model)
    model_name = config.stem
    local = _in_model_dir(Path(model_dir), model_name, serving_dtype) if model_dir else {}
    if model_dir and not Path(model_dir).is_dir():
        raise EngineStartupError(f"MODEL_DIR {model_dir} is not a directory")

    if ckpt_file:
        checkpoint = hub_or_local(ckpt_file, "checkpoint", "F5_CKPT_FILE")
    elif local.get("checkpoint"):
        checkpoint = local["checkpoint"]
    elif model_name in HUB_CHECKPOINTS:
        repo, filename = HUB_CHECKPOINTS[model_name]
        checkpoint = _download(repo, filename, f"{model_name} checkpoint", "F5_CKPT_FILE (or MODEL_DIR)")
    else:
        raise EngineStartupError(f"no checkpoint for {model_name}: set F5_CKPT_FILE (or MODEL_DIR)")

    if vocab_file:
        vocab = hub_or_local(vocab_file, "vocabulary", "F5_VOCAB_FILE")
    else:
        # upstream's own default: the vocabulary packaged with f5-tts
        vocab = local.get("vocab") or f5_package_dir() / "infer" / "examples" / "vocab.txt"

    if vocoder_path:
        vocoder_dir = _existing(vocoder_path, "vocoder directory", "VOCODER_PATH")
        for name in VOCOS_FILES:
            _existing(str(vocoder_dir / name), f"vocoder {name}", "VOCODER_PATH")
    elif local.get("vocoder"):
        vocoder_dir = local["vocoder"]
    else:
        paths = [_download(VOCOS_REPO, name, f"vocoder {name}", "VOCODER_PATH (or MODEL_DIR)") for name in VOCOS_FILES]
        vocoder_dir = paths[0].parent
    return ModelFiles(config=config, checkpoint=checkpoint, vocab=vocab, vocoder_dir=vocoder_dir)


def read_vocab(path: Path) -> dict[str, int]:
    """Upstream's "custom" tokenizer: one token per line, its line number is its id."""
    with path.open(encoding="utf-8") as fh:
        return {line[:-1]: i for i, line in enumerate(fh)}


def load_dit_state(path: Path, device: str = "cpu", dtype: Any = None) -> dict[str, Any]:
    """The EMA weights of the DiT, as upstream's `load_checkpoint(use_ema=True)` takes them,
    read onto `device` and cast to `dtype` one tensor at a time: a file already in that
    dtype is read straight onto the device with no copy in another precision; an fp32 file
    holds at most one tensor in fp32 besides the result."""
    import torch

    prefix = "ema_model.transformer."
    state: dict[str, Any] = {}

    def take(key: str, tensor: torch.Tensor) -> None:
        if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
            tensor = tensor.to(dtype)
        state[key[len(prefix) :]] = tensor

    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device=device) as fh:
            for key in fh.keys():  # noqa: SIM118 (a safe_open handle is not iterable)
                if key.startswith(prefix):
                    take(key, fh.get_tensor(key))
    else:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        raw = ckpt.get("ema_model_state_dict", ckpt)
        for key, tensor in raw.items():
            if key.startswith(prefix):
                take(key, tensor.to(device))
    if not state:
        raise EngineStartupError(f"{path} holds no '{prefix}*' weights: not an F5-TTS EMA checkpoint")
    return state


def load_dit(
    dit_class: Callable[..., Any],
    files: ModelFiles,
    cfg: dict[str, Any],
    vocab_size: int,
    precision: Precision,
    dtype: Any,
    timer: StageTimer,
) -> Any:
    """`dit_class` built from `cfg` (its `arch` and `mel_spec`) for `vocab_size` tokens, with
    the checkpoint's weights in `dtype` (torch's, for `precision`) on its device, in eval
    mode; dynamic int8 Linear layers for int8. The module takes the tensors as read (see
    load_dit_state) instead of copying them into its own fp32 parameters. Raises
    EngineStartupError, one line, when the checkpoint does not fit the config and vocab."""
    import torch

    arch = {k: v for k, v in cfg["arch"].items() if k not in ("attn_backend", "attn_mask_enabled")}
    try:
        with timer.stage("weights_read"):
            state = load_dit_state(files.checkpoint, device=precision.device, dtype=dtype)
        with timer.stage("weights_to_device"):
            with no_weight_init():
                dit = dit_class(**arch, text_num_embeds=vocab_size, mel_dim=cfg["mel_spec"]["n_mel_channels"])
            dit.load_state_dict(state, assign=True)
    except (RuntimeError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:200]  # torch's own message spans lines
        raise EngineStartupError(
            f"{files.checkpoint} does not fit {files.config.name} with vocab {files.vocab}: {reason}"
        ) from exc
    with timer.stage("weights_to_device"):
        del state
        dit = dit.eval().to(precision.device, dtype)  # the non-persistent buffers (rotary tables)
        if precision.dtype == "int8":
            dit = torch.ao.quantization.quantize_dynamic(dit, {torch.nn.Linear}, dtype=torch.qint8)
    return dit


_INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
)


@contextlib.contextmanager
def no_weight_init() -> Iterator[None]:
    """Build a model without drawing random initial weights (1.4 s of cold start for the
    337 M parameters of F5TTS_v1_Base on a 2-core CPU, 0.08 s for Vocos), for a strict
    `load_state_dict` that follows and overwrites every parameter and persistent buffer."""
    import torch

    saved = {name: getattr(torch.nn.init, name) for name in _INIT_FUNCTIONS}
    try:
        for name in _INIT_FUNCTIONS:
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def load_vocoder(vocoder_dir: Path) -> Any:
    """Vocos from its `config.yaml` + `pytorch_model.bin`, as upstream's local path does."""
    import torch

    with _deferred(VOCOS_DEFERRED_IMPORTS):
        from vocos import Vocos
    with no_weight_init():
        vocoder = Vocos.from_hparams(str(vocoder_dir / "config.yaml"))
    state = torch.load(str(vocoder_dir / "pytorch_model.bin"), map_location="cpu", weights_only=True)
    vocoder.load_state_dict(state)  # strict: every parameter and buffer comes from the file
    return vocoder.eval()
