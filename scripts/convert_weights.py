"""Store the F5-TTS checkpoint in the dtype it is served in: half the bytes to bake, read and move.

The release is an fp32 safetensors file (1.35 GB); the GPU image serves the DiT in bf16. A
bf16 copy is 674 MB that the worker reads straight onto the GPU (safetensors' `safe_open`
with `device=`), with no fp32 copy on the way; an fp32 file still loads (cast tensor by
tensor). Every floating-point tensor is cast with torch's round-to-nearest-even, the same
cast the engine applies to the fp32 file at load, so both give the same weights; other
tensors (step counters) are kept as they are, and every key is kept, so upstream's own
loader reads the file too.

    python scripts/convert_weights.py SRC DST [--dtype bf16]     # one file
    python scripts/convert_weights.py --model-dir DIR [--group f5] [--remove-source]

The second form converts the `derived` entries of `scripts/weights.json` during the image
build. How the derived file's sha256 is pinned: the trust comes from the source, whose
pinned sha256 is checked here again (not assumed from an earlier fetch), and from the
conversion being deterministic (same bytes on any machine: tensors and metadata are
written in a fixed order; a test converts twice and compares). The derived entry's own
sha256 then only guards against drift (a torch or safetensors upgrade that changed the
output): while it is null the build records the sha256 it made in `MODEL_DIR/derived.sha256`
and prints it to be pinned; once pinned, a different result fails the build. It was left
null here because no machine here can fetch the released weights to compute it.
Output goes to a hidden `.partial` file renamed into place only when complete and
verified, with fetch_weights.py's own naming and hashing (the image copies both scripts
side by side, and a script's own folder is first on Python's path).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fetch_weights import partial_path, sha256_file

DEFAULT_MANIFEST = Path(__file__).resolve().with_name("weights.json")
DTYPES = ("bf16", "fp16")


class ConvertError(Exception):
    """The conversion cannot go ahead or did not give the pinned file; the message says why."""


def convert(src: Path, dst: Path, dtype: str, source_sha256: str | None = None) -> str:
    """Write `dst`, a copy of the safetensors file `src` with its floating-point tensors in
    `dtype`; returns the sha256 of what it wrote. Deterministic: same input, same bytes."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    if dtype not in DTYPES:
        raise ConvertError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    target = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    tensors = {}
    with safe_open(str(src), framework="pt", device="cpu") as fh:
        for key in sorted(fh.keys()):
            tensor = fh.get_tensor(key)
            tensors[key] = tensor.to(target).contiguous() if tensor.is_floating_point() else tensor
    # one metadata key: safetensors writes several in hash-map order, which differs between runs
    metadata = {"f5_tts_worker": json.dumps({"dtype": dtype, "source_sha256": source_sha256}, sort_keys=True)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(dst)
    try:
        save_file(tensors, str(partial), metadata=metadata)
        digest = sha256_file(partial)
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return digest


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def convert_manifest(model_dir: Path, manifest: Path, groups: Sequence[str], remove_source: bool) -> list[str]:
    """Convert every derived entry of `groups`; returns the sha256sum lines it recorded."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    pinned = {entry["dest"]: entry for entry in data["files"]}
    lines = []
    for entry in [d for d in data.get("derived", []) if d["group"] in groups]:
        source = pinned.get(entry["source"])
        if source is None or not source.get("sha256"):
            raise ConvertError(f"{entry['dest']}: its source {entry['source']} has no pinned sha256 in {manifest}")
        src, dst = model_dir / entry["source"], model_dir / entry["dest"]
        if not src.is_file():
            raise ConvertError(f"{entry['dest']}: source {src} is missing (run fetch_weights.py first)")
        if sha256_file(src) != source["sha256"]:
            raise ConvertError(f"{entry['dest']}: source {src} is not the pinned file; refusing to convert it")
        digest = convert(src, dst, entry["dtype"], source_sha256=source["sha256"])
        expected = entry.get("sha256")
        if expected and digest != expected:
            dst.unlink()
            raise ConvertError(
                f"{entry['dest']}: converted file's sha256 {digest} is not the pinned {expected}: the conversion "
                "changed (torch or safetensors version?); check it and pin the new value"
            )
        note = "" if expected else " (UNPINNED: pin it in weights.json)"
        _log(f"{entry['dest']}: converted to {entry['dtype']}, sha256 {digest}{note}")
        lines.append(f"{digest}  {entry['dest']}")
        if remove_source:
            src.unlink()
    if lines:
        with open(model_dir / "derived.sha256", "a", encoding="utf-8") as fh:
            fh.write("".join(f"{line}\n" for line in lines))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path)
    parser.add_argument("dst", nargs="?", type=Path)
    parser.add_argument("--dtype", default="bf16", choices=DTYPES)
    parser.add_argument("--model-dir", type=Path, help="convert the manifest's derived entries in this MODEL_DIR")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--group", action="append", dest="groups", help="manifest groups (default f5)")
    parser.add_argument("--remove-source", action="store_true", help="delete each source once converted")
    args = parser.parse_args(argv)
    try:
        if args.model_dir is not None:
            convert_manifest(args.model_dir, args.manifest, args.groups or ["f5"], args.remove_source)
        elif args.src and args.dst:
            print(f"{convert(args.src, args.dst, args.dtype)}  {args.dst}")
        else:
            parser.error("give SRC DST, or --model-dir")
    except (ConvertError, OSError) as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
