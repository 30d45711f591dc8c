"""This worker with its device work replaced by a clock: `python -m benchmarks.serve --paced h200-graphs`.

A GPU is lent for minutes, yet most of what decides the GPU worker's throughput is not the GPU:
how the step scheduler shares steps and pads rows to shape buckets, what graph captures cost on
the request path, and the host's own work (HTTP, planning, encoding) competing for the GIL. This
is the real worker on the tiny checkpoint, but its runner, which stands for the device, does no
arithmetic: it queues each device pass on a modelled GPU for as long as it would take there (a
DiT step of its bucket; the text encoder over the rows that start, the vocoder over those that
finish) and returns noise, zeros and silence. It measures time, never sound.

Steps: `DEVICE_MODELS`, fitted to results/ceiling-gpu.txt and serve-gpu.txt's captures (one
H200, bf16, guided F5TTS_v1_Base at 760 frames; graphs 6.7 / 32.7 / 63.8 ms at batch 1 / 8 /
16, compiled 3.5 / 14.7 / 30.3): max(floor, rows x per-row cost), scaled with the bucket's
frames; shapes past the largest bucket run at the eager floor. `PACED_DEVICE` picks the model,
`PACED_BUCKETS` (say `frame_step=128 steps_per_octave=0`) another grid.
Passes: estimates, as no GPU run timed them alone. Run eagerly, the text encoder takes 98
operations plus 6 per row and 16.8 MFLOP per frame (bf16), Vocos 110 plus 17 per row and 27
MFLOP per frame (fp32), counted with torch's profiler and FlopCounterMode; `Pass` charges 10 us
an operation, inside what engine-gpu.txt leaves beside the DiT for everything (13 ms for a
sentence, 27 ms for eight). `PACED_PASSES=host` runs the tiny checkpoint's own passes on the
host (the earlier model: its Vocos computes a full ISTFT where the GPU worker's host only
launches kernels, half of the worker's CPU samples at 16 clients).
The device runs behind the host as a CUDA stream does (`DeviceQueue`): a launch returns when
the device starts it, one step ahead at most, and the host waits only where the real code
synchronises: before a capture and before reading finished rows. `PACED_OVERLAP=0` holds the
engine for each step instead (issue 38's first model). MAX_CONCURRENCY and BATCH_MAX_ITEMS
default to the largest bucket, as on a GPU.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
import torch

from adapters.f5.buckets import ShapeBuckets
from adapters.f5.runner import StepBatch
from adapters.f5.text_embedding import text_embeddings
from adapters.f5.vocoder import decode_batch
from domain.synthesis import HOP_LENGTH

log = structlog.get_logger()
REFERENCE_FRAMES = 760  # the frames the model's figures were measured at
ATTENTION_FRAMES = 4900  # frames at which attention's FLOPs equal the Linears' (F5TTS_v1_Base, dim 1024)
LAUNCH_S = 10e-6  # one eager operation on the device, launch included


@dataclass(frozen=True)
class DeviceModel:
    """Milliseconds one guided DiT step takes, fitted at REFERENCE_FRAMES."""

    name: str
    per_row_ms: float  # per item, where the device is compute-bound
    floor_ms: float  # batch 1, where it is bound by latency
    eager_floor_ms: float  # shapes beyond the largest bucket run without a graph
    first_capture_s: float
    capture_s: float

    def step_seconds(self, rows: int, frames: int, captured: bool = True) -> float:
        scale = frames / REFERENCE_FRAMES * (1 + frames / ATTENTION_FRAMES) / (1 + REFERENCE_FRAMES / ATTENTION_FRAMES)
        floor = (self.floor_ms if captured else self.eager_floor_ms) * math.sqrt(frames / REFERENCE_FRAMES)
        return max(floor, rows * self.per_row_ms * scale) / 1000


DEVICE_MODELS = {
    "h200-graphs": DeviceModel("h200-graphs", 63.8 / 16, 6.7, 35.3, first_capture_s=0.76, capture_s=0.15),
    "h200-compiled": DeviceModel("h200-compiled", 30.3 / 16, 3.5, 35.3, first_capture_s=0.76, capture_s=0.15),
}


@dataclass(frozen=True)
class Pass:
    """A pass besides the DiT's steps, run eagerly (see the module's docstring)."""

    ops: int
    ops_per_row: int
    flop_per_frame: float
    flop_per_s: float

    def seconds(self, frames: Sequence[int]) -> float:
        """Over rows of these frames: its operations, then its arithmetic (on a GPU the two
        overlap in part, so this errs long)."""
        launches = (self.ops + self.ops_per_row * len(frames)) * LAUNCH_S
        return launches + sum(frames) * self.flop_per_frame / self.flop_per_s


TEXT_PASS = Pass(98, 6, 16.8e6, 400e12)  # bf16
VOCODER_PASS = Pass(110, 17, 27e6, 40e12)  # fp32


def ceiling(device: str, nfe: int, mean_audio: float, ref_seconds: float, batch: int = 16) -> float:
    """Audio s per device s with every job in a full batch at its own frames (no padding), so every
    grid is read against the same ceiling; the frames include the reference's, as the DiT's do."""
    frames = round((ref_seconds + mean_audio) * 24000 / HOP_LENGTH)
    return batch * mean_audio / (nfe * DEVICE_MODELS[device].step_seconds(batch, frames))


class DeviceQueue:
    """The modelled device's one stream (the module's docstring says how it runs behind the host):
    shared by every runner of the process and by the decoder thread."""

    def __init__(
        self,
        overlap: bool = True,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.overlap = overlap
        self._now, self._sleep = now, sleep
        self._lock = threading.Lock()
        self._free_at = 0.0  # when the last step queued ends
        self._busy = 0.0  # seconds of work queued since the last `busy_seconds()`

    def launch(self, seconds: float) -> None:
        with self._lock:
            start = max(self._now(), self._free_at)
            self._free_at = start + seconds
            self._busy += seconds
        self._wait_until(start)
        if not self.overlap:
            self.synchronize()

    def busy_seconds(self) -> float:
        """The device's work queued since the last call (steps, captures and passes): the benchmark's
        share of the wall time the modelled device was busy."""
        with self._lock:
            busy, self._busy = self._busy, 0.0
        return busy

    def synchronize(self) -> None:
        with self._lock:
            until = self._free_at
        self._wait_until(until)

    def _wait_until(self, moment: float) -> None:
        if (left := moment - self._now()) > 0:
            self._sleep(left)


#: the process's device, shared by its runners (a background compile swaps runners) and decoder
DEVICE = DeviceQueue(overlap=os.environ.get("PACED_OVERLAP", "1") != "0")


class PacedRunner:
    """`adapters.f5.runner.Runner` as a clock: a bucket's first use pays a capture (after
    the device has finished what is queued: a capture synchronises), at most `max_graphs`
    are kept (least recently used evicted, as `CudaGraphRunner` does), each step is queued
    on the device for the model's time for its bucket, and so are the text encoder's and the
    vocoder's passes (or, `passes_on_host`, they run for real on the host)."""

    name = "paced"

    def __init__(
        self,
        model: DeviceModel,
        buckets: ShapeBuckets,
        max_graphs: int = 24,
        device: DeviceQueue | None = None,
        passes_on_host: bool = False,
    ) -> None:
        self.model = model
        self.buckets = buckets
        self._max_graphs = max(1, max_graphs)
        self.device = device or DeviceQueue()
        self.passes_on_host = passes_on_host
        self._graphs: OrderedDict[tuple[int, int, bool], None] = OrderedDict()
        self.captures = 0

    @property
    def graphs_held(self) -> int:
        return len(self._graphs)

    def synchronize(self) -> None:
        """Waits for the queued steps, as reading the finished rows' mel does on a GPU; logs the
        device's busy seconds since the last sync (`paced_device`, the benchmark's `dev %`)."""
        self.device.synchronize()
        log.debug("paced_device", busy_seconds=round(self.device.busy_seconds(), 4))

    def embed_text(
        self, dit: torch.nn.Module, tokens: Sequence[torch.Tensor], lengths: Sequence[int], frames: int
    ) -> torch.Tensor:
        """Zeros of the embeddings' shape, the pass queued on the device."""
        if self.passes_on_host:
            return text_embeddings(dit, tokens, lengths, frames)
        self.device.launch(TEXT_PASS.seconds(lengths))
        weight = dit.text_embed.text_embed.weight
        return weight.new_zeros(2, len(lengths), frames, weight.shape[1])

    def decode(self, vocoder: Any, mels: list[torch.Tensor]) -> list[torch.Tensor]:
        """Silence of the length Vocos gives each mel (a hop per frame after the first), once the
        device has run the pass: the engine reads the waveforms straight after."""
        if self.passes_on_host:
            return decode_batch(vocoder, mels)
        frames = [mel.shape[1] for mel in mels]
        self.device.launch(VOCODER_PASS.seconds(frames))
        self.device.synchronize()
        return [torch.zeros(HOP_LENGTH * max(0, n - 1)) for n in frames]

    def step(self, batch: StepBatch) -> list[torch.Tensor]:
        lengths = batch.lengths
        held = [(rows, frames) for rows, frames, guided in self._graphs if guided == batch.guided]
        bucket = self.buckets.choose(len(lengths), max(lengths), held)
        key = (bucket.batch, bucket.frames, batch.guided)
        if bucket.captured and key in self._graphs:
            self._graphs.move_to_end(key)
        elif bucket.captured:
            seconds = self.model.capture_s if self.captures else self.model.first_capture_s
            self.device.synchronize()
            self.device.launch(seconds)
            self.device.synchronize()
            self.captures += 1
            self._graphs[key] = None
            if len(self._graphs) > self._max_graphs:
                self._graphs.popitem(last=False)
            log.info(
                "f5_graph_captured", batch=bucket.batch, frames=bucket.frames, guided=batch.guided, seconds=seconds
            )
        self.device.launch(self.model.step_seconds(bucket.batch, bucket.frames, bucket.captured))
        return list(batch.y)


