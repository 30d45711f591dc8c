"""The rotary embedding, upstream's against `adapters.f5_rotary.rotate`: `python -m benchmarks.rotary`.

Two tables, each with the two sides interleaved call by call (upstream, ours, upstream, ...)
so the machine's drift hits both alike, median of `--repeats`:

- the embedding alone on one guided item's queries (2 sequences x 16 heads x 64, as a
  transposed view of the projection, which is what the attention processor hands it), per
  dtype and length;
- one guided DiT forward of the real-size F5TTS_v1_Base as the engine runs it on this
  machine (its dtype, packed Linears, attention kernel), with the processor's `rotate`
  swapped for upstream's `apply_rotary_pos_emb` on the other side. Each block embeds its
  queries and keys, so a forward makes 44 calls.

On CUDA (`--device cuda`, the default where there is one) every call is timed to its kernels'
end; the forward there is the eager engine's (the rotary embedding's kernels are what a captured
graph replays too).

"same" says whether the two sides' outputs are bitwise equal.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

import adapters.f5_attention as f5_attention
from adapters.f5_rotary import rotate
from benchmarks.ceiling import bench_velocity, guided_inputs, interleaved

HEADS, HEAD_DIM, SEQUENCES = 16, 64, 2


def embedding_alone(frames: list[int], dtypes: list[torch.dtype], repeats: int, device: torch.device) -> None:
    from x_transformers.x_transformers import RotaryEmbedding, apply_rotary_pos_emb

    print(f"{'dtype':9} {'frames':>6} {'upstream ms':>11} {'rotate ms':>9} {'speedup':>7} same")
    for dtype in dtypes:
        for n in frames:
            freqs, scale = RotaryEmbedding(HEAD_DIM).to(device, dtype).forward_from_seq_len(n)
            projection = torch.randn(SEQUENCES, n, HEADS * HEAD_DIM, device=device).to(dtype)
            t = projection.view(SEQUENCES, n, HEADS, HEAD_DIM).transpose(1, 2)
            (theirs, ours), (want, got) = interleaved(
                [partial(apply_rotary_pos_emb, t, freqs, scale), partial(rotate, t, freqs, scale)], repeats, device
            )
            same = torch.equal(want, got)
            print(f"{str(dtype)[6:]:9} {n:6d} {theirs * 1e3:11.2f} {ours * 1e3:9.2f} {theirs / ours:6.2f}x {same}")


def whole_forward(
    checkpoint_dir: Path, frames: int, repeats: int, dtype_name: str | None, device: torch.device
) -> None:
    from x_transformers.x_transformers import apply_rotary_pos_emb

    engine, dtype, velocity = bench_velocity(checkpoint_dir, dtype_name, str(device))
    x, cond, text, t, cfg = guided_inputs(engine._dit, 1, frames, device, dtype)

    def forward(embedding: Callable[..., torch.Tensor]) -> torch.Tensor:
        f5_attention.rotate = embedding
        try:
            return velocity(x, cond, text, t, None, cfg)
        finally:
            f5_attention.rotate = rotate

    with torch.inference_mode():
        (theirs, ours), (want, got) = interleaved(
            [lambda: forward(apply_rotary_pos_emb), lambda: forward(rotate)], repeats, device
        )
    print(f"\nguided DiT forward, {frames} frames, {str(dtype)[6:]}, device {x.device}")
    print(f"{'upstream s':>10} {'rotate s':>8} {'speedup':>7} same")
    print(f"{theirs:10.3f} {ours:8.3f} {theirs / ours:6.3f}x {torch.equal(want, got)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="400,760,1800")
    parser.add_argument("--dtypes", default="bf16,fp32")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--forward-frames", type=int, default=760, help="0 skips the whole-forward table")
    parser.add_argument("--forward-dtype", default=None, help="fp32, bf16, fp16 (default: the engine's choice)")
    parser.add_argument("--checkpoint-dir", default="/tmp/f5-tts-worker-bench")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}; {SEQUENCES} x {HEADS} heads x {HEAD_DIM}")
    with torch.inference_mode():
        frames = [int(f) for f in args.frames.split(",")]
        embedding_alone(frames, [dtypes[d] for d in args.dtypes.split(",")], args.repeats, device)
    if args.forward_frames:
        whole_forward(Path(args.checkpoint_dir), args.forward_frames, args.repeats, args.forward_dtype, device)


if __name__ == "__main__":
    main()
