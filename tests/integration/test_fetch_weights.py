"""scripts/fetch_weights.py against a loopback HTTP server: the weights baked into the image
must be exactly the pinned files, and no failure may leave a half file under MODEL_DIR."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from harness.loopback import serving

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fetch_weights.py"
REPO_MANIFEST = ROOT / "scripts" / "weights.json"

_spec = importlib.util.spec_from_file_location("fetch_weights", SCRIPT)
assert _spec and _spec.loader
fetch_weights = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fetch_weights", fetch_weights)
_spec.loader.exec_module(fetch_weights)


class WeightServer:
    """Serves files under /<repo>/resolve/<rev>/<path>, honours `Range: bytes=N-` (unless
    told to ignore it), and can cut or stall a response part-way to simulate failures."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.files: dict[str, bytes] = {}
        self.cuts: dict[str, list[int]] = {}  # per path: bytes to send before dropping, one per request
        self.ignore_range: set[str] = set()
        self.stall: dict[str, int] = {}  # per path: send this many bytes, then wait for `release`
        self.release = threading.Event()
        self.requests: list[tuple[str, str | None]] = []


@contextmanager
def weight_server() -> Iterator[WeightServer]:
    state: WeightServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path
            state.requests.append((path, self.headers.get("Range")))
            if path not in state.files:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = state.files[path]
            total = len(body)
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match and path not in state.ignore_range:
                start = int(match.group(1))
                if start >= total:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                body = body[start:]
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if path in state.stall:
                    self.wfile.write(body[: state.stall[path]])
                    self.wfile.flush()
                    state.release.wait(timeout=20)
                    return
                cuts = state.cuts.get(path)
                if cuts:
                    self.wfile.write(body[: cuts.pop(0)])
                    self.wfile.flush()
                    return  # HTTP/1.0: the connection closes short of Content-Length
                self.wfile.write(body)
            except OSError:
                return

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        state = WeightServer(base_url)
        try:
            yield state
        finally:
            state.release.set()


def _entry(data: bytes, dest: str, *, sha256: str | None = "auto", size: int | None = None, path: str = "") -> dict:
    return {
        "group": "f5",
        "repo": "org/model",
        "revision": "0" * 40,
        "path": path or dest.replace("/", "_"),
        "dest": dest,
        "size": len(data) if size is None else size,
        "sha256": hashlib.sha256(data).hexdigest() if sha256 == "auto" else sha256,
    }


def _url_path(entry: dict) -> str:
    return f"/{entry['repo']}/resolve/{entry['revision']}/{entry['path']}"


def _setup(tmp_path: Path, server: WeightServer, items: list[tuple[dict, bytes]]) -> Path:
    for entry, data in items:
        server.files[_url_path(entry)] = data
    manifest = tmp_path / "weights.json"
    manifest.write_text(json.dumps({"base_url": "http://unused.invalid", "files": [e for e, _ in items]}))
    return manifest


def _run(manifest: Path, model_dir: Path, base_url: str, *extra: str) -> int:
    argv = ["--manifest", str(manifest), "--model-dir", str(model_dir), "--base-url", base_url]
    return fetch_weights.main([*argv, "--backoff", "0", "--timeout", "5", *extra])


def _all_files(model_dir: Path) -> list[str]:
    if not model_dir.exists():
        return []
    return sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())


def test_downloads_and_verifies_into_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt, vocab, cfg = os.urandom(300_000), b"a\nb\nc\n", b"feature_extractor: {}\n"
    model_dir = tmp_path / "models"
    with weight_server() as server:
        manifest = _setup(
            tmp_path,
            server,
            [
                (_entry(ckpt, "F5TTS_v1_Base/model_1250000.safetensors"), ckpt),
                (_entry(vocab, "F5TTS_v1_Base/vocab.txt"), vocab),
                (_entry(cfg, "vocos-mel-24khz/config.yaml"), cfg),
            ],
        )
        monkeypatch.setenv("WEIGHTS_BASE_URL", server.base_url)  # the env var works like --base-url
        monkeypatch.setenv("MODEL_DIR", str(model_dir))
        assert fetch_weights.main(["--manifest", str(manifest), "--backoff", "0"]) == 0
        assert (model_dir / "F5TTS_v1_Base/model_1250000.safetensors").read_bytes() == ckpt
        assert (model_dir / "F5TTS_v1_Base/vocab.txt").read_bytes() == vocab
        assert (model_dir / "vocos-mel-24khz/config.yaml").read_bytes() == cfg
        assert _all_files(model_dir) == [
            "F5TTS_v1_Base/model_1250000.safetensors",
            "F5TTS_v1_Base/vocab.txt",
            "vocos-mel-24khz/config.yaml",
        ]
        served = len(server.requests)
        assert _run(manifest, model_dir, server.base_url) == 0  # present and verified: nothing fetched
        assert len(server.requests) == served


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = os.urandom(50_000)
    entry = _entry(data, "F5TTS_v1_Base/model_1250000.safetensors", sha256=hashlib.sha256(b"other").hexdigest())
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        assert _run(manifest, tmp_path / "models", server.base_url) == 1
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and "F5TTS_v1_Base/model_1250000.safetensors" in err
    assert entry["sha256"] in err and hashlib.sha256(data).hexdigest() in err
    assert _all_files(tmp_path / "models") == []