def paced_make_runner(
    kind: str, velocity: object, device: str, buckets: ShapeBuckets | None = None, max_graphs: int = 24, **_: object
) -> PacedRunner:
    """`adapters.f5.runner.make_runner`'s signature; every kind gets the clock (and no
    capture gate: nothing compiles beside it); `PACED_PASSES=host`: see the module's docstring."""
    buckets = buckets or ShapeBuckets()
    for key, value in (pair.split("=", 1) for pair in os.environ.get("PACED_BUCKETS", "").split()):
        numbers = tuple(map(int, value.split("/")))  # what-if: "frame_step=128 steps_per_octave=0 batch_sizes=1/2/4"
        buckets = dataclasses.replace(buckets, **{key: numbers if "/" in value else numbers[0]})
    model = DEVICE_MODELS[os.environ.get("PACED_DEVICE", "h200-graphs")]
    return PacedRunner(model, buckets, max_graphs, DEVICE, passes_on_host=os.environ.get("PACED_PASSES") == "host")


def main() -> None:
    """The worker with the clock as its runner. Torch gets one thread: what stays on the host
    here (rows' noise and state, the mel a finished row hands on) is what the GPU worker keeps
    on the device, ops of a few thousand values, and a 2-core host's thread pool turns each into
    a wait for a core the HTTP threads hold (one row's mel to bf16: 4.7 ms on 2 threads under
    load, 0.02 ms on one)."""
    from container import Container
    from entrypoints import runpod_handler

    largest = str(ShapeBuckets().max_batch)
    os.environ.setdefault("MAX_CONCURRENCY", largest)
    os.environ.setdefault("BATCH_MAX_ITEMS", largest)
    torch.set_num_threads(1)
    Container.runner_factory.override(paced_make_runner)  # the one change: see the docstring
    runpod_handler.main()


if __name__ == "__main__":
    main()
