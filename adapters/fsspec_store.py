"""Blob store on fsspec: one adapter for `file://`, `memory://` and (with s3fs) `s3://`."""

from __future__ import annotations

import os
import posixpath
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import fsspec
from fsspec.core import url_to_fs

from domain.errors import StorageError
from ports.blob_store import CheckResult

T = TypeVar("T")
_TMP_PREFIX = ".tmp-"
_LOCAL = {"file", "local"}


class FsspecStore:
    def __init__(self, url: str, **storage_options: object) -> None:
        self._url = url
        try:
            self._fs, root = url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise StorageError(f"unsupported STORAGE_URL scheme in {_redact(url)}: {exc}") from exc
        self._root = root.rstrip("/")
        self._local = bool(_LOCAL & set(_protocols(self._fs)))
        if self._local:
            self._fs.makedirs(self._root, exist_ok=True)

    @property
    def root(self) -> str:
        return self._root

    def _path(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise StorageError(f"refusing an unsafe key {key!r}")
        return f"{self._root}/{key}"

    def _guard(self, operation: str, key: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (KeyError, StorageError):
            raise
        except FileNotFoundError as exc:
            raise KeyError(key) from exc
        except Exception as exc:
            raise StorageError(f"{operation} {key!r} failed in {_redact(self._url)}: {type(exc).__name__}") from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        if not self._local:
            self._guard("writing", key, lambda: self._fs.pipe_file(path, data))
            return
        parent = posixpath.dirname(path)
        tmp = f"{parent}/{_TMP_PREFIX}{uuid.uuid4().hex}"

        def write() -> None:
            os.makedirs(parent, exist_ok=True)
            try:
                with open(tmp, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

        self._guard("writing", key, write)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        return self._guard("reading", key, lambda: self._fs.cat_file(path))

    def exists(self, key: str) -> bool:
        path = self._path(key)
        return self._guard("checking", key, lambda: self._fs.exists(path))

    def list(self, prefix: str) -> list[str]:
        base = f"{self._root}/{prefix}".rstrip("/")

        def find() -> list[str]:
            if not self._fs.exists(base):
                return []
            paths = self._fs.find(base)
            root = self._fs._strip_protocol(self._root).rstrip("/")
            keys = [p[len(root) + 1 :] for p in (self._fs._strip_protocol(p) for p in paths)]
            return sorted(k for k in keys if not posixpath.basename(k).startswith(_TMP_PREFIX))

        return self._guard("listing", prefix, find)

    def delete(self, key: str) -> None:
        path = self._path(key)

        def remove() -> None:
            if self._fs.exists(path):
                self._fs.rm_file(path)

        self._guard("deleting", key, remove)

    def url(self, key: str, expires: int = 3600) -> str:
        path = self._path(key)
        if self._local:
            return "file://" + os.path.abspath(path)
        return self._guard("signing", key, lambda: self._public_url(path, expires))

    def _public_url(self, path: str, expires: int) -> str:
        try:
            return self._fs.sign(path, expiration=expires)
        except NotImplementedError:
            return self._fs.unstrip_protocol(path)

    def check(self) -> list[CheckResult]:
        probe = f".probe/{uuid.uuid4().hex}"
        data = b"probe"
        results: list[CheckResult] = []
        steps: list[tuple[str, Callable[[], object]]] = [
            ("write", lambda: self.put(probe, data)),
            ("read", lambda: self._expect(self.get(probe) == data, "read back different bytes")),
            ("delete", lambda: self.delete(probe)),
        ]
        for name, step in steps:
            start = time.perf_counter()
            try:
                step()
                results.append(CheckResult(name, True, time.perf_counter() - start))
            except (StorageError, KeyError) as exc:
                results.append(CheckResult(name, False, time.perf_counter() - start, str(exc)))
                break
        return results

    @staticmethod
    def _expect(condition: bool, message: str) -> None:
        if not condition:
            raise StorageError(message)


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _redact(url: str) -> str:
    """The store URL without any userinfo (credentials) it may carry."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"