def test_resumes_an_interrupted_transfer_with_a_range_request(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    entry = _entry(data, "vocos-mel-24khz/pytorch_model.bin")
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        server.cuts[_url_path(entry)] = [70_000]
        assert _run(manifest, tmp_path / "models", server.base_url) == 0
        assert [r for _, r in server.requests] == [None, "bytes=70000-"]
    assert (tmp_path / "models/vocos-mel-24khz/pytorch_model.bin").read_bytes() == data
    assert _all_files(tmp_path / "models") == ["vocos-mel-24khz/pytorch_model.bin"]


def test_restarts_cleanly_when_the_server_ignores_the_range(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    entry = _entry(data, "vocos-mel-24khz/pytorch_model.bin")
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        server.cuts[_url_path(entry)] = [90_000]
        server.ignore_range.add(_url_path(entry))
        assert _run(manifest, tmp_path / "models", server.base_url) == 0
        assert len(server.requests) == 2
    assert (tmp_path / "models/vocos-mel-24khz/pytorch_model.bin").read_bytes() == data


def test_gives_up_after_repeated_failures_leaving_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = os.urandom(100_000)
    entry = _entry(data, "F5TTS_v1_Base/model_1250000.safetensors")
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        server.cuts[_url_path(entry)] = [10_000] * 10
        assert _run(manifest, tmp_path / "models", server.base_url, "--retries", "2") == 1
        assert len(server.requests) == 3
    assert "gave up after 3 attempts" in capsys.readouterr().err
    assert _all_files(tmp_path / "models") == []


def test_refuses_a_body_larger_than_pinned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = os.urandom(30_000)
    entry = _entry(data[:20_000], "F5TTS_v1_Base/vocab.txt")  # pins 20 000 bytes, server sends 30 000
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        assert _run(manifest, tmp_path / "models", server.base_url) == 1
    assert "more than the pinned 20000 bytes" in capsys.readouterr().err
    assert _all_files(tmp_path / "models") == []


def test_http_error_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = _entry(b"x", "F5TTS_v1_Base/vocab.txt")
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [])
        manifest.write_text(json.dumps({"files": [entry]}))
        assert _run(manifest, tmp_path / "models", server.base_url) == 1
    assert "answered HTTP 404" in capsys.readouterr().err
    assert _all_files(tmp_path / "models") == []


def test_unpinned_files_are_refused_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b"new file nobody pinned yet"
    entry = _entry(data, "extra/file.bin", sha256=None)
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        assert _run(manifest, tmp_path / "models", server.base_url) == 2
        assert server.requests == []
        assert "no pinned sha256 for extra/file.bin" in capsys.readouterr().err
        assert _run(manifest, tmp_path / "models", server.base_url, "--allow-unpinned") == 0
    assert hashlib.sha256(data).hexdigest() in capsys.readouterr().err  # printed, ready to pin
    assert (tmp_path / "models/extra/file.bin").read_bytes() == data


def test_replaces_a_corrupt_existing_file(tmp_path: Path) -> None:
    data = os.urandom(40_000)
    entry = _entry(data, "F5TTS_v1_Base/model_1250000.safetensors")
    target = tmp_path / "models/F5TTS_v1_Base/model_1250000.safetensors"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\0" * 40_000)
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        assert _run(manifest, tmp_path / "models", server.base_url) == 0
    assert target.read_bytes() == data


def test_removes_partial_files_left_by_a_killed_run(tmp_path: Path) -> None:
    data = b"vocab\n"
    entry = _entry(data, "F5TTS_v1_Base/vocab.txt")
    stale = tmp_path / "models/F5TTS_v1_Base/.model_1250000.safetensors.partial"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        assert _run(manifest, tmp_path / "models", server.base_url) == 0
    assert _all_files(tmp_path / "models") == ["F5TTS_v1_Base/vocab.txt"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_by_a_signal_leaves_no_half_file(tmp_path: Path, signum: int) -> None:
    data = os.urandom(300_000)
    entry = _entry(data, "F5TTS_v1_Base/model_1250000.safetensors")
    model_dir = tmp_path / "models"
    with weight_server() as server:
        manifest = _setup(tmp_path, server, [(entry, data)])
        server.stall[_url_path(entry)] = 100_000
        command = [sys.executable, str(SCRIPT), "--manifest", str(manifest), "--model-dir", str(model_dir),
                   "--base-url", server.base_url, "--timeout", "30"]  # fmt: skip
        # a shell that starts a command in the background sets SIGINT to ignored, and Python keeps
        # an inherited ignore: the child gets the default back, as a terminal's Ctrl-C finds it
        process = subprocess.Popen(command, stderr=subprocess.PIPE, preexec_fn=_default_sigint)
        partial = model_dir / "F5TTS_v1_Base/.model_1250000.safetensors.partial"
        deadline = time.monotonic() + 20
        while not (partial.exists() and partial.stat().st_size >= 100_000):
            assert process.poll() is None and time.monotonic() < deadline, "the download never started"
            time.sleep(0.05)
        process.send_signal(signum)
        process.communicate(timeout=20)
    assert process.returncode != 0
    assert _all_files(model_dir) == []


def test_repo_manifest_is_pinned_and_lands_where_the_engine_looks(tmp_path: Path) -> None:
    """Every file the image bakes has a size, an immutable revision and a sha256, and the F5
    files end up exactly where the engine's MODEL_DIR lookup finds them."""
    _, files = fetch_weights.load_manifest(REPO_MANIFEST)
    assert {f.group for f in files} == {"f5", "whisper", "aligner"}
    for f in files:
        assert f.sha256 and re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.dest
        if f.direct_url:  # outside a model hub: the URL pins the object version
            assert f.direct_url.startswith("https://") and f.direct_url.endswith(f"?versionId={f.revision}"), f.dest
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", f.revision), f.dest
        assert isinstance(f.size, int) and f.size > 0, f.dest
    for f in files:
        (tmp_path / f.dest).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.dest).write_bytes(b"")

    from adapters.f5.loading import resolve_files

    found = resolve_files(model="F5TTS_v1_Base", ckpt_file=None, vocab_file=None, vocoder_path=None,
                          model_dir=str(tmp_path))  # fmt: skip
    f5 = {f.dest for f in files if f.group == "f5"}
    assert str(found.checkpoint.relative_to(tmp_path)) in f5
    assert found.checkpoint.name == "model_1250000.safetensors"
    assert str(found.vocab.relative_to(tmp_path)) in f5
    assert {str((found.vocoder_dir / n).relative_to(tmp_path)) for n in ("config.yaml", "pytorch_model.bin")} <= f5


def test_an_entry_with_its_own_url_is_fetched_from_it_and_verified(tmp_path: Path) -> None:
    """The aligner is published outside a model hub: its entry names the URL itself."""
    data = b"aligner weights" * 100
    entry = {"group": "aligner", "revision": "v1", "path": "model.pt", "dest": "mms-fa/model.pt",
             "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    with weight_server() as server:
        server.files["/elsewhere/model.pt?versionId=v1"] = data
        entry["url"] = f"{server.base_url}/elsewhere/model.pt?versionId=v1"
        manifest = tmp_path / "weights.json"
        manifest.write_text(json.dumps({"base_url": "http://unused.invalid", "files": [entry]}))
        argv = ["--manifest", str(manifest), "--model-dir", str(tmp_path / "models"), "--group", "aligner"]
        assert fetch_weights.main([*argv, "--base-url", "http://unused.invalid", "--backoff", "0"]) == 0
        assert [path for path, _ in server.requests] == ["/elsewhere/model.pt?versionId=v1"]
    assert (tmp_path / "models" / "mms-fa" / "model.pt").read_bytes() == data


def test_the_aligner_lands_where_the_worker_looks() -> None:
    from settings import load_settings

    _, files = fetch_weights.load_manifest(REPO_MANIFEST)
    (aligner,) = [f for f in files if f.group == "aligner"]
    settings = load_settings({"MODEL_DIR": "/tmp/models"})
    assert f"/tmp/models/{aligner.dest}" == f"{settings.resolved_aligner_path}/model.pt"
