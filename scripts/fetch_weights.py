"""Bake the model weights into MODEL_DIR at image build time, each file checked against the
sha256 pinned in `scripts/weights.json`.

Why this exists: the worker promises no downloads at run time (the image runs with
HF_HUB_OFFLINE=1 and a missing file is a startup error), so every byte it loads is fetched
here, once, while the image is built, and a file that is not byte-for-byte the one the repo
pins fails the build instead of shipping. It uses the standard library only, because it runs
in a layer before the project and its dependencies are installed (so a code change does not
invalidate the 1.4 GB weights layer).

    python scripts/fetch_weights.py [--model-dir DIR] [--group f5] [--group whisper]
                                    [--base-url URL] [--manifest PATH] [--allow-unpinned]

Each file is fetched from `<base-url>/<repo>/resolve/<revision>/<path>` (an immutable commit)
into `MODEL_DIR/<dest>`, with the layout the engine's `MODEL_DIR` lookup expects
(`F5TTS_v1_Base/model_1250000.safetensors`, `F5TTS_v1_Base/vocab.txt`,
`vocos-mel-24khz/{config.yaml,pytorch_model.bin}`, optionally `whisper-large-v3-turbo/` and
`mms-fa/model.pt`). A file published outside a model hub (the MMS_FA aligner) names its own
`url` instead, which pins the object version itself (its `revision` is in the URL); it is
fetched from there whatever `--base-url` says.

Downloads go to a hidden `.<name>.partial` file beside the target and are renamed into place
(`os.replace`) only after size and sha256 match, so a reader never sees a half file under its
real name. An interrupted transfer is resumed with an HTTP Range request (or restarted from
zero when the server ignores the range); when the script gives up, or is interrupted, it
deletes the partial file, and a later run removes any `.partial` left by a killed one.
`--base-url` (or WEIGHTS_BASE_URL) points it at a mirror, or at a loopback server in tests.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MANIFEST = Path(__file__).resolve().with_name("weights.json")
DEFAULT_GROUPS = ("f5",)
PARTIAL_SUFFIX = ".partial"
CHUNK = 1 << 20
USER_AGENT = "f5-tts-worker-fetch-weights/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FetchError(Exception):
    """A file could not be fetched or did not match its pin; the message says which and why."""


@dataclass(frozen=True)
class WeightFile:
    group: str
    repo: str
    revision: str
    path: str
    dest: str
    size: int | None
    sha256: str | None
    direct_url: str | None = None

    def url(self, base_url: str) -> str:
        if self.direct_url:
            return self.direct_url
        quoted = urllib.parse.quote(self.path)
        return f"{base_url.rstrip('/')}/{self.repo}/resolve/{self.revision}/{quoted}"


def load_manifest(path: Path) -> tuple[str, list[WeightFile]]:
    """The manifest's default base URL and its files, validated so a typo fails loudly."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    files = []
    for raw in data["files"]:
        entry = WeightFile(
            group=raw["group"],
            repo=raw.get("repo", "") if raw.get("url") else raw["repo"],
            revision=raw["revision"],
            path=raw["path"],
            dest=raw["dest"],
            size=raw.get("size"),
            sha256=(raw.get("sha256") or None),
            direct_url=raw.get("url") or None,
        )
        if entry.sha256 is not None and not _SHA256.match(entry.sha256):
            raise FetchError(f"{path}: {entry.dest}: sha256 must be 64 lowercase hex digits, got {entry.sha256!r}")
        dest = Path(entry.dest)
        if dest.is_absolute() or ".." in dest.parts or not dest.parts:
            raise FetchError(f"{path}: {entry.dest!r}: dest must be a relative path inside MODEL_DIR")
        files.append(entry)
    return str(data.get("base_url", "")), files


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def partial_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}{PARTIAL_SUFFIX}")


def remove_stale_partials(model_dir: Path) -> list[Path]:
    """Delete `.partial` files a killed earlier run could not clean up."""
    removed = []
    if model_dir.is_dir():
        for path in model_dir.rglob(f".*{PARTIAL_SUFFIX}"):
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _matches(path: Path, entry: WeightFile) -> bool:
    if entry.size is not None and path.stat().st_size != entry.size:
        return False
    return entry.sha256 is None or sha256_file(path) == entry.sha256


