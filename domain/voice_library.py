"""The voices a worker can speak with: stored ones plus the built-in `default`.

Layout in the store: `voices/<name>.wav` (the reference audio) and `voices/<name>.json`
(its VoiceInfo). The metadata is written after the audio and removed before it, so a
voice is visible exactly while both exist; listings ignore audio without metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from domain.audio import Audio
from domain.errors import InvalidInput, StorageError, VoiceNotFound
from domain.synthesis import Reference
from domain.timing import StageTimer
from domain.voice import VoiceInfo, audio_key, metadata_key
from ports.audio_codec import AudioCodec
from ports.blob_store import BlobStore
from ports.content_cache import ContentCache

BUILTIN_CREATED_AT = "1970-01-01T00:00:00+00:00"
INDEX_KEY = "index/voices.json"


class BrokenAlias(VoiceNotFound):
    """An alias (VOICE_ALIASES) whose voice does not exist: never the fallback an unknown
    OpenAI voice name gets, since the operator said what this name must speak."""


@dataclass(frozen=True)
class BuiltinVoice:
    """A voice that ships with the worker (read lazily: most jobs name their own voice)."""

    ref_text: str
    load: Callable[[], bytes]


class VoiceLibrary:
    def __init__(
        self,
        store: BlobStore,
        codec: AudioCodec,
        builtins: dict[str, BuiltinVoice] | None = None,
        cache_bytes: int = 128 * 1024 * 1024,
        disk_cache: ContentCache | None = None,
        aliases: dict[str, str] | None = None,
        as_model_reads: Callable[[Audio], Audio] = lambda audio: audio,
    ) -> None:
        """Decoded voices are kept, most recently used first, up to `cache_bytes` of samples:
        a count would let a few long, high-rate voices pin gigabytes. Each is held as the
        model reads it (`as_model_reads`, as uploads are now stored), so a voice stored
        before that, at its own rate and length, costs no more than a new one."""
        self._store = store
        self.aliases = dict(aliases or {})  # alias -> the voice it speaks in
        self._codec = codec
        self._builtins = builtins or {}
        self._disk = disk_cache
        self._as_model_reads = as_model_reads
        self._listed: dict[str, tuple[str, VoiceInfo]] = {}
        self._cache: OrderedDict[str, Audio] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached_bytes = 0
        self._builtin_info: dict[str, VoiceInfo] = {}
        self._lock = threading.Lock()

    def info(self, name: str) -> VoiceInfo:
        """The voice `name` speaks in: its own, or for an alias, the voice it names."""
        target = self.aliases.get(name)
        if target is None:
            return self._info(name)
        try:
            return self._info(target)
        except VoiceNotFound:
            raise BrokenAlias(
                f"voice {name!r} is an alias of {target!r} (VOICE_ALIASES), and there is no voice named {target!r}"
            ) from None

    def broken_aliases(self) -> dict[str, str]:
        """The aliases whose voice does not exist (yet): for a warning at start-up."""
        broken = {}
        for alias, target in self.aliases.items():
            try:
                self._info(target)
            except VoiceNotFound:
                broken[alias] = target
        return broken

    def _info(self, name: str) -> VoiceInfo:
        try:
            return VoiceInfo.from_json(self._store.get(metadata_key(name)))
        except KeyError:
            pass
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            raise StorageError(f"the metadata of voice {name!r} is unreadable") from exc
        if name in self._builtins:
            return self._builtin(name)
        raise VoiceNotFound(f"no voice named {name!r}; list them with endpoint list_voices")

    def reference(
        self, name: str, timer: StageTimer | None = None, info: VoiceInfo | None = None
    ) -> tuple[VoiceInfo, Reference]:
        """The voice ready for the engine (`info`: its metadata, when the caller read it
        already). Audio is cached by its sha256, decoded in memory and raw on disk, so a warm
        worker downloads each reference once."""
        timer = timer or StageTimer()
        with timer.stage("fetch"):
            info = info or self.info(name)
            audio = self._cached(info.sha256)
            data = b"" if audio is not None else self._raw_audio(self.aliases.get(name, name), info.sha256)
        if audio is None:
            with timer.stage("decode"):
                audio = self._as_model_reads(self._codec.decode(data))
            self._remember(info.sha256, audio)
        return info, Reference(key=info.sha256, audio=audio, text=info.ref_text)

    def audio(self, name: str) -> bytes:
        """The voice's reference recording as stored (a wav), for a person to listen to; for an
        alias, its voice's (VoiceNotFound for an unknown name, as `reference` answers)."""
        return self._audio_bytes(self.info(name).name)

    def _raw_audio(self, name: str, sha256: str) -> bytes:
        data = self._disk.get(sha256) if self._disk else None
        if data is not None:
            return data
        data = self._audio_bytes(name)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"voice {name!r} is being replaced; try again")
        if self._disk:
            self._disk.put(sha256, data)
        return data

    def _audio_bytes(self, name: str) -> bytes:
        try:
            return self._store.get(audio_key(name))
        except KeyError:
            if name in self._builtins:
                return self._builtins[name].load()
            raise VoiceNotFound(f"voice {name!r} has no audio") from None

    def _builtin(self, name: str) -> VoiceInfo:
        """Read, hashed and decoded once per process; later calls answer from memory."""
        known = self._builtin_info.get(name)
        if known is not None:
            return known
        voice = self._builtins[name]
        data = voice.load()
        sha = hashlib.sha256(data).hexdigest()
        audio = self._codec.decode(data)
        self._remember(sha, audio)
        info = VoiceInfo(
            name=name,
            ref_text=voice.ref_text,
            duration=audio.duration,
            sample_rate=audio.sample_rate,
            sha256=sha,
            created_at=BUILTIN_CREATED_AT,
        )
        self._builtin_info[name] = info
        return info

    def exists(self, name: str) -> bool:
        return self._store.exists(metadata_key(name))

    def is_builtin(self, name: str) -> bool:
        return name in self._builtins

    def with_aliases(self) -> tuple[list[VoiceInfo], dict[str, VoiceInfo]]:
        """The voices, and each alias (VOICE_ALIASES) whose voice exists with that voice's
        info: what a client may pick from. A stored voice an alias shadows is left out, as
        its name speaks the alias's voice."""
        voices = self.list()
        by_name = {info.name: info for info in voices}
        aliases = {alias: by_name[target] for alias, target in self.aliases.items() if target in by_name}
        return [info for info in voices if info.name not in aliases], aliases

    def list(self) -> list[VoiceInfo]:
        """One listing call and one read of the listing index, however many voices.

        The index (`index/voices.json`) is a cache the store keeps for every worker: each
        voice's metadata with the version tag it had. Metadata is read only for voices new
        or changed since (their tags differ), and then the index is rewritten. It is never
        the source of truth: a stale or lost index only costs those reads, and a race
        between two workers rewriting it only makes it stale again."""
        listing = {
            key: version
            for key, version in self._store.list("voices/").items()
            if key.endswith(".json") and key.count("/") == 1
        }
        if any(self._listed.get(key, ("",))[0] != version for key, version in listing.items()):
            self._listed.update(self._read_index())
        changed = [key for key, version in listing.items() if self._listed.get(key, ("",))[0] != version]
        for key, data in self._store.get_many(changed).items():
            try:
                self._listed[key] = (listing[key], VoiceInfo.from_json(data))
            except (ValueError, TypeError, KeyError) as exc:
                raise StorageError(f"the metadata object {key!r} is unreadable") from exc
        for stale in set(self._listed) - set(listing):
            del self._listed[stale]
        if changed:
            self._write_index()
        voices = {info.name: info for _, info in self._listed.values()}
        for name in self._builtins:
            if name not in voices:
                voices[name] = self._builtin(name)
        return [voices[name] for name in sorted(voices)]

    def _read_index(self) -> dict[str, tuple[str, VoiceInfo]]:
        try:
            raw = json.loads(self._store.get(INDEX_KEY))
            return {key: (str(version), VoiceInfo.from_dict(meta)) for key, (version, meta) in raw.items()}
        except KeyError:
            return {}
        except (ValueError, TypeError, AttributeError):
            return {}  # an unreadable index is only a cold cache

    def _write_index(self) -> None:
        """Best effort: the index is a cache, and the listing itself has succeeded."""
        entries = {key: [version, asdict(info)] for key, (version, info) in self._listed.items()}
        with contextlib.suppress(StorageError):
            self._store.put(INDEX_KEY, json.dumps(entries, sort_keys=True).encode(), "application/json")

    def save(self, info: VoiceInfo, wav: bytes) -> None:
        """Audio first, metadata last: the metadata is the commit marker. A failed save
        leaves the store as it was: new audio removed, or a replaced voice's audio restored."""
        audio, meta = audio_key(info.name), metadata_key(info.name)
        previous = self._previous_audio(info.name)
        self._store.put(audio, wav, "audio/wav")
        try:
            self._store.put(meta, info.to_json(), "application/json")
        except Exception:
            if previous is None:
                self._store.delete(audio)
            else:
                self._store.put(audio, previous, "audio/wav")
            raise
        self._settle(info, wav)

    def _previous_audio(self, name: str) -> bytes | None:
        if not self.exists(name):
            return None
        try:
            return self._store.get(audio_key(name))
        except KeyError:
            return None

    def _settle(self, info: VoiceInfo, wav: bytes, attempts: int = 3) -> None:
        """Workers uploading one name at once can interleave as audio A, audio B,
        metadata B, metadata A. The metadata written last decides whose voice it is; its
        writer puts its own audio back until the pair agrees, so the result is one whole
        voice, never a mixture. Everyone else's metadata is gone, so they stop. The upload
        itself has committed: a store too broken to check now is not its failure."""
        for _ in range(attempts):
            try:
                current = VoiceInfo.from_json(self._store.get(metadata_key(info.name)))
                stored = self._store.get(audio_key(info.name))
            except (KeyError, StorageError):
                return
            if current.sha256 != info.sha256 or hashlib.sha256(stored).hexdigest() == info.sha256:
                return
            self._store.put(audio_key(info.name), wav, "audio/wav")

    def delete(self, name: str) -> str:
        """Deletes a stored voice and answers its name; the built-in voice (unless a stored
        voice replaced it) is every client's fallback and cannot be deleted."""
        if not self.exists(name):
            if self.is_builtin(name):
                raise InvalidInput(f"the built-in voice {name!r} cannot be deleted")
            raise VoiceNotFound(f"no stored voice named {name!r}")
        self._store.delete(metadata_key(name))
        self._store.delete(audio_key(name))
        return name

    def _cached(self, sha: str) -> Audio | None:
        with self._lock:
            audio = self._cache.get(sha)
            if audio is not None:
                self._cache.move_to_end(sha)
            return audio

    def _remember(self, sha: str, audio: Audio) -> None:
        with self._lock:
            replaced = self._cache.pop(sha, None)
            self._cached_bytes -= _size(replaced)
            self._cache[sha] = audio
            self._cached_bytes += _size(audio)
            while self._cached_bytes > self._cache_bytes and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._cached_bytes -= _size(dropped)


def _size(audio: Audio | None) -> int:
    return 0 if audio is None else audio.num_samples * audio.samples.itemsize
