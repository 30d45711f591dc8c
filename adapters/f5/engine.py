"""F5-TTS behind the TTS-engine port: batched, seeded per item, loaded once at start-up.

Why this does not call upstream's `CFM.sample`: upstream seeds the *global* RNG once per
call and draws every item's noise from it, so an item's audio depends on its batch mates;
it also runs batches without attention masking (`attn_mask_enabled: False` in the shipped
configs), so padding leaks into shorter items. Here each item's initial noise comes from its
own `torch.Generator` seeded with `item.seed`, and padded batches run with the DiT's own
masking switched on, so an item sounds the same alone or batched. The rest follows upstream
step for step (Euler ODE over the same time grid, EPSS schedules for low NFE, sway
sampling, classifier-free guidance packed into one forward, the same duration rule and
reference handling), which the parity test checks against `F5TTS.infer`.

The engine works row by row (`plan`, `start`, `step`, `finish`): each item is a `Row` that
carries its whole ODE state (its time grid with sway and EPSS, its state from its own noise,
its conditioning and text embeddings, its guidance strength), so rows at different steps
can share a forward pass and a row joins or leaves between any two steps. The step
scheduler (step_scheduler) decides which rows run at each step; `synthesize` runs a call's
rows through the same policy on the calling thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import numpy as np
import structlog
import torch

from adapters.audio_arrays import from_numpy
from adapters.f5.attention import make_processor
from adapters.f5.compile import BackgroundCompile
from adapters.f5.config import EngineConfig
from adapters.f5.cpu_attention import onednn_attention, onednn_attention_works
from adapters.f5.cpu_linear import pack_linears, packing_works
from adapters.f5.loading import (
    EngineStartupError,
    import_f5_model,
    load_dit,
    load_model_config,
    load_vocoder,
    read_vocab,
    resolve_files,
)
from adapters.f5.precision import Precision, choose_precision, has_amx, has_native_bf16, processor_name, read_cpu_flags
from adapters.f5.references import TARGET_RMS, ReferenceCache, prepare_reference
from adapters.f5.rows import Row, generated_mel, row_frames, run_grouped, start_row, step_batch
from adapters.f5.runner import CudaGraphRunner, Runner, RunnerFactory, make_runner
from adapters.f5.stage_marks import StageMarks
from adapters.f5.velocity import DitVelocity
from adapters.reference_prep import remove_long_silences
from domain.audio import Audio
from domain.errors import EngineError, InvalidInput, TtsError
from domain.synthesis import Reference, SynthesisItem, SynthesisParams, prepare_ref_text
from domain.timing import StageTimer
from ports.tts_engine import EngineCapacity, EngineStatus

log = structlog.get_logger()
Result = TypeVar("Result")

CPU_BATCH_ITEMS = 1  # see F5Engine.capacity
CPU_JOBS = 8
WARM_UP_SECONDS = 0.25  # the warm-up voice's length (see F5Engine.warm_up)
GPU_EAGER_BATCH_ITEMS = 16
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.float32}


class F5Engine:
    """Implements `ports.tts_engine.TtsEngine`; build it with `build_f5_engine`."""

    def __init__(
        self,
        *,
        dit: torch.nn.Module,
        vocoder: Any,
        mel_spec: torch.nn.Module,
        vocab: dict[str, int],
        precision: Precision,
        model_id: str,
        sample_rate: int,
        hop_length: int,
        runner: Runner,
        max_batch_frames: int = 32768,
        reference_cache_size: int = 64,
        compile_mode: str = "off",
        background_compile: BackgroundCompile | None = None,
    ) -> None:
        self._dit = dit
        self._vocoder = vocoder
        self._vocab = vocab
        self.precision = precision
        self._dtype = TORCH_DTYPES[precision.dtype]
        self._device = torch.device(precision.device)
        self._model_id = model_id
        self._sample_rate = sample_rate
        self._max_batch_frames = max_batch_frames
        self._refs = ReferenceCache(
            lambda ref: prepare_reference(ref, mel_spec, sample_rate, hop_length, self._device, self._dtype),
            reference_cache_size,
        )
        self._lock = threading.Lock()
        # the vocoder's own: finished rows are decoded beside the next steps (see step_scheduler)
        self._decode_lock = threading.Lock()
        self._marks_lock = threading.Lock()  # the stage marks below, from both
        self._grids: dict[tuple[int, float], tuple[tuple[float, ...], tuple[float, ...]]] = {}
        # stage marks since the last finish, read and logged there (see _finish)
        self._marks: list[tuple[str, StageMarks]] = []
        self._steps: list[tuple[int, int]] = []  # (rows, frames) of each step since then
        self._runner = runner
        self._compile_mode = compile_mode
        self._background_compile = background_compile
        f5_utils = __import__("f5_tts.model.utils", fromlist=["utils"])
        self._to_pinyin = f5_utils.convert_char_to_pinyin
        self._to_idx = f5_utils.list_str_to_idx
        self._epss = f5_utils.get_epss_timesteps

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def runner(self) -> Runner:
        return self._runner

    def status(self) -> EngineStatus:
        """See `ports.tts_engine.EngineStatus`; reads without the engine's lock (a job may
        hold it for seconds), each field in one read."""
        runner = self._runner
        background = self._background_compile
        return EngineStatus(
            model=self._model_id,
            device=self.precision.device,
            dtype=self.precision.dtype,
            runner=runner.name,
            graphs=runner.graphs_held,
            compile=self._compile_mode if background is None else background.state,
        )

    @property
    def background_compile(self) -> BackgroundCompile | None:
        """The compile `TTS_COMPILE=background` runs after the warm-up (None otherwise)."""
        return self._background_compile

    def capacity(self) -> EngineCapacity:
        """Chunks at once: the largest captured batch under CUDA graphs (bigger batches fall
        back to eager), 16 on an eager GPU, and one job's chunks (CPU_BATCH_ITEMS: a request is
        never split) on a CPU. There a batch costs the sum of its items plus its padding (2-core
        EPYC: four same-length items 20.46 s, one 5.10 s), so batching jobs only makes each wait
        for all: at 8 clients one job at a time gave a median latency of 24.9 s instead of
        61.5 s, and 3% more audio per second (benchmarks/results/serve-cpu.txt). Jobs held
        (MAX_CONCURRENCY unset): one batch's worth on a GPU; CPU_JOBS on a CPU, which runs them
        one by one but holds several so a stream's first chunk can go ahead of them (the step
        scheduler's urgent rows)."""
        buckets, cpu = self._runner.buckets, self._device.type == "cpu"
        batch = buckets.max_batch if buckets is not None else CPU_BATCH_ITEMS if cpu else GPU_EAGER_BATCH_ITEMS
        return EngineCapacity(batch_items=batch, jobs=CPU_JOBS if cpu else batch)

    # -- public ---------------------------------------------------------------------------

    @property
    def step_batch_sizes(self) -> tuple[int, ...]:
        """The captured batch sizes the runner pads a step up to (() for the eager runner)."""
        buckets = self._runner.buckets
        return () if buckets is None else buckets.batch_sizes

    @property
    def max_step_frames(self) -> int:
        """The most padded frames (rows x longest row) one step may hold (BATCH_MAX_FRAMES)."""
        return self._max_batch_frames

    def synthesize(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> list[Audio]:
        """See `ports.tts_engine`. `urgent` changes nothing here: this engine runs every call
        at once (the step scheduler in front of it is what queues). The rows step together,
        chosen at each step by the scheduler's policy (choose_rows), so a call's audio is what
        the scheduler gives the same items."""
        with self._lock:
            rows = self._guarded(self._plan, items)
            start, step = partial(self._guarded, self._start), partial(self._guarded, self._step)
            return run_grouped(rows, self._max_batch_frames, start, step, self.finish)

    def plan(self, items: Sequence[SynthesisItem]) -> list[Row]:
        """The items' rows, not started: their lengths, guidance and time grids. Raises
        InvalidInput for an item that cannot be spoken."""
        with self._lock:
            return self._guarded(self._plan, items)

    def start(self, rows: Sequence[Row]) -> None:
        """Put the rows' starting state on the device (noise, conditioning, and every row's
        text embeddings in one pass)."""
        with self._lock:
            self._guarded(self._start, rows)

    def step(self, rows: Sequence[Row]) -> None:
        """Advance each started row one step along its own grid, in one forward pass. A row
        is changed only once the whole step has run."""
        with self._lock:
            self._guarded(self._step, rows)

    def finish(self, rows: Sequence[Row]) -> list[Audio]:
        """The done rows' waveforms, vocoded together; the rows let go of their state. Safe
        beside `step` on other rows: a decoder thread runs it while the next steps run."""
        with self._decode_lock:
            return self._guarded(self._finish, rows)

    def _guarded(self, stage: Callable[[Sequence[Any]], Result], rows: Sequence[Any]) -> Result:
        """One stage under inference mode; a model failure becomes an EngineError."""
        try:
            with torch.inference_mode():
                return stage(rows)
        except TtsError:
            raise
        except Exception as exc:  # a model failure must reach the client as engine_error
            # the exception's text can carry paths and tensor dumps: it goes to the log only
            log.exception("f5_failed", items=len(rows))
            raise EngineError(f"F5-TTS failed ({type(exc).__name__}); the error was logged") from exc

    def warm_up(self, reference: Reference | None = None) -> None:
        """Two short syntheses, one item alone and a padded pair (the unmasked and the
        masked attention paths), so the first job's latency excludes one-off costs:
        allocator growth, oneDNN kernel selection, and torch.compile when it is on. They use
        a quarter-second tone as the voice: every path runs, on about 40 frames instead of a
        job's hundreds (in fp32 on a 2-core CPU, where one DiT step over a second of reference
        costs over a second, the warm-up was 4.4 s of a 7.6 s start with a one-second tone).
        `reference` (the worker passes its default voice) is prepared too and stays cached,
        and its transcript goes through the text conversion, so a first job in that voice
        pays no reference preparation either, nor, for a voice that speaks Chinese, the
        import of pypinyin (deferred until a text needs it, see loading.py). Under
        `TTS_COMPILE=background` the compile starts once this is done (see compile.py)."""
        if reference is not None:
            with self._lock, torch.inference_mode():
                self._refs.get(reference)
                self._to_pinyin([_model_ref_text(reference.text)])
        t = np.arange(int(WARM_UP_SECONDS * self._sample_rate), dtype=np.float32) / self._sample_rate
        tone = (0.3 * np.sin(2 * np.pi * 140 * t)).astype(np.float32)
        ref = Reference(key="warm-up", audio=from_numpy(tone, self._sample_rate), text="Warm up.")
        params = SynthesisParams(nfe_step=1)  # one step runs every kernel a job runs; more only repeat them
        ready = SynthesisItem(reference=ref, text="Ready.", params=params, seed=0)
        self.synthesize([ready])
        pair = self.plan([ready, SynthesisItem(reference=ref, text="Ready to take jobs.", params=params, seed=1)])
        self.start(pair)  # one padded step of both, whatever the padding ratio would choose
        self.step(pair)
        self.finish(pair)
        with self._lock:
            self._refs.drop("warm-up")
        if self._background_compile is not None:
            self._background_compile.start(self.swap_runner)

    def swap_runner(self, runner: Runner) -> None:
        """From the next call on, integrate with `runner` (a background compile's, see
        compile.py); a call in progress finishes with the runner it started with."""
        with self._lock:
            self._runner = runner

    # -- synthesis ----------------------------------------------------------------------------

    def _plan(self, items: Sequence[SynthesisItem]) -> list[Row]:
        return [self._row(item) for item in items]

    def _row(self, item: SynthesisItem) -> Row:
        if not item.text.strip():
            raise InvalidInput("nothing to speak in an empty chunk")
        ref = self._refs.get(item.reference)
        tokens = self._to_pinyin([_model_ref_text(item.reference.text) + item.text])[0]
        times, deltas = self._grid(item.params.nfe_step, item.params.sway_sampling_coef)
        return Row(item, ref, tokens, row_frames(item, ref, len(tokens)), times, deltas)

    def _grid(self, nfe: int, sway: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Upstream's grid: EPSS where it has a schedule for `nfe` (7, 16, ...), else
        uniform; then sway sampling. Kept in fp32 even when the DiT runs in half precision,
        where upstream rounds it to the model dtype. Computed on the device, as each step's
        size is, and read back once per (nfe, sway): the rows carry its values on the host."""
        key = (nfe, sway)
        if key not in self._grids:
            t = self._epss(nfe, device=self._device, dtype=torch.float32)
            t = t + sway * (torch.cos(torch.pi / 2 * t) - 1 + t)
            self._grids[key] = (tuple(t[:-1].tolist()), tuple((t[1:] - t[:-1]).tolist()))
        return self._grids[key]

    def _start(self, rows: Sequence[Row]) -> None:
        """Each row's noise from its own generator, the reference mel as its conditioning,
        every row's text embeddings in one pass (each as if alone, see text_embedding.py)."""
        if not rows:
            return
        marks = StageMarks(self._device)
        marks.mark()
        lengths = [row.frames for row in rows]
        tokens = [self._to_idx([row.tokens], self._vocab)[0] for row in rows]
        text = self._runner.embed_text(self._dit, tokens, lengths, max(lengths))
        for i, row in enumerate(rows):
            start_row(row, text[:, i, : row.frames].contiguous(), self._device, self._dtype)
        marks.mark()
        with self._marks_lock:
            self._marks.append(("assemble", marks))

    def _step(self, rows: Sequence[Row]) -> None:
        marks = StageMarks(self._device)
        marks.mark()
        batch = step_batch(rows)
        states = self._runner.step(batch)
        for row, state in zip(rows, states, strict=True):
            row.y = state
            row.steps_done += 1
        marks.mark()
        with self._marks_lock:
            self._marks.append(("ode", marks))
            self._steps.append((len(rows), max(batch.lengths)))

    def _finish(self, rows: Sequence[Row]) -> list[Audio]:
        """Mel -> waveform (see generated_mel), the vocoder in fp32, batched with per-row
        lengths; quiet voices' outputs scaled back to their loudness, in place (two new
        waveforms a row cost their fresh memory's page faults between the last step and the
        answer). Logs the stage times of
        the steps since the last finish (read now: the audio is on the host, so reading the
        device's marks waits for nothing)."""
        if not rows:
            return []
        self._runner.synchronize()
        marks = StageMarks(self._device)
        marks.mark()
        mels = [generated_mel(row, self._dtype) for row in rows]
        out = []
        for row, wave in zip(rows, self._runner.decode(self._vocoder, mels), strict=True):
            if row.ref.rms < TARGET_RMS:
                wave.mul_(row.ref.rms).div_(TARGET_RMS)  # upstream's `wave * rms / target`, rounded alike
            samples = wave.float().cpu().numpy()
            if row.item.params.remove_silence:
                samples = remove_long_silences(samples, self._sample_rate)
            out.append(from_numpy(samples, self._sample_rate))
            row.y = row.cond = row.text = None
        marks.mark()
        with self._marks_lock:
            self._marks.append(("decode", marks))
            pending, steps, self._marks, self._steps = self._marks, self._steps, [], []
        self._log_stages(len(rows), pending, steps)
        return out

    def _log_stages(self, items: int, pending: list[tuple[str, StageMarks]], steps: list[tuple[int, int]]) -> None:
        seconds = dict.fromkeys(("assemble", "ode", "decode"), 0.0)
        for stage, marks in pending:
            seconds[stage] += sum(marks.seconds())
        log.debug(
            "f5_batch",
            items=items,
            steps=len(steps),
            rows_per_step=round(sum(rows for rows, _ in steps) / max(1, len(steps)), 2),
            frames=max((frames for _, frames in steps), default=0),
            runner=self._runner.name,
            seconds=round(sum(seconds.values()), 4),
            assemble_seconds=round(seconds["assemble"], 4),
            ode_seconds=round(seconds["ode"], 4),
            decode_seconds=round(seconds["decode"], 4),
        )


def _attention_backend(dit: torch.nn.Module, precision: Precision, runner: str, *, onednn: bool) -> str:
    """Mask padded keys in every block (upstream ships with masking off); use flash-attn's
    kernels where they exist: CUDA, half precision, flash_attn importable, and no graph
    capture (its masked path reads lengths back to the host). Eager CPU batches run
    attention item by item (see attention.py), as oneDNN products when `onednn` (see
    `_uses_onednn_attention`); that reads each item's length on the host too, so a graph
    runner (on a CPU only in tests) attends over the padded batch with a mask, as on a GPU."""
    backend = "torch"
    if precision.device.startswith("cuda") and precision.dtype in ("fp16", "bf16") and runner == "eager":
        try:
            import flash_attn  # noqa: F401

            backend = "flash_attn"
        except ImportError:
            pass
    for block in dit.transformer_blocks:
        block.attn.processor.attn_backend = backend
        block.attn.processor = make_processor(block.attn.processor)
        block.attn.processor.split_items = precision.device == "cpu" and runner == "eager"
        if onednn:
            block.attn.processor.attend = onednn_attention
    return "onednn" if onednn else backend


def _uses_onednn_attention(precision: Precision, cpu_flags: str, compile: bool) -> bool:
    """oneDNN attention (see cpu_attention) on a CPU without AMX, eager, with fp32 or bf16
    activations (int8's are fp32); AMX CPUs keep the flash kernel, which uses the tiles."""
    if precision.device != "cpu" or precision.dtype not in ("fp32", "bf16", "int8") or compile:
        return False
    if has_amx(cpu_flags):
        return False
    return onednn_attention_works(TORCH_DTYPES[precision.dtype])


def _precision(config: EngineConfig) -> tuple[Precision, str]:
    """The serving device (TTS_DEVICE, else CUDA where there is one) and dtype (see
    choose_precision), and the CPU's flags, which the kernels' choices read too."""
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cpu_flags = read_cpu_flags()
    cuda_bf16 = device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    precision = choose_precision(
        device=device, cpu_flags=cpu_flags, requested=config.dtype, cuda_bf16_supported=cuda_bf16
    )
    return precision, cpu_flags


def _ode_runner(
    config: EngineConfig, dit: torch.nn.Module, precision: Precision, make_runner: RunnerFactory
) -> tuple[Runner, BackgroundCompile | None]:
    """The runner `make_runner` builds for the settings and, under TTS_COMPILE=background,
    the compile that later swaps in a runner over compiled blocks: it holds the capture gate
    while it compiles, so no graph is captured meanwhile, and needs the CUDA-graph runner."""
    dtype = TORCH_DTYPES[precision.dtype]
    gate = threading.Lock() if config.compile == "background" else None
    try:
        runner = make_runner(
            config.runner, DitVelocity(dit, dtype), precision.device, max_graphs=config.max_graphs, capture_gate=gate
        )
    except ValueError as exc:
        raise EngineStartupError(str(exc)) from exc
    if gate is None:
        return runner, None
    if not isinstance(runner, CudaGraphRunner):
        raise EngineStartupError(
            f"TTS_COMPILE=background compiles beside CUDA graphs, and the engine runs {runner.name} "
            f"on {precision.device}: set TTS_COMPILE=1 to compile before serving, or 0"
        )
    return runner, BackgroundCompile(dit, dtype, runner.over, gate)


def _init_device(device: str) -> None:
    """Create the device's context now (CUDA initialisation is seconds on a cold machine),
    so the timer books it here rather than inside the first copy of weights."""
    if device.startswith("cuda"):
        torch.cuda.init()
        torch.empty(1, device=device)


def build_f5_engine(
    config: EngineConfig, *, timer: StageTimer | None = None, make_runner: RunnerFactory = make_runner
) -> F5Engine:
    """Load everything now (the worker takes no job before this returns). The weights are
    read straight into the serving dtype on the device (see `load_dit_state`). `timer`, when
    given, gets one entry per loading stage (the worker's `worker_ready` breakdown);
    `make_runner` builds the ODE runner (the container's provider: a benchmark's clock in
    benchmarks/paced_worker.py, a CPU graph runner in tests). Raises
    EngineStartupError (an EngineError) with a one-line reason when a file is missing or a
    setting cannot work on this device.
    """
    started = time.perf_counter()
    timer = timer or StageTimer()
    mode = config.compile
    compile = mode == "on"
    with timer.stage("device_init"):
        precision, cpu_flags = _precision(config)
    serving = "fp32" if precision.dtype == "int8" else precision.dtype
    files = resolve_files(
        model=config.model,
        ckpt_file=config.ckpt_file,
        vocab_file=config.vocab_file,
        vocoder_path=config.vocoder_path,
        model_dir=config.model_dir,
        serving_dtype=serving,
    )
    cfg = load_model_config(files.config)
    mel_cfg = cfg["mel_spec"]
    with timer.stage("device_init"):
        _init_device(precision.device)
    with timer.stage("imports_model"):
        f5_model = import_f5_model()
        modules = __import__("f5_tts.model.modules", fromlist=["modules"])
        __import__("f5_tts.model.utils", fromlist=["utils"])
    vocab = read_vocab(files.vocab)
    dit = load_dit(f5_model.DiT, files, cfg, len(vocab), precision, TORCH_DTYPES[precision.dtype], timer)
    ode_runner, background = _ode_runner(config, dit, precision, make_runner)
    onednn = config.onednn_cpu_attention and _uses_onednn_attention(precision, cpu_flags, compile)
    backend = _attention_backend(dit, precision, ode_runner.name, onednn=onednn)
    packs = config.pack_cpu_linears and _packs_linears(precision, compile)
    if compile:
        for block in dit.transformer_blocks:
            block.compile(dynamic=True)
    with ThreadPoolExecutor(max_workers=1) as overlap:
        # packing (oneDNN reorders on all cores) runs beside the vocoder's load (mostly
        # single-threaded Python); weights_pack books only the wait left after it
        packing = overlap.submit(pack_linears, dit) if packs else None
        with timer.stage("vocoder"):
            mel_spec = modules.MelSpec(
                n_fft=mel_cfg["n_fft"],
                hop_length=mel_cfg["hop_length"],
                win_length=mel_cfg["win_length"],
                n_mel_channels=mel_cfg["n_mel_channels"],
                target_sample_rate=mel_cfg["target_sample_rate"],
                mel_spec_type="vocos",
            ).to(precision.device)
            vocoder = load_vocoder(files.vocoder_dir).to(precision.device)
        with timer.stage("weights_pack"):
            packed = packing.result() if packing is not None else 0
    model_id = f"{files.config.stem}:{files.checkpoint.name}:{files.checkpoint.stat().st_size}"
    engine = F5Engine(
        dit=dit,
        vocoder=vocoder,
        mel_spec=mel_spec,
        vocab=vocab,
        precision=precision,
        model_id=model_id,
        sample_rate=mel_cfg["target_sample_rate"],
        hop_length=mel_cfg["hop_length"],
        max_batch_frames=config.max_batch_frames,
        runner=ode_runner,
        compile_mode=mode,
        background_compile=background,
    )
    log.info(
        "f5_engine_loaded",
        processor=torch.cuda.get_device_name() if precision.device.startswith("cuda") else processor_name(),
        native_bf16=has_native_bf16(cpu_flags),
        device=precision.device,
        dtype=precision.dtype,
        dtype_reason=precision.reason,
        attention_backend=backend,
        compile=mode,
        packed_linears=packed,
        runner=ode_runner.name,
        model_id=model_id,
        checkpoint=str(files.checkpoint),
        load_seconds=round(time.perf_counter() - started, 2),
    )
    return engine


def _packs_linears(precision: Precision, compile: bool) -> bool:
    """oneDNN-packed Linears (see cpu_linear) on a CPU in fp32 or bf16; not under
    torch.compile, whose own CPU lowering decides the kernels, nor for int8's quantized layers."""
    if precision.device != "cpu" or precision.dtype not in ("fp32", "bf16") or compile:
        return False
    return packing_works(TORCH_DTYPES[precision.dtype])


def _model_ref_text(text: str) -> str:
    """The transcript as upstream feeds it to the model."""
    text = prepare_ref_text(text)
    if len(text[-1].encode("utf-8")) == 1:
        # upstream's infer_batch_process adds this second space after preprocess's
        # ". "; it counts in the duration rule, so it is kept for parity
        text += " "
    return text


__all__ = ["EngineStartupError", "F5Engine", "build_f5_engine"]
