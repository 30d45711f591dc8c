import hashlib

from adapters.disk_cache import DiskCache
from adapters.fake_store import FakeStore
from adapters.soundfile_codec import SoundfileCodec
from domain.voice import VoiceInfo
from domain.voice_library import VoiceLibrary
from tests.helpers import audio_file


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_round_trip_and_miss(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=1 << 20)
    assert cache.get(digest(b"x")) is None
    cache.put(digest(b"x"), b"x")
    assert cache.get(digest(b"x")) == b"x"


def test_refuses_wrong_digests_and_odd_names(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=1 << 20)
    cache.put(digest(b"x"), b"not x")
    cache.put("../../etc/passwd", b"x")
    assert cache.get(digest(b"x")) is None and cache.get("../../etc/passwd") is None
    assert list(tmp_path.iterdir()) == []


def test_corrupted_entry_is_dropped(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=1 << 20)
    cache.put(digest(b"abc"), b"abc")
    (tmp_path / digest(b"abc")).write_bytes(b"abd")
    assert cache.get(digest(b"abc")) is None
    assert list(tmp_path.iterdir()) == []


def test_least_recently_used_is_evicted_first(tmp_path):
    import os

    cache = DiskCache(tmp_path, max_bytes=250)
    blobs = [bytes([i]) * 100 for i in range(3)]
    for age, blob in enumerate(blobs[:2]):
        cache.put(digest(blob), blob)
        os.utime(tmp_path / digest(blob), (1000 + age, 1000 + age))
    cache.get(digest(blobs[0]))  # now the most recently used
    cache.put(digest(blobs[2]), blobs[2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([digest(blobs[0]), digest(blobs[2])])


def test_a_warm_worker_downloads_a_reference_once(tmp_path):
    store = FakeStore()
    wav = audio_file(2.0)
    info = VoiceInfo("v", "text", 2.0, 24000, digest(wav), "2026-01-01T00:00:00+00:00")
    VoiceLibrary(store, SoundfileCodec()).save(info, wav)
    reads: list[str] = []
    original = store.get
    store.get = lambda key: reads.append(key) or original(key)
    disk = DiskCache(tmp_path, max_bytes=1 << 20)
    VoiceLibrary(store, SoundfileCodec(), disk_cache=disk).reference("v")
    VoiceLibrary(store, SoundfileCodec(), disk_cache=disk).reference("v")  # a new in-memory cache
    assert reads.count("voices/v.wav") == 1
