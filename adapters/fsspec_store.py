"""Blob store on fsspec: one adapter for `file://`, `memory://` and `s3://` (s3fs, also B2/R2/MinIO).

Writes are atomic on every backend: S3 PUTs and memory assignments are, and local files
are written beside their target and renamed over it. Failures become StorageError with
the operation, the key and the store (bucket), never a credential.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import fsspec
from fsspec.core import url_to_fs

from domain.errors import StorageError
from ports.blob_store import CheckResult, probe_store

T = TypeVar("T")
_TMP_PREFIX = ".tmp-"
_LOCAL = {"file", "local"}


class FsspecStore:
    def __init__(
        self, url: str, public_base_url: str | None = None, retries: int | None = None, **storage_options: Any
    ) -> None:
        """`retries` replaces s3fs's own retry loop (5 by default), which otherwise multiplies
        botocore's attempts: a dead store would hold a job for many seconds per operation."""
        self._url = url
        self._public_base_url = (public_base_url or "").rstrip("/") or None
        try:
            self._fs, root = url_to_fs(url, **storage_options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StorageError(f"unsupported STORAGE_URL scheme {url.partition('://')[0]!r}") from exc
        self._root = root.rstrip("/")
        protocols = {self._fs.protocol} if isinstance(self._fs.protocol, str) else set(self._fs.protocol)
        self._local = bool(_LOCAL & protocols)
        self._s3 = bool({"s3", "s3a"} & protocols)
        if not self._s3:
            self._fs.makedirs(self._root, exist_ok=True)
        if retries is not None and hasattr(self._fs, "retries"):
            self._fs.retries = retries

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    @property
    def local_root(self) -> str | None:
        """The store's folder on this machine, for a folder store; None otherwise."""
        return self._fs._strip_protocol(self._root) if self._local else None

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
            if _mentions_bucket(exc):
                raise StorageError(f"{operation} {key!r} failed: {self._where()} does not exist") from exc
            raise KeyError(key) from exc
        except Exception as exc:
            raise StorageError(f"{operation} {key!r} failed in {self._where()}: {_reason(exc)}") from exc

    def _where(self) -> str:
        """The store as a client may see it: a bucket name, never a path on the worker."""
        if self._s3:
            return f"bucket {self._root.split('/', 1)[0]!r}"
        return "the local store" if self._local else f"the {self._url.partition('://')[0]} store"

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        if not self._local:
            extra = {"ContentType": content_type} if self._s3 else {}
            self._guard("writing", key, lambda: self._fs.pipe_file(path, data, **extra))
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

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        paths = {self._fs._strip_protocol(self._path(key)): key for key in keys}

        def cat() -> dict[str, bytes]:
            found = self._fs.cat(list(paths), on_error="omit")
            return {paths[self._fs._strip_protocol(path)]: data for path, data in found.items()}

        return self._guard("reading", f"{len(keys)} objects", cat)

    def exists(self, key: str) -> bool:
        path = self._path(key)
        return self._guard("checking", key, lambda: self._fs.exists(path))

    def list(self, prefix: str) -> dict[str, str]:
        base = f"{self._root}/{prefix}".rstrip("/")
        root = self._fs._strip_protocol(self._root).rstrip("/")

        def find() -> dict[str, str]:
            found: dict[str, dict[str, Any]] = self._fs.find(base, detail=True)
            listing = {}
            for path, info in found.items():
                key = self._fs._strip_protocol(path)[len(root) + 1 :]
                if key.startswith(prefix) and not posixpath.basename(key).startswith(_TMP_PREFIX):
                    listing[key] = _version(info)
            return dict(sorted(listing.items()))

        return self._guard("listing", prefix or "/", find)

    def delete(self, key: str) -> None:
        path = self._path(key)

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(path)

        self._guard("deleting", key, remove)

    def url(self, key: str, expires: int) -> str:
        path = self._path(key)
        if self._public_base_url:
            return f"{self._public_base_url}/{key}"
        if self._local:
            return "file://" + os.path.abspath(path)
        return self._guard("signing", key, lambda: self._signed_url(path, expires))

    def _signed_url(self, path: str, expires: int) -> str:
        try:
            return self._fs.sign(path, expiration=expires)
        except NotImplementedError:
            return self._fs.unstrip_protocol(path)

    def check(self) -> list[CheckResult]:
        return probe_store(self, ("bucket" if self._s3 else "root", self._check_root))

    def _check_root(self) -> None:
        """On S3, HeadBucket itself (s3fs's exists() reads any failure as a missing bucket),
        so the check says whether the bucket is missing, refused or out of reach."""
        bucket = self._root.split("/", 1)[0]
        try:
            if self._s3:
                self._guard("checking", "/", lambda: self._fs.call_s3("head_bucket", Bucket=bucket))
            elif not self._guard("checking", "/", lambda: self._fs.exists(self._root)):
                raise KeyError(self._root)
        except KeyError:  # a 404 to HeadBucket has no body to say NoSuchBucket
            raise StorageError(f"{self._where()} does not exist") from None

    def expiry_rule(self, prefix: str) -> str | None:
        """S3 only: the enabled lifecycle rule that expires every object under `prefix` of
        this store, described (e.g. "rule 'outputs' expires after 1 days"); None when no rule
        does. Raises StorageError when the rules cannot be read, or for a store without them."""
        if not self._s3:
            raise StorageError(f"{self._where()} has no lifecycle rules")
        bucket, _, base = self._root.partition("/")
        full = f"{base}/{prefix}" if base else prefix

        def rules() -> list[dict[str, Any]]:
            try:
                answer = self._fs.call_s3("get_bucket_lifecycle_configuration", Bucket=bucket)
            except FileNotFoundError as exc:  # s3fs's NoSuchLifecycleConfiguration (or NoSuchBucket)
                if "lifecycle" in f"{exc} {exc.__cause__}".lower():
                    return []
                raise
            return list(answer.get("Rules", []))

        for rule in self._guard("reading the lifecycle of", bucket, rules):
            expiration = rule.get("Expiration") or {}
            if rule.get("Status") != "Enabled" or not (expiration.get("Days") or expiration.get("Date")):
                continue
            rule_filter = rule.get("Filter") or {}
            rule_prefix = rule_filter.get("Prefix", rule_filter.get("And", {}).get("Prefix", rule.get("Prefix", "")))
            if rule_filter.get("Tag") or rule_filter.get("And", {}).get("Tags"):
                continue  # a tag filter covers only tagged objects, and outputs carry no tags
            if full.startswith(rule_prefix or ""):
                when = f"after {expiration['Days']} days" if expiration.get("Days") else f"on {expiration['Date']}"
                return f"rule {rule.get('ID', '?')!r} expires {rule_prefix or 'everything'!r} {when}"
        return None


def _version(info: dict[str, Any]) -> str:
    """A tag that changes when the object does: the ETag on S3, size and time elsewhere."""
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return str(etag).strip('"')
    stamp = info.get("mtime") or info.get("LastModified") or info.get("created") or ""
    return f"{info.get('size', '')}-{stamp}"


def _mentions_bucket(exc: BaseException) -> bool:
    """S3's NoSuchBucket, which s3fs turns into FileNotFoundError like a missing key."""
    text = str(exc).lower()
    return "nosuchbucket" in text or "bucket does not exist" in text


def _reason(exc: BaseException) -> str:
    """A short cause that names no credential: the S3 error code, or the exception type."""
    if isinstance(exc, PermissionError):
        return "access denied (check the credentials and the bucket policy)"
    response = getattr(exc, "response", None) or getattr(exc.__cause__, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    name = type(exc).__name__
    if "Connect" in name or "Timeout" in name or isinstance(exc, (ConnectionError, TimeoutError)):
        return f"the store is unreachable ({name})"
    return name
