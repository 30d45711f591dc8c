"""Compiling the DiT's blocks off the request path: `TTS_COMPILE=background`.

`TTS_COMPILE=1` compiles the blocks before the worker takes a job: on an H200 1.6x the audio
per second at 8-16 clients, for about 7 s more start-up, paid by the user whose request woke
the worker. With `background` the worker starts as fast as without it and serves from CUDA
graphs of the plain blocks, while a thread compiles a second way in to the same blocks
(`torch.compile` wrappers: the modules, weights and everything the serving path reads stay
as they are) and runs it once on a side stream, which builds its kernels. Then the engine
swaps to a graph runner over the compiled blocks, whose graphs are captured on first use,
as at start; its fallback (shapes beyond the largest bucket) stays uncompiled, so no shape
compiles on the request path.

A graph capture must not overlap the compile's device work (its autotuning synchronises the
device), so the compile holds the graph runner's capture gate: meanwhile a batch that needs
a new graph runs eagerly instead of waiting, and graphs already captured keep replaying. If
the compile fails, the worker logs why and goes on as it was.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import structlog
import torch

from adapters.f5.runner import Runner
from adapters.f5.velocity import DitVelocity, lengths_mask

log = structlog.get_logger()
#: frames of the inputs the compile runs on. Any count serves later shapes (the blocks compile
#: with dynamic shapes; only a single row, which PyTorch specialises, needs inputs of its own),
#: but not one equal to another size the blocks see: equal sizes get one symbol (duck sizing),
#: and every later frame count would then compile again. 203 is no multiple of any width.
WARM_FRAMES = 203


def compile_block(block: torch.nn.Module) -> Callable:
    return torch.compile(block, dynamic=True)


class BackgroundCompile:
    """`start(swap)` compiles in a daemon thread, then hands `swap` the runner that
    `make_runner` builds over the compiled blocks. `done` is set either way; `error` holds
    what failed."""

    def __init__(
        self,
        dit: torch.nn.Module,
        dtype: torch.dtype,
        make_runner: Callable[[DitVelocity], Runner],
        gate: threading.Lock,
        wrap: Callable[[torch.nn.Module], Callable] | None = None,
    ) -> None:
        self._dit = dit
        self._dtype = dtype
        self._make_runner = make_runner
        self._gate = gate
        self._wrap = wrap or compile_block  # tests wrap with a backend that generates no code
        self._thread: threading.Thread | None = None
        self.done = threading.Event()
        self.error: BaseException | None = None

    @property
    def state(self) -> str:
        """waiting (for the warm-up to start it), compiling, compiled (swapped) or failed."""
        if self._thread is None:
            return "waiting"
        if not self.done.is_set():
            return "compiling"
        return "compiled" if self.error is None else "failed"

    def start(self, swap: Callable[[Runner], None]) -> None:
        """Once; later calls do nothing."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(swap,), name="f5-compile", daemon=True)
            self._thread.start()

    def _run(self, swap: Callable[[Runner], None]) -> None:
        started = time.perf_counter()
        log.info("f5_compile_started", mode="background")
        try:
            with self._gate:
                velocity = DitVelocity(
                    self._dit, self._dtype, blocks=[self._wrap(block) for block in self._dit.transformer_blocks]
                )
                with torch.inference_mode(), _side_stream(self._device):  # the engine runs in inference mode
                    for inputs in warm_inputs(self._dit, self._dtype, self._device):
                        velocity(*inputs)
            swap(self._make_runner(velocity))
        except Exception as exc:  # the worker serves on without it
            self.error = exc
            log.exception("f5_compile_failed", error=type(exc).__name__)
        else:
            log.info("f5_compiled", mode="background", seconds=round(time.perf_counter() - started, 2))
        finally:
            self.done.set()

    @property
    def _device(self) -> torch.device:
        return next(self._dit.parameters()).device


def warm_inputs(dit: torch.nn.Module, dtype: torch.dtype, device: torch.device) -> list[tuple]:
    """`DitVelocity` inputs for one guided item (the blocks see two rows) and one unguided
    (one row), padded and masked as a graph runner's are; then the same for two rows at
    different ODE steps (a graph of two or more rows embeds one time per row, so the blocks
    see a time embedding per row rather than one for all)."""
    mel = dit.proj_out.out_features
    text_dim = dit.text_embed.text_embed.embedding_dim
    inputs = []
    for rows, times in ((1, [0.5]), (2, [0.25, 0.5])):
        mask = lengths_mask([3 * WARM_FRAMES // 4] * rows, WARM_FRAMES, device)
        x = torch.randn(rows, WARM_FRAMES, mel, device=device)
        cond = torch.zeros(rows, WARM_FRAMES, mel, device=device, dtype=dtype)
        text = torch.zeros(2, rows, WARM_FRAMES, text_dim, device=device, dtype=dtype)
        t = torch.tensor(times, device=device)
        cfg = torch.full((rows,), 2.0, device=device) if rows > 1 else torch.tensor(2.0, device=device)
        inputs += [(x, cond, text, t, mask, cfg), (x, cond, text, t, mask, None)]
    return inputs


@contextlib.contextmanager
def _side_stream(device: torch.device) -> Iterator[None]:
    """On CUDA, a stream of its own (beside the serving stream's replays), waited for at the end."""
    if device.type != "cuda":
        yield
        return
    stream = torch.cuda.Stream(device)
    with torch.cuda.stream(stream):
        yield
    stream.synchronize()
