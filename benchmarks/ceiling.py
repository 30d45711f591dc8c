"""The DiT alone on this machine: `python -m benchmarks.ceiling [--batches 1,8,16,32]`.

Everything else (vocoder, text, HTTP) is extra, so a serve figure reads as a fraction of this ceiling.
Graphs and compile at once gave 2% more on the H200 (results/ceiling-gpu.txt): no mode of their own.
"""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial
from pathlib import Path

import torch

from adapters.f5.cpu_linear import PackedLinear
from adapters.f5.runner import CudaGraphCapturer
from adapters.f5.velocity import lengths_mask
from benchmarks.common import CHECKPOINT_DIR, describe, ensure_files, stub_absent_modules, time_call

SENTENCE_AUDIO_SECONDS = 5.7  # benchmarks.engine's one-sentence case, generated part
FRAMES = 760  # that sentence with its 4 s reference, in mel frames


def guided_inputs(dit: torch.nn.Module, batch: int, frames: int, device: torch.device, dtype: torch.dtype) -> tuple:
    """Random inputs of one guided velocity evaluation of a padded batch, as served (`DitVelocity`'s arguments)."""
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, frames, 100, device=device, generator=gen)
    cond = torch.randn(batch, frames, 100, device=device, generator=gen).to(dtype)
    text = torch.randn(2, batch, frames, dit.text_embed.text_embed.embedding_dim, device=device).to(dtype)
    mask = lengths_mask([frames - (i * 7) % 64 for i in range(batch)], frames, device)
    return x, cond, text, torch.full((1,), 0.5, device=device), mask, torch.tensor(2.0, device=device)


def flops_per_forward(dit: torch.nn.Module, rows: int, frames: int) -> float:
    """Matmul FLOPs of one forward over `rows` sequences: 2 x params in the blocks' Linears
    per token, plus attention's two n x n products."""
    linears = [m for m in dit.transformer_blocks.modules() if isinstance(m, torch.nn.Linear | PackedLinear)]
    linear = sum(m.in_features * m.out_features for m in linears)
    attention = 4 * frames * frames * dit.transformer_blocks[0].attn.inner_dim * len(dit.transformer_blocks)
    return rows * (2 * linear * frames + attention)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--batches", default=None, help="batch sizes (default: 1,8,16,32 on CUDA, 1,4 on a CPU)")
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--modes", default=None, help="eager,compile,graphs (default: what exists)")
    parser.add_argument("--compile-batches", default=None, help="batch sizes for the compiled modes (default: all)")
    args = parser.parse_args()
    stub_absent_modules()
    from adapters.f5.engine import TORCH_DTYPES, build_f5_engine
    from adapters.f5.velocity import DitVelocity
    from container import engine_config
    from settings import load_settings

    files = ensure_files(args.checkpoint_dir)
    settings = load_settings({key: value for key, value in files.items() if key != "REF_WAV"})
    # the engine's eager runner: its DiT as loaded and configured (precision, attention, packed Linears)
    engine = build_f5_engine(dataclasses.replace(engine_config(settings), runner="eager"))
    dtype = TORCH_DTYPES[engine.precision.dtype]
    dit = engine._dit
    velocity = DitVelocity(dit, dtype)
    device = torch.device(engine.precision.device)
    on_cuda = device.type == "cuda"
    for block in dit.transformer_blocks:  # graphs cannot read lengths back: the masked kernel everywhere
        block.attn.processor.split_items = False
    batches = [int(b) for b in (args.batches or ("1,8,16,32" if on_cuda else "1,4")).split(",")]
    modes = (args.modes or ("eager,compile,graphs" if on_cuda else "eager")).split(",")
    if unknown := set(modes) - {"eager", "compile", "graphs"}:
        raise SystemExit(f"unknown modes {sorted(unknown)}")
    print(f"{describe(on_cuda)}; dtype {engine.precision.dtype}")
    print(f"DiT F5TTS_v1_Base (random weights), one guided forward (2 sequences per item), {FRAMES} frames; "
          f"ceiling = batch x {SENTENCE_AUDIO_SECONDS} s audio / ({args.nfe} x forward)")  # fmt: skip
    header = f"{'mode':<16} {'batch':>5} {'ms/forward':>11} {'TFLOP/s':>8} {'ceiling audio s/s':>18}"
    print(f"{header}\n{'-' * len(header)}")
    ceilings: dict[tuple[str, int], float] = {}
    for batch in batches:
        inputs = guided_inputs(dit, batch, FRAMES, device, dtype)
        velocity.rope(FRAMES, device)
        for mode in modes:
            if mode == "compile" and args.compile_batches and str(batch) not in args.compile_batches.split(","):
                continue  # compiling costs a minute per shape: only where asked
            forward = partial(torch.compile(velocity, dynamic=False) if mode == "compile" else velocity, *inputs)
            try:  # compiled or captured on first use
                with torch.inference_mode():
                    call = CudaGraphCapturer().capture(forward).replay if mode == "graphs" else forward
                    seconds = time_call(call, min_seconds=2.0)
            except Exception as exc:  # a mode that cannot run here is reported, not fatal
                print(f"{mode:<16} {batch:>5} failed: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            tflops = flops_per_forward(dit, 2 * batch, FRAMES) / seconds / 1e12
            ceilings[(mode, batch)] = batch * SENTENCE_AUDIO_SECONDS / (args.nfe * seconds)
            print(f"{mode:<16} {batch:>5} {seconds * 1000:>11.1f} {tflops:>8.2f} {ceilings[(mode, batch)]:>18.1f}")
    if ceilings:
        mode, batch = max(ceilings, key=ceilings.__getitem__)
        print(f"dit_ceiling_audio_per_s: {ceilings[(mode, batch)]:.1f} ({mode}, batch {batch})")


if __name__ == "__main__":
    main()
