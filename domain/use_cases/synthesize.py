"""Text to speech in stored voices: tags resolved, text normalised, chunks of every voice
synthesised as one engine batch, and the parts assembled with exact pauses and timings."""

from __future__ import annotations

import random
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate

from domain import captions
from domain.assembly import Assembler, SilenceSlot, Slot, SpeechSlot, TimedSegment
from domain.audio import Audio
from domain.chunking import chunk_budget, normalize_text, split_text
from domain.errors import InvalidInput
from domain.streaming import is_urgent, next_batch_size
from domain.synthesis import HOP_LENGTH, Reference, SynthesisItem, SynthesisParams, generated_frames, prepare_ref_text
from domain.text.normalize import TextNormalizer
from domain.text.script import Pause, Speech, VoiceText, named_voices, parse_script
from domain.text.spoken import SpokenText
from domain.timing import StageTimer
from domain.voice import DEFAULT_VOICE, VoiceInfo
from domain.voice_library import VoiceLibrary
from domain.word_timing import (
    AlignmentItem,
    ChunkWords,
    Token,
    WordClock,
    WordSpan,
    WordTiming,
    chunk_words,
    trace_to_written,
)
from ports.aligner import Aligner
from ports.model_registry import ModelInfo, ModelRegistry
from ports.tts_engine import TtsEngine

MAX_SEED = 2**31 - 1
MAX_VOICES = 16  # distinct voices in one request: each is decoded and held while it is answered
MAX_REF_SECONDS = 12.0  # upstream clips a longer reference to about this much before speaking
FIRST_CHUNK_BYTES = 60  # about one short sentence: the first streamed audio comes fast
VOICE_CHANGE_GAP = 0.25  # seconds of silence where one speaker hands over to another, as in conversation
NO_ALIGNER = "timestamps need the aligner's weights and this worker was built without them"


@dataclass(frozen=True)
class Progress:
    """How far a job has come, as RunPod's progress posts and the SSE stream's
    `speech.progress` events report it: chunks done of those planned, seconds of audio
    ready, and the share of the text's characters spoken (0..1)."""

    chunks_done: int
    chunks_total: int
    audio_seconds: float
    text_share: float


@dataclass(frozen=True)
class TtsRequest:
    """`text` in `voice`, or, when `segments` is given, each segment in its own voice (then
    `text` is only what the answer echoes). Tags in the text are resolved either way."""

    text: str
    voice: str = DEFAULT_VOICE
    segments: tuple[VoiceText, ...] = ()
    params: SynthesisParams = field(default_factory=SynthesisParams)
    seed: int | None = None
    format: str = "wav"
    return_base64: bool = False
    stream: bool = False
    normalize: bool = True
    timestamps: bool = False
    captions: str | None = None
    model: str | None = None  # a registry name; None: the default model
    language: str | None = None  # how numbers are read; None: the model's first language
    #: called as chunks complete (a job run in several engine calls, or each streamed chunk)
    progress: Callable[[Progress], None] | None = field(default=None, compare=False, repr=False)

    @property
    def aligned(self) -> bool:
        """Word timings are needed: asked for, or to write captions from."""
        return self.timestamps or self.captions is not None


@dataclass(frozen=True)
class TtsResult:
    """The answer as samples: each way in encodes (and stores) it once, for its own protocol.
    `audio` is the whole answer, except from a stream, whose chunks carried it; `captions` the
    caption text when asked for, `words` only when asked for."""

    voice: str
    text: str
    duration: float
    sample_rate: int
    format: str
    seed: int
    chunks: int
    spoken_text: str = ""
    segments: tuple[TimedSegment, ...] = ()
    audio: Audio | None = None
    timings: dict[str, float] = field(default_factory=dict)
    words: tuple[WordTiming, ...] | None = None
    captions: str | None = None
    model: str | None = None  # set where the worker serves several models
    notes: tuple[str, ...] = ()  # what the client should know about how the text was read


@dataclass(frozen=True)
class StreamChunk:
    """One streamed piece: its samples (`audio`, which the pieces before it continue exactly)
    and the words it completes when timestamps were asked for."""

    index: int
    audio: Audio
    duration: float
    words: tuple[WordTiming, ...] | None = None


