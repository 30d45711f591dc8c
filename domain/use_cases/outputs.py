"""Storing an answer: a step of its own, after the way in has encoded it once for its client."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from domain import captions
from domain.errors import StorageError
from ports.audio_encoder import OUTPUT_FORMATS
from ports.blob_store import BlobStore


class StoreOutput:
    def __init__(self, store: BlobStore, url_ttl: int, new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self._store, self._url_ttl, self._new_id = store, url_ttl, new_id

    def __call__(
        self, data: bytes, fmt: str, caption_text: str | None = None, caption_format: str | None = None
    ) -> tuple[str, str | None]:
        """Stores `outputs/<id>.<fmt>`, and the captions beside it as `outputs/<id>.<caption_format>`;
        answers their URLs. Nothing is left behind when either fails."""
        key = self._new_id()
        url = self._publish(key, data, fmt, OUTPUT_FORMATS[fmt].content_type)
        if caption_text is None or caption_format is None:
            return url, None
        try:
            text = caption_text.encode("utf-8")
            return url, self._publish(key, text, caption_format, captions.CONTENT_TYPES[caption_format])
        except StorageError:
            self._store.delete(f"outputs/{key}.{fmt}")
            raise

    def _publish(self, key: str, data: bytes, ext: str, content_type: str) -> str:
        path = f"outputs/{key}.{ext}"
        self._store.put(path, data, content_type)
        try:
            return self._store.url(path, self._url_ttl)
        except StorageError:
            self._store.delete(path)
            raise
