"""CPU attention kernels at the DiT's shapes: `python -m benchmarks.cpu_attention`.

Times one attention call of a guided item (2 sequences x 16 heads x 64, F5TTS_v1_Base's
shape, as head views of the projections, the layout the attention processor passes) at
several lengths, torch's fused kernel (`scaled_dot_product_attention`, what
upstream calls) against `adapters.cpu_attention.onednn_attention` (what the engine uses on a
CPU without AMX), in each dtype given, the two interleaved call by call so the machine's
drift hits both alike. Prints the median time, the arithmetic rate, the speedup and each
kernel's largest difference from the fp32 fused result. A sentence with its reference is
about 760 frames; a long streamed chunk about 1,800.

Then (`--forward-frames`, 0 skips it) one guided DiT forward of the real-size F5TTS_v1_Base as
the engine runs it on this machine (its dtype, packed Linears), every block's `attend` the
engine's kernel on one side and the fused kernel on the other, interleaved: what the kernel
is worth in the forward it runs in, layout conversions included.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from adapters.cpu_attention import block_rows, onednn_attention, onednn_attention_works, sdpa_attention
from benchmarks.ceiling import bench_velocity, guided_inputs, interleaved

HEADS, HEAD_DIM, SEQUENCES = 16, 64, 2
CPU = torch.device("cpu")


def whole_forward(checkpoint_dir: Path, frames_list: list[int], repeats: int) -> None:
    engine, dtype, velocity = bench_velocity(checkpoint_dir, device="cpu")
    processors = [block.attn.processor for block in engine._dit.transformer_blocks]
    engines_kernel = processors[0].attend

    def forward(attend: Callable[..., torch.Tensor], inputs: tuple) -> torch.Tensor:
        for processor in processors:
            processor.attend = attend
        return velocity(*inputs)

    print(f"\nguided DiT forward, {str(dtype)[6:]}, the engine's attend: {engines_kernel.__name__}")
    print(f"{'frames':>6} {'fused s':>8} {'engine s':>8} {'speedup':>7} {'max diff':>8}")
    for frames in frames_list:
        x, cond, text, t, cfg = guided_inputs(engine._dit, 1, frames, CPU, dtype)
        inputs = (x, cond, text, t, None, cfg)
        with torch.inference_mode():
            (fused, ours), (want, got) = interleaved(
                [partial(forward, sdpa_attention, inputs), partial(forward, engines_kernel, inputs)],
                repeats,
                CPU,
            )
        diff = (want.float() - got.float()).abs().max().item()
        print(f"{frames:6d} {fused:8.3f} {ours:8.3f} {fused / ours:6.2f}x {diff:8.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="400,760,1200,1800,2600")
    parser.add_argument("--dtypes", default="bf16,fp32")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--forward-frames", default="760,1800", help="0 skips the whole-forward table")
    parser.add_argument("--forward-repeats", type=int, default=5)
    parser.add_argument("--checkpoint-dir", default="/tmp/f5-tts-worker-bench")
    args = parser.parse_args()
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {SEQUENCES} x {HEADS} heads x {HEAD_DIM}")
    print(f"{'dtype':5} {'frames':>6} {'rows':>5} {'fused ms':>9} {'onednn ms':>9} {'fused GF/s':>10} "
          f"{'onednn GF/s':>11} {'speedup':>7} {'fused err':>9} {'onednn err':>10}")  # fmt: skip
    for name in args.dtypes.split(","):
        dtype = dtypes[name]
        if not onednn_attention_works(dtype):
            print(f"{name}: no oneDNN products in this build, skipped")
            continue
        for frames in (int(f) for f in args.frames.split(",")):
            generator = torch.Generator().manual_seed(frames)
            # as the attention processor passes them: head views of (sequence, frame, heads x dim) projections
            shape = (SEQUENCES, frames, HEADS, HEAD_DIM)
            q, k, v = (torch.randn(shape, generator=generator).transpose(1, 2) for _ in range(3))
            want = sdpa_attention(q, k, v)
            q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
            # the first call of each (allocations, oneDNN's kernel generation) is not timed
            seconds, (fused_out, ours_out) = interleaved(
                [partial(sdpa_attention, q, k, v), partial(onednn_attention, q, k, v)], args.repeats, CPU
            )
            fused, ours = (s * 1e3 for s in seconds)
            flops = 4 * SEQUENCES * HEADS * frames * frames * HEAD_DIM
            fused_err = (fused_out.float() - want).abs().max().item()
            ours_err = (ours_out.float() - want).abs().max().item()
            print(
                f"{name:5} {frames:6d} {block_rows(frames):5d} {fused:9.1f} {ours:9.1f} {flops / fused / 1e6:10.0f} "
                f"{flops / ours / 1e6:11.0f} {fused / ours:6.2f}x {fused_err:9.1e} {ours_err:10.1e}"
            )
    forward_frames = [int(f) for f in args.forward_frames.split(",") if int(f)]
    if forward_frames:
        whole_forward(Path(args.checkpoint_dir), forward_frames, args.forward_repeats)


if __name__ == "__main__":
    main()