def _open(url: str, start: int, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start:
        request.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _transfer(url: str, tmp: Path, entry: WeightFile, timeout: float) -> bool:
    """One request: append to (or restart) `tmp`. True when the whole file has arrived."""
    have = tmp.stat().st_size if tmp.exists() else 0
    if entry.size is not None and have >= entry.size:
        return have == entry.size
    try:
        response = _open(url, have, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # our range starts at or past the end: start over
            tmp.unlink()
            return False
        raise
    with response:
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise FetchError(f"{entry.dest}: server answered range {have}- with {content_range!r}")
            mode = "ab"
        else:  # 200: the server ignored the range (or there was none): a clean restart
            have, mode = 0, "wb"
        with open(tmp, mode) as out:
            while block := response.read1(CHUNK):  # what has arrived, so a resume keeps it
                have += len(block)
                if entry.size is not None and have > entry.size:
                    raise FetchError(f"{entry.dest}: server sent more than the pinned {entry.size} bytes")
                out.write(block)
                out.flush()
            out.flush()
            os.fsync(out.fileno())
    return entry.size is None or have == entry.size


def fetch_file(
    entry: WeightFile,
    model_dir: Path,
    base_url: str,
    *,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> str:
    """Make `model_dir/entry.dest` the pinned file. Returns "present" or "fetched"; raises
    FetchError (leaving no partial file behind) when it cannot."""
    dest = model_dir / entry.dest
    if dest.is_file():
        if _matches(dest, entry):
            return "present"
        _log(f"{entry.dest}: present but not the pinned file; fetching it again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(dest)
    url = entry.url(base_url)
    try:
        tmp.unlink(missing_ok=True)
        for attempt in range(retries + 1):
            try:
                if _transfer(url, tmp, entry, timeout):
                    break
                reason = "connection closed early"
            except FetchError:
                raise
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    raise FetchError(f"{entry.dest}: {url} answered HTTP {exc.code}") from None
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt == retries:
                raise FetchError(f"{entry.dest}: gave up after {retries + 1} attempts ({reason})")
            got = tmp.stat().st_size if tmp.exists() else 0
            _log(f"{entry.dest}: {reason} at {got} bytes; resuming (attempt {attempt + 2}/{retries + 1})")
            time.sleep(backoff * (attempt + 1))
        size = tmp.stat().st_size
        if entry.size is not None and size != entry.size:
            raise FetchError(f"{entry.dest}: got {size} bytes, the pin says {entry.size}")
        actual = sha256_file(tmp)
        if entry.sha256 is not None and actual != entry.sha256:
            raise FetchError(
                f"{entry.dest}: sha256 mismatch: expected {entry.sha256}, got {actual} "
                f"(from {url}); refusing to install it"
            )
        if entry.sha256 is None:
            _log(f"{entry.dest}: UNPINNED, sha256 {actual}; pin it in scripts/weights.json")
        os.replace(tmp, dest)
        return "fetched"
    finally:
        tmp.unlink(missing_ok=True)


def select(files: Iterable[WeightFile], groups: Sequence[str]) -> list[WeightFile]:
    known = {f.group for f in files}
    unknown = sorted(set(groups) - known)
    if unknown:
        raise FetchError(f"unknown group(s) {', '.join(unknown)}; the manifest has {', '.join(sorted(known))}")
    return [f for f in files if f.group in groups]


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch the selected groups; exit 0 when every file is in place and verified."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=os.environ.get("MODEL_DIR") or None)
    parser.add_argument("--group", action="append", dest="groups", help="f5 (default), whisper, aligner; repeatable")
    parser.add_argument("--base-url", default=os.environ.get("WEIGHTS_BASE_URL") or None)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--allow-unpinned", action="store_true", help="fetch entries without a sha256 (prints it)")
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds without data before retrying")
    parser.add_argument("--backoff", type=float, default=2.0, help="seconds between retries, times the attempt")
    args = parser.parse_args(argv)
    if args.model_dir is None:
        parser.error("set --model-dir or MODEL_DIR")
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        default_base, files = load_manifest(args.manifest)
        chosen = select(files, args.groups or DEFAULT_GROUPS)
        unpinned = [f.dest for f in chosen if f.sha256 is None]
        if unpinned and not args.allow_unpinned:
            _log(f"refusing: no pinned sha256 for {', '.join(unpinned)} (pin it, or pass --allow-unpinned)")
            return 2
        base_url = args.base_url or default_base
        model_dir = args.model_dir.resolve()
        model_dir.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_partials(model_dir):
            _log(f"removed {stale.relative_to(model_dir)} left by an interrupted run")
        for entry in chosen:
            started = time.perf_counter()
            outcome = fetch_file(entry, model_dir, base_url, retries=args.retries, timeout=args.timeout,
                                 backoff=args.backoff)  # fmt: skip
            _log(f"{entry.dest}: {outcome}, verified ({time.perf_counter() - started:.1f} s)")
    except FetchError as exc:
        _log(f"error: {exc}")
        return 1
    except OSError as exc:
        _log(f"error: {type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
