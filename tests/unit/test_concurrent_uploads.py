"""Two workers uploading one name at once end with one whole voice, never a mixture."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

from adapters.fake_store import FakeStore
from adapters.soundfile_codec import SoundfileCodec
from domain.voice import VoiceInfo
from domain.voice_library import VoiceLibrary
from tests.helpers import audio_file


def voice(seconds: float, text: str) -> tuple[VoiceInfo, bytes]:
    wav = audio_file(seconds)
    return VoiceInfo("shared", text, seconds, 24000, hashlib.sha256(wav).hexdigest(), "2026"), wav


def assert_whole(store: FakeStore) -> VoiceInfo:
    info = VoiceInfo.from_json(store.objects["voices/shared.json"])
    assert hashlib.sha256(store.objects["voices/shared.wav"]).hexdigest() == info.sha256
    return info


class Interleaving(FakeStore):
    """Forces audio A, audio B, metadata B, metadata A: the order that mixes voices."""

    def __init__(self) -> None:
        super().__init__()
        self.a_audio = threading.Event()
        self.b_done = threading.Event()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        me = threading.current_thread().name
        if me == "B" and key.endswith(".wav") and not self.b_done.is_set():
            self.a_audio.wait(5)
        if me == "A" and key.endswith(".json"):
            self.b_done.wait(5)
        super().put(key, data, content_type)
        if me == "A" and key.endswith(".wav"):
            self.a_audio.set()
        if me == "B" and key.endswith(".json"):
            self.b_done.set()


def test_the_mixing_interleaving_settles_on_the_last_metadata():
    store = Interleaving()
    (info_a, wav_a), (info_b, wav_b) = voice(2.0, "A"), voice(3.0, "B")
    workers = [
        threading.Thread(target=VoiceLibrary(store, SoundfileCodec()).save, args=(info_a, wav_a), name="A"),
        threading.Thread(target=VoiceLibrary(store, SoundfileCodec()).save, args=(info_b, wav_b), name="B"),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert assert_whole(store).ref_text == "A"


def test_many_concurrent_uploads_leave_one_whole_voice():
    store = FakeStore()
    voices = [voice(1.0 + i / 10, f"take {i}") for i in range(8)]
    libraries = [VoiceLibrary(store, SoundfileCodec()) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: libraries[i % 4].save(*voices[i]), range(8)))
    assert assert_whole(store).ref_text in {info.ref_text for info, _ in voices}