@dataclass(frozen=True)
class _Plan:
    voice: str
    seed: int
    items: list[SynthesisItem]
    layout: list[Slot]
    spoken_text: str
    tokens: list[Token] = field(default_factory=list)  # spoken, as aligned
    chunk_words: list[ChunkWords] = field(default_factory=list)  # one per item
    written: list[Token] = field(default_factory=list)  # as the client wrote them
    owners: list[tuple[int, ...]] = field(default_factory=list)  # spoken token -> written words
    speech_slots: list[int] = field(default_factory=list)  # item -> its layout slot
    engine: TtsEngine | None = None  # the request's model's engine
    model: str | None = None
    notes: tuple[str, ...] = ()

    @cached_property
    def characters_through(self) -> list[int]:
        """Characters of text in items[: i + 1]: summed once per plan, not once per progress report."""
        return list(accumulate(len(item.text) for item in self.items))


class Synthesize:
    def __init__(
        self,
        engine: TtsEngine,
        voices: VoiceLibrary,
        normalizer: TextNormalizer,
        max_audio_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        aligner: Aligner | None = None,
        batch_items: int | None = None,
        models: ModelRegistry | None = None,
    ) -> None:
        self._engine = engine
        self._models = models
        self._batch_items = batch_items  # the most chunks the engine runs in one call
        self._aligner = aligner
        self._clock = clock
        self._voices = voices
        self._normalizer = normalizer
        self._max_audio_seconds = max_audio_seconds

    @property
    def sample_rate(self) -> int:
        return self._engine.sample_rate

    def __call__(self, request: TtsRequest) -> TtsResult:
        timer = StageTimer()
        plan = self._plan(request, timer, first_max_bytes=None)
        assembler = Assembler(plan.layout, request.params.cross_fade_duration, self._engine.sample_rate)
        words = self._word_clock(plan) if request.aligned else None
        timed: list[WordTiming] = []
        samples = array("f")
        with timer.stage("engine"):
            parts = self._synthesize_all(plan, request.progress)
        spans = self._align(plan, 0, parts, timer) if words else None
        for index, part in enumerate(parts):
            samples.extend(assembler.push(part).samples)
            if words and spans is not None:
                timed.extend(self._tick(words, plan, assembler, index, part, spans[index], request))
        audio = Audio(samples, self._engine.sample_rate)
        return self._result(request, plan, audio, assembler.segments, timer, timed if words else None)

    def stream(self, request: TtsRequest) -> Iterator[StreamChunk | TtsResult]:
        """The audio chunk by chunk as the engine finishes it, then the whole result.

        The first chunk is short and synthesized alone, and marked urgent (a batching engine
        runs it ahead of other jobs' work), so the first audio comes early; the rest follow
        in batches that grow with the audio already buffered, each sized to be ready before
        the audio before it has played, and urgent too while little is buffered and the
        engine keeps up with playback (domain.streaming). Each streamed piece is what the
        assembly has made final (the cross-fade tail waits for the next part; pauses go out
        with the part before them), so the pieces concatenate to exactly the final audio.
        Nothing but the current piece is held: the result carries no audio."""
        timer = StageTimer()
        plan = self._plan(request, timer, first_max_bytes=FIRST_CHUNK_BYTES)
        assembler = Assembler(plan.layout, request.params.cross_fade_duration, self._engine.sample_rate)
        done_items = emitted = 0  # items spoken, samples streamed
        words = self._word_clock(plan) if request.aligned else None
        timed: list[WordTiming] = []
        estimates = [self._item_samples(item) / self._engine.sample_rate for item in plan.items]  # seconds each
        delivered, playing_since, cost = 0.0, None, None
        while done_items < len(plan.items):
            buffered = 0.0 if playing_since is None else delivered - (self._clock() - playing_since)
            size = next_batch_size(estimates, done_items, buffered, cost)
            batch = plan.items[done_items : done_items + size]
            started = self._clock()
            with timer.stage("engine"):
                engine = plan.engine or self._engine
                parts = engine.synthesize(batch, urgent=is_urgent(done_items, buffered, cost))
            produced = sum(part.duration for part in parts)
            cost = (self._clock() - started) / produced if produced > 0 else None
            spans = self._align(plan, done_items, parts, timer) if words else None
            for number, part in enumerate(parts):
                piece = assembler.push(part)
                done = None
                if words and spans is not None:
                    done = self._tick(words, plan, assembler, done_items, part, spans[number], request)
                    timed.extend(done)
                playing_since = self._clock() if playing_since is None else playing_since
                if request.progress is not None:  # before the chunk, so it is sent with the chunk's audio
                    request.progress(_progress(plan, done_items + 1, delivered + piece.duration))
                yield StreamChunk(
                    index=done_items,
                    audio=piece,
                    duration=round(piece.duration, 3),
                    words=tuple(done) if done is not None and request.timestamps else None,
                )
                delivered += piece.duration
                emitted += piece.num_samples
                done_items += 1
        seconds = emitted / self._engine.sample_rate
        yield self._result(request, plan, seconds, assembler.segments, timer, timed if words else None)

    def _synthesize_all(self, plan: _Plan, report: Callable[[Progress], None] | None) -> list[Audio]:
        """Every chunk in one engine call; with a progress callback, in calls of what the
        engine runs at once, reporting after each. The audio is the same either way: each
        item's audio depends only on that item (the engine contract)."""
        engine = plan.engine or self._engine
        if report is None:
            return engine.synthesize(plan.items)
        size = self._batch_items or len(plan.items)
        parts: list[Audio] = []
        seconds = 0.0
        for start in range(0, len(plan.items), size):
            for part in engine.synthesize(plan.items[start : start + size]):
                parts.append(part)
                seconds += part.duration
            report(_progress(plan, len(parts), seconds))
        return parts

    def _word_clock(self, plan: _Plan) -> WordClock:
        return WordClock(plan.tokens, plan.chunk_words, plan.written, plan.owners)

    def _align(self, plan: _Plan, first: int, parts: list[Audio], timer: StageTimer) -> list[list[WordSpan]]:
        """Word spans of items `first`.. (their audio `parts`), from one aligner call."""
        assert self._aligner is not None
        chunks = plan.chunk_words[first : first + len(parts)]
        wanted = [i for i, chunk in enumerate(chunks) if chunk.pieces]
        with timer.stage("align"):
            spans = self._aligner.align([AlignmentItem(parts[i], chunks[i].pieces) for i in wanted]) if wanted else []
        by_part = dict(zip(wanted, spans, strict=True))
        return [by_part.get(i, []) for i in range(len(parts))]

    def _tick(
        self,
        clock: WordClock,
        plan: _Plan,
        assembler: Assembler,
        index: int,
        part: Audio,
        spans: list[WordSpan],
        request: TtsRequest,
    ) -> list[WordTiming]:
        """Item `index`'s spans, just pushed into the assembly, as output times kept inside
        its segment. The segment's end is where the cross-fade into the next part of the same
        voice will put it (the middle of the overlap), known before that part arrives."""
        rate = self._engine.sample_rate
        offset = assembler.part_starts[index]
        slot = plan.speech_slots[index]
        following = plan.layout[slot + 1] if slot + 1 < len(plan.layout) else None
        end = offset + part.num_samples
        if isinstance(following, SpeechSlot) and following.fade_in:
            overlap = min(int(request.params.cross_fade_duration * rate), part.num_samples)
            end -= overlap - overlap // 2
        start = assembler.segment_start(slot)
        return clock.add(spans, offset / rate, start, end / rate)

    def _item_samples(self, item: SynthesisItem) -> int:
        """Samples the engine makes for one item (`generated_frames`), with the reference
        counted as the engine counts it, up to MAX_REF_SECONDS."""
        rate, ref = self._engine.sample_rate, item.reference.audio
        ref_samples = min(int(ref.num_samples * rate / ref.sample_rate), int(MAX_REF_SECONDS * rate))
        frames = generated_frames(ref_samples // HOP_LENGTH, item.reference.text, item.text, item.params.speed)
        return frames * HOP_LENGTH

    def expected_seconds(self, items: list[SynthesisItem], layout: list[Slot], params: SynthesisParams) -> float:
        """How long the answer will be, before any synthesis: each item's length by the
        engine's rule, plus the silences, less the cross-fades, as the Assembler joins them.
        Exact for references of at most MAX_REF_SECONDS (and parts longer than a cross-fade);
        the engine clips a longer reference, which only shortens the answer, so this is then
        an upper bound."""
        rate = self._engine.sample_rate
        overlap = max(0, int(params.cross_fade_duration * rate))
        lengths = iter([self._item_samples(item) for item in items])
        total = previous = 0
        for slot in layout:
            if isinstance(slot, SilenceSlot):
                total += round(slot.seconds * rate)
                previous = 0
                continue
            length = next(lengths)
            if slot.fade_in and previous:
                total -= min(overlap, previous, length)
            total += length
            previous = length
        return total / rate

    def _refuse_too_long(
        self, voices: list[str], items: list[SynthesisItem], layout: list[Slot], params: SynthesisParams
    ) -> None:
        if self._max_audio_seconds is None:
            return
        seconds = self.expected_seconds(items, layout, params)
        if seconds > self._max_audio_seconds:
            named = ", ".join(repr(voice) for voice in voices)
            raise InvalidInput(
                f"this text would be {seconds:.1f} s of audio (voice {named}, speed {params.speed:g}); "
                f"the limit is {self._max_audio_seconds:g} s: send less text or split it into several jobs"
            )

    def _plan(self, request: TtsRequest, timer: StageTimer, first_max_bytes: int | None) -> _Plan:
        """Tags, voices and chunks, all checked before anything is synthesised: a bad tag
        or an unknown voice fails the job here."""
        self.check(request)
        parts = list(request.segments) or [VoiceText(request.voice, request.text)]
        script = parse_script(parts)
        words: tuple[list, list, list, list] = ([], [], [], [])
        infos, references = self._references(named_voices(parts), script, timer)
        seed = request.seed if request.seed is not None else random.SystemRandom().randint(0, MAX_SEED)
        model, engine, language, notes = self._model(request, next(iter(infos.values()), None))
        layout: list[Slot] = []
        items: list[SynthesisItem] = []
        last_voice: str | None = None  # voice of the last slot when it is speech
        for part in script:
            if isinstance(part, Pause):
                layout.append(SilenceSlot(part.seconds))
                last_voice = None
                continue
            reference = references[part.voice]
            budget = chunk_budget(prepare_ref_text(reference.text), min(reference.audio.duration, MAX_REF_SECONDS),
                                  request.params.speed)  # fmt: skip
            spoken = (
                self._normalizer(part.text, part.offset, language)
                if request.normalize
                else SpokenText.verbatim(part.text, part.offset)
            )
            chunks = [c.strip() for c in split_text(spoken.text, budget, None if items else first_max_bytes)]
            if request.aligned:
                self._trace(words, spoken, chunks, part.text, part.offset)
            for chunk in chunks:
                if last_voice is not None and last_voice != part.voice:
                    layout.append(SilenceSlot(VOICE_CHANGE_GAP))
                layout.append(SpeechSlot(part.voice, chunk, fade_in=last_voice == part.voice))
                items.append(SynthesisItem(reference=reference, text=chunk, params=request.params,
                                           seed=seed + len(items)))  # fmt: skip
                last_voice = part.voice
        if not items:
            raise InvalidInput("text has nothing to speak")
        if model is not None:
            self._refuse_unknown_characters(model, [item.text for item in items])
        tokens, chunk_list, written, owners = words
        spoken_text = " ".join(slot.text for slot in layout if isinstance(slot, SpeechSlot))
        first_voice = next(slot.voice for slot in layout if isinstance(slot, SpeechSlot))
        self._refuse_too_long(list(references), items, layout, request.params)
        return _Plan(voice=first_voice, seed=seed, items=items, layout=layout, spoken_text=spoken_text,
                     tokens=tokens, chunk_words=chunk_list, written=written, owners=owners,
                     speech_slots=[i for i, slot in enumerate(layout) if isinstance(slot, SpeechSlot)],
                     engine=engine, model=model, notes=notes)  # fmt: skip

    def models(self) -> list[ModelInfo]:
        """The models this worker serves (none listed without a registry)."""
        return self._models.models() if self._models is not None else []

    def _model(
        self, request: TtsRequest, voice: VoiceInfo | None
    ) -> tuple[str | None, TtsEngine, str | None, tuple[str, ...]]:
        """The request's model, else its (first) voice's, else the default (None: the worker's
        one engine); its engine; the language numbers are read in (the request's, else the
        voice's, else the model's first); and a note where that language has no rules."""
        voice_model, voice_language = (voice.model, voice.language) if voice is not None else (None, None)
        if self._models is None:
            if request.model is not None:
                raise InvalidInput(f"unknown model {request.model[:64]!r}; this worker serves one model")
            language = request.language or voice_language
            return None, self._engine, language, self._language_notes(language)
        name = request.model or voice_model or self._models.default
        info = self._models.info(name)
        language = request.language or voice_language or (info.languages[0] if info.languages else None)
        several = len(self._models.models()) > 1
        engine = self._engine if name == self._models.default else self._models.engine(name)
        return (name if several else None), engine, language, self._language_notes(language)

    def _language_notes(self, language: str | None) -> tuple[str, ...]:
        if self._normalizer.reads(language):
            return ()
        return (f"numbers, dates and symbols are not read in {language!r} (no rules for it): the text is spoken "
                f"as written; languages read: {', '.join(self._normalizer.languages)}",)  # fmt: skip

    def _refuse_unknown_characters(self, model: str, texts: list[str]) -> None:
        """The model would silently drop characters its vocabulary lacks: refused, naming them."""
        assert self._models is not None
        missing = sorted(set().union(*(self._models.unknown_characters(model, text) for text in texts)))
        if missing:
            shown = " ".join(repr(char) for char in missing[:20]) + (" ..." if len(missing) > 20 else "")
            raise InvalidInput(
                f"model {model!r} cannot say {shown}: its vocabulary lacks them; write them another way "
                "or choose a model for this language"
            )

    def _references(
        self, voices: list[str], script: list[Speech | Pause], timer: StageTimer
    ) -> tuple[dict[str, VoiceInfo], dict[str, Reference]]:
        """Every voice the request names (its metadata, and its audio decoded only once what
        needs no audio has passed: how many voices, whether each exists, and whether its
        pauses alone are too long)."""
        if len(voices) > MAX_VOICES:
            raise InvalidInput(f"the request names {len(voices)} voices; at most {MAX_VOICES} may speak in one request")
        infos = {voice: self._voices.info(voice) for voice in voices}
        silence = sum(part.seconds for part in script if isinstance(part, Pause))
        if self._max_audio_seconds is not None and silence > self._max_audio_seconds:
            raise InvalidInput(
                f"the pauses alone would be {silence:.1f} s of audio; the limit is {self._max_audio_seconds:g} s: "
                "send fewer pauses or split them into several jobs"
            )
        return infos, {voice: self._voices.reference(voice, timer, infos[voice])[1] for voice in voices}

    @staticmethod
    def _trace(words: tuple[list, list, list, list], spoken: SpokenText, chunks: list[str], text: str,
               offset: int) -> None:  # fmt: skip
        """Adds one stretch of speech's spoken tokens, its chunks' words and its written words
        (with the spoken-to-written map) to the plan's lists, indices continuing across stretches."""
        tokens, chunk_list, written, owners = words
        local, per_chunk = chunk_words(normalize_text(spoken.text), chunks)
        local_written, local_owners = trace_to_written(spoken.text, spoken.pieces, local, text, offset)
        shift, written_shift = len(tokens), len(written)
        tokens.extend(local)
        chunk_list.extend(ChunkWords(tuple(i + shift for i in c.indices), c.pieces) for c in per_chunk)
        written.extend(local_written)
        owners.extend(tuple(w + written_shift for w in owned) for owned in local_owners)

    def check(self, request: TtsRequest) -> None:
        """Refuses, before any work, what this worker cannot answer."""
        if request.aligned and (self._aligner is None or not self._aligner.available):
            raise InvalidInput(NO_ALIGNER)
        if request.captions is not None and request.captions not in captions.FORMATS:
            raise InvalidInput(f"captions must be one of {', '.join(captions.FORMATS)}")

    def _result(
        self,
        request: TtsRequest,
        plan: _Plan,
        audio: Audio | float,
        segments: list[TimedSegment],
        timer: StageTimer,
        words: list[WordTiming] | None,
    ) -> TtsResult:
        """The answer with its whole `audio`, or (a stream's) only its length in seconds."""
        seconds = audio.duration if isinstance(audio, Audio) else audio
        return TtsResult(
            voice=plan.voice,
            text=request.text,
            duration=round(seconds, 3),
            sample_rate=self._engine.sample_rate,
            format=request.format,
            seed=plan.seed,
            chunks=len(plan.items),
            spoken_text=plan.spoken_text,
            segments=tuple(segments),
            timings=timer.seconds,
            words=tuple(words) if request.timestamps and words is not None else None,
            model=plan.model,
            notes=plan.notes,
            audio=audio if isinstance(audio, Audio) else None,
            captions=captions.render(words or [], request.captions) if request.captions is not None else None,
        )


def _progress(plan: _Plan, done: int, seconds: float) -> Progress:
    ends = plan.characters_through
    spoken, total = (ends[done - 1] if done else 0), (ends[-1] if ends else 0)
    return Progress(done, len(plan.items), round(seconds, 3), round(spoken / total, 4) if total else 1.0)
