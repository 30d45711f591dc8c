"""OpenAI-compatible speech server: `python -m entrypoints.openai_api [--host H] [--port P]`.

A second way in, beside the RunPod worker, over the same container, use cases and voice
store: `POST /v1/audio/speech` (streamed as audio or SSE), `GET /v1/models`, voices under
`/v1/audio/voices`, `GET /health`, and the web page (`/web/`, static files that call those
routes). It only maps HTTP onto the use cases and back; nothing about synthesis lives here.

Security (see README "OpenAI-compatible server"): bearer-token auth when `API_KEY` is set; a
server listening beyond loopback refuses to start without one unless `ALLOW_NO_API_KEY=1`;
request bodies are capped by size; CORS is off unless `CORS_ORIGINS` names origins; JSON
routes take only JSON, changes from a foreign `Origin` and (without a key) requests under a
non-loopback `Host` are refused; speech requests past MAX_CONCURRENCY get 429; a request
must arrive within its header and body deadlines (entrypoints/slow_clients.py).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import anyio
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from application.app import App
from application.bootstrap import bootstrap
from application.fields import UploadOptions, upload_request, validated
from application.limits import Limits
from domain.cancellation import CancelScope, call_within, within
from domain.errors import TtsError, VoiceNotFound
from domain.use_cases.synthesize import Progress, TtsResult
from domain.voice import DEFAULT_VOICE, voice_name
from domain.voice_library import BrokenAlias
from entrypoints.logging_setup import configure_logging
from entrypoints.openai_requests import (
    MODELS,
    SPEECH_PARAMS,
    UPLOAD_PARAMS,
    ApiError,
    SpeechRequest,
    api_error,
    form_flag,
    parse_speech,
    refuse,
    voice_object,
)
from entrypoints.openai_streams import EncodedSpeech, Event, audio_body, sse_body
from entrypoints.servers import boot, is_loopback
from entrypoints.slow_clients import deadline_protocol
from ports.audio_encoder import OUTPUT_FORMATS
from settings import Settings, SettingsError, load_settings

DEFAULT_PORT = 8880
SMALL_BODY = 64 * 1024
LIST_ROUTES = frozenset(("/v1/audio/models", "/v1/audio/voices"))
WEB_ROOT = Path(__file__).with_name("web")  # the page: plain HTML, CSS and ES modules, no build step
HEALTH_TTL = 5.0  # seconds a store check answers /health: anyone may call it, and each check writes the store
RETRY_AFTER = 2  # seconds a busy server asks a client to wait (a short sentence's synthesis)
BUSY = "the server is already answering {} speech requests, its limit (MAX_CONCURRENCY); retry shortly"
log = structlog.get_logger("openai_api")
T = TypeVar("T")


@dataclass(frozen=True)
class ServerSettings:
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    allow_no_key: bool = False
    public_list_routes: bool = False  # the two list routes answer without the key (PUBLIC_LIST_ROUTES)
    max_speech: int = 8  # speech requests served at once; more answer 429
    header_timeout: float = 10.0
    body_timeout: float = 120.0
    max_connections: int = 256


def server_settings(settings: Settings, max_speech: int | None = None) -> ServerSettings:
    origins = tuple(o.strip() for o in (settings.cors_origins or "").split(",") if o.strip())
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return ServerSettings(
        api_key=api_key or None,
        cors_origins=origins,
        allow_no_key=settings.allow_no_api_key,
        public_list_routes=settings.public_list_routes,
        max_speech=max_speech or settings.max_concurrency or ServerSettings.max_speech,
        header_timeout=settings.server_header_timeout,
        body_timeout=settings.server_body_timeout,
        max_connections=settings.server_max_connections,
    )


def check_exposure(host: str, settings: ServerSettings) -> None:
    """Beyond loopback, anyone who reaches the port could spend the GPU and read, replace or
    delete voices: refuse to start without a key unless told that is intended."""
    if not is_loopback(host) and not settings.api_key and not settings.allow_no_key:
        raise SystemExit(
            f"refusing to listen on {host} without API_KEY: set API_KEY (clients send it as a bearer token), "
            "or ALLOW_NO_API_KEY=1 if something in front of this server authenticates"
        )


def create_app(api: App, settings: ServerSettings) -> FastAPI:
    app = FastAPI(title="F5-TTS OpenAI-compatible speech API", docs_url="/docs", redoc_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "invalid_input"
        return _error_response(ApiError(exc.status_code, code, str(exc.detail)))

    slots = SpeechSlots(settings.max_speech)

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        if not slots.take():
            log.warning("speech_refused_busy", limit=slots.limit)
            raise ApiError(429, "rate_limit_exceeded", BUSY.format(slots.limit))
        try:
            response = await _guarded(_speech(api, request))
        except BaseException:
            slots.give_back()
            raise
        if isinstance(response, SpeechStream):
            response.on_close(slots.give_back)
        else:
            slots.give_back()
        return response

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        """OpenAI's names (the default model), then each model the worker serves, described."""
        data: list[dict[str, Any]] = [
            {"id": name, "object": "model", "created": 0, "owned_by": "f5-tts-worker"} for name in MODELS
        ]
        served = api.synthesize.models()
        for info in served if len(served) > 1 else ():
            described = {"architecture": info.architecture, "languages": list(info.languages),
                         "licence": info.licence, "loaded": info.loaded, "default": info.default}  # fmt: skip
            data.append({"id": info.name, "object": "model", "created": 0, "owned_by": "f5-tts-worker", **described})
        return {"object": "list", "data": data}

    @app.get("/v1/audio/models")
    async def audio_models() -> dict[str, Any]:
        """Open WebUI's model list for a TTS server that is not OpenAI's."""
        return {"models": [{"id": name} for name in MODELS]}

    @app.get("/v1/audio/voices")
    async def voices() -> dict[str, Any]:
        stored, aliases = await _guarded(run_in_threadpool(api.voices.with_aliases))
        listed = [voice_object(info) for info in stored]
        listed += [{**voice_object(info), "id": alias, "name": alias, "alias_of": info.name}
                   for alias, info in aliases.items()]  # fmt: skip
        # `data` as OpenAI lists objects; `voices` (objects with `id` and `name`) as Open WebUI reads it.
        return {"object": "list", "data": listed, "voices": listed}

    @app.post("/v1/audio/voices")
    async def upload(request: Request) -> dict[str, Any]:
        return await _guarded(_upload(api, request))

    @app.delete("/v1/audio/voices/{voice_id}")
    async def delete(voice_id: str) -> dict[str, Any]:
        name = await _guarded(run_in_threadpool(lambda: api.voices.delete(voice_name(voice_id))))
        return {"id": name, "object": "audio.voice.deleted", "deleted": True}

    @app.get("/v1/audio/voices/{voice_id}/audio")
    async def reference_audio(voice_id: str) -> Response:
        data = await _guarded(run_in_threadpool(lambda: api.voices.audio(voice_name(voice_id))))
        return Response(data, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    @app.get("/", include_in_schema=False)
    async def page() -> RedirectResponse:
        return RedirectResponse("/web/")

    app.mount("/web", StaticFiles(directory=WEB_ROOT, html=True), name="web")
    checked = HealthCache(api.health, HEALTH_TTL)

    @app.get("/health")
    async def health() -> JSONResponse:
        answer = await _guarded(checked())
        return JSONResponse(answer, status_code=200 if answer["healthy"] else 503)

    app.add_middleware(BodyLimit, limit_for=_body_limit(api.limits))
    app.add_middleware(CrossSiteGuard, settings=settings)
    if settings.api_key:
        open_paths = LIST_ROUTES if settings.public_list_routes else frozenset()
        app.add_middleware(BearerAuth, api_key=settings.api_key, open_paths=open_paths)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


async def _speech(api: App, request: Request) -> Response:
    speech = parse_speech(await _json(request), api.limits, [m.name for m in api.synthesize.models()])
    try:
        return await _answer(api, speech, request.receive)
    except VoiceNotFound as exc:
        raise api_error(exc, SPEECH_PARAMS) from None


async def _answer(api: App, speech: SpeechRequest, receive: Receive) -> Response:
    tts = speech.tts
    fields = {"voice": tts.voice, "text_chars": len(tts.text), "format": tts.format}
    start = time.perf_counter()
    scope = CancelScope()  # cancelled when the client leaves: the engine drops the job's rows at its next step
    one_piece = not speech.stream and speech.stream_format == "audio"
    progress: list[Progress] = []  # speech.progress events, for an SSE client
    reported = replace(speech, tts=replace(tts, progress=progress.append if speech.stream_format == "sse" else None))
    try:
        if one_piece:
            synthesized = run_in_threadpool(call_within, scope, _with_fallback, api.synthesize, speech)
        else:  # a stream starts once its first chunk is ready: until then it is answered in one piece too
            stream = api.synthesize.stream
            synthesized = run_in_threadpool(_with_fallback, lambda r: _started(within(scope, stream(r))), reported)
        done = await _unless_left(receive, scope, synthesized)
    except TtsError:
        if not scope.cancelled:
            raise
        log.info("speech_abandoned", stream=not one_piece, chunks=0, seconds=round(time.perf_counter() - start, 4),
                 **fields)  # fmt: skip
        return Response(status_code=499)  # nginx's "client closed request": nobody reads it
    if one_piece:
        result: TtsResult = done
        data = await run_in_threadpool(api.encoder.encode, result.audio, tts.format)  # the one file of the answer
        seconds = round(time.perf_counter() - start, 4)
        log.info("speech_done", stream=False, seconds=seconds, audio_seconds=result.duration, **fields)
        headers = {"X-Seed": str(result.seed), "X-Voice": result.voice}
        return Response(data, media_type=OUTPUT_FORMATS[tts.format].content_type, headers=headers)
    # One continuous encoder makes the file of the chunks' samples as they come.
    encoder = api.encoder.open_stream(tts.format, api.synthesize.sample_rate)
    first, events = done
    encoded = EncodedSpeech(first, events, encoder, fields, progress)
    if speech.stream_format == "sse":
        answer = SpeechStream(encoded, sse_body(encoded, tts.text), media_type="text/event-stream")
    else:
        answer = SpeechStream(encoded, audio_body(encoded), media_type=OUTPUT_FORMATS[tts.format].content_type)
    answer.on_leave(scope.cancel)
    return answer


async def _client_left(receive: Receive) -> None:
    """Returns once the client has hung up: the request's body is read, so what `receive`
    gives next is that (an ASGI server reports it on no failed send before)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _unless_left(receive: Receive, scope: CancelScope, work: Awaitable[T]) -> T:
    """`work`'s result; a client that hangs up meanwhile cancels `scope` at once."""

    async def watch() -> None:
        await _client_left(receive)
        scope.cancel()

    watcher = asyncio.ensure_future(watch())  # a task, not a task group: `work`'s errors stay as they are
    try:
        return await work
    finally:
        watcher.cancel()


class SpeechStream(StreamingResponse):
    """A streamed answer that says when it is over, sent to the end or not: a client that
    hangs up mid-stream is logged (`speech_abandoned`) and its job cancelled at once (`on_leave`),
    and its slot is freed once the engine call in flight has returned."""

    def __init__(self, speech: EncodedSpeech, body: Iterator[bytes], media_type: str) -> None:
        super().__init__(body, media_type=media_type)
        self._closed: list[Callable[[], None]] = [speech.abandoned]
        self._left: list[Callable[[], None]] | None = [speech.abandoned]  # None once the client has left

    def on_close(self, callback: Callable[[], None]) -> None:
        self._closed.append(callback)

    def on_leave(self, callback: Callable[[], None]) -> None:
        """Run `callback` as soon as the client hangs up mid-stream (the job's cancellation)."""
        if self._left is None:
            callback()
        else:
            self._left.append(callback)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as watcher:
                watcher.start_soon(self._watch, receive)
                try:
                    await super().__call__(scope, receive, send)
                except Exception:
                    if self._left is not None:
                        raise  # after the client left, the job's cancellation or failure is for nobody
                finally:
                    watcher.cancel_scope.cancel()
        finally:
            for callback in self._closed:
                callback()

    async def _watch(self, receive: Receive) -> None:
        """An ASGI 2.4 server tells a streamed response that its client left only when a send
        fails, which a body waiting on the engine does not make: the client's leaving is
        noticed here instead, and the `on_leave` callbacks run at once."""
        await _client_left(receive)
        callbacks, self._left = self._left or [], None
        for callback in callbacks:
            callback()


class HealthCache:
    """The health answer, checked at most once per `ttl` seconds however often it is asked
    (it writes, reads and deletes an object in the store); concurrent callers share a check."""

    def __init__(self, check: Callable[[], dict[str, Any]], ttl: float, clock: Callable[[], float] = time.monotonic):
        self._check, self._ttl, self._clock = check, ttl, clock
        self._answer: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> dict[str, Any]:
        async with self._lock:
            if self._answer is None or self._clock() - self._at >= self._ttl:
                self._answer = await run_in_threadpool(self._check)
                self._at = self._clock()
            return self._answer


class SpeechSlots:
    """How many speech requests run at once (all on the event loop's thread, so a plain
    count): past the limit a client is told to come back rather than queue work the
    server cannot hold."""

    def __init__(self, limit: int) -> None:
        self.limit, self._taken = limit, 0

    def take(self) -> bool:
        if self._taken >= self.limit:
            return False
        self._taken += 1
        return True

    def give_back(self) -> None:
        self._taken -= 1


def _started(events: Iterator[Event]) -> tuple[Event, Iterator[Event]]:
    """The stream advanced to its first event: planning errors (unknown voice, bad text)
    surface here, before the response starts, as ordinary HTTP errors."""
    return next(events), events


async def _upload(api: App, request: Request) -> dict[str, Any]:
    try:
        form = await request.form(max_files=2, max_fields=16)
    except MultiPartException as exc:
        raise refuse(f"the multipart body is malformed: {exc.message}") from None
    except StarletteHTTPException as exc:  # Starlette wraps its MultiPartException in an app
        raise refuse(f"the multipart body is malformed: {exc.detail}") from None
    sample = form.get("audio_sample") or form.get("file")
    if not isinstance(sample, UploadFile):
        raise refuse("send the recording as the multipart file field audio_sample (or file)", "audio_sample")
    data = await sample.read(api.limits.max_voice_bytes + 1)
    if len(data) > api.limits.max_voice_bytes:
        raise ApiError(413, "invalid_input", f"the recording is larger than {api.limits.max_voice_bytes} bytes")
    name, ref_text = form.get("name"), form.get("ref_text")
    if not isinstance(name, str):
        raise refuse("name is required", "name")
    overwrite = form_flag(form.get("overwrite"), "overwrite")
    # the voice's model and language (README "Languages and models"); a blank field is one not sent
    given = {key: value.strip() for key in ("model", "language") if isinstance(value := form.get(key), str)}
    given["ref_text"] = ref_text if isinstance(ref_text, str) else ""
    sent = {key: value for key, value in given.items() if value.strip()} | {"overwrite": overwrite}
    try:
        upload = upload_request(name, data, api.limits, validated(UploadOptions, sent))
        result = await run_in_threadpool(api.upload_voice, upload)
    except TtsError as exc:
        raise api_error(exc, UPLOAD_PARAMS) from None
    log.info("voice_uploaded", voice=result.voice.name, transcribed=result.transcribed)
    return {**voice_object(result.voice), "transcribed": result.transcribed}


def _with_fallback(run: Callable[[Any], Any], speech: SpeechRequest) -> Any:
    """OpenAI's built-in voice names speak in the default voice when no such voice is stored."""
    try:
        return run(speech.tts)
    except VoiceNotFound as exc:
        if not speech.openai_voice or isinstance(exc, BrokenAlias):
            raise
        return run(replace(speech.tts, voice=DEFAULT_VOICE))


async def _guarded(work: Awaitable[Any]) -> Any:
    """Every failure as an OpenAI error object: ours with their status and stable code,
    anything else logged with its traceback and answered as engine_error."""
    try:
        return await work
    except ApiError as exc:
        log.warning("request_failed", status=exc.status, code=exc.code, error=exc.message)
        raise
    except TtsError as exc:
        log.warning("request_failed", code=exc.code, error=exc.message)
        raise api_error(exc) from None
    except Exception as exc:
        log.error("request_crashed", exc_info=exc)
        raise ApiError(500, "engine_error", "the server failed unexpectedly; the error was logged") from None


async def _json(request: Request) -> object:
    """The JSON body, only when sent as JSON: a web page can send any other type without a
    CORS preflight ("simple" requests), so refusing them closes that way in for other sites."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "invalid_input", "send the body as JSON, with Content-Type: application/json")
    body = await request.body()
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "invalid_input", "the body is not valid JSON") from None
    except RecursionError:
        raise ApiError(400, "invalid_input", "the body's JSON is nested too deeply") from None


def _error_response(exc: ApiError) -> JSONResponse:
    headers = {401: {"WWW-Authenticate": "Bearer"}, 429: {"Retry-After": str(RETRY_AFTER)}}.get(exc.status)
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _body_limit(limits: Limits) -> Callable[[str], int]:
    """Voice uploads may carry a recording; speech bodies the longest text JSON can spell
    (6 bytes a character, as \\uXXXX escapes); anything else a small JSON body."""
    speech = limits.max_text_chars * 6 + SMALL_BODY
    upload = limits.max_voice_bytes + SMALL_BODY

    def limit_for(path: str) -> int:
        if path == "/v1/audio/voices":
            return upload
        return speech if path == "/v1/audio/speech" else SMALL_BODY

    return limit_for


class BodyLimit:
    """413 for a body over its route's limit: at once when Content-Length says so, else as
    soon as the bytes received pass it (chunked uploads), before anything is parsed."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        too_large = ApiError(413, "invalid_input", f"the request body is larger than {limit} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _error_response(too_large)(scope, receive, send)
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, limited, send)


class CrossSiteGuard:
    """What a web page on another site could make a browser send to this server: requests
    that change something (POST, DELETE) carrying a foreign `Origin` are refused (403) unless
    CORS_ORIGINS lists that origin; a page on this server itself (same scheme, host and port)
    is served. Without an API key, a `Host` that is not a loopback name is refused too (421):
    a DNS-rebinding page reaches 127.0.0.1 under its own name, and a browser sends that name."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app, self._origins = app, set(settings.cors_origins)
        self._loopback_only = not settings.api_key and not settings.allow_no_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1").lower()
            error = None
            if self._loopback_only and not is_loopback(_host_name(host).strip("[]")):
                error = ApiError(421, "invalid_input", "without API_KEY this server answers only loopback host names")
            elif scope["method"] in ("POST", "DELETE", "PUT", "PATCH") and b"origin" in headers:
                origin = headers[b"origin"].decode("latin-1").rstrip("/")
                if origin.lower() != f"{scope.get('scheme', 'http')}://{host}" and origin not in self._origins:
                    error = ApiError(403, "invalid_input", "cross-site requests are refused; see CORS_ORIGINS")
            if error is not None:
                log.warning("request_refused", status=error.status, path=scope["path"], host=host[:100])
                await _error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """`127.0.0.1:8880` -> `127.0.0.1`, `[::1]:8880` -> `[::1]`."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class BearerAuth:
    """`Authorization: Bearer <API_KEY>` on every route but /health (for load balancers), the
    web page's static files (public; the page asks for the key and sends it itself), CORS
    preflights and `open_paths` read with GET (PUBLIC_LIST_ROUTES: some Open WebUI versions
    send no key when they list models and voices); compared in constant time."""

    def __init__(self, app: ASGIApp, api_key: str, open_paths: frozenset[str] = frozenset()) -> None:
        self.app, self._key, self._open = app, api_key.encode(), open_paths

    def _exempt(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        public = path in ("/health", "/", "/web") or path.startswith("/web/")
        return public or method == "OPTIONS" or (method == "GET" and path in self._open)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._exempt(scope):
            header = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, token = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self._key):
                error = ApiError(401, "invalid_api_key", "a valid API key is required: Authorization: Bearer <API_KEY>")
                await _error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def page_url(host: str, port: int) -> str:
    """Where a browser on this machine opens the web page (a wildcard address is not one to open)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m entrypoints.openai_api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
    server = server_settings(settings)
    check_exposure(args.host, server)
    configure_logging(settings.log_level or "INFO", settings.log_format or "console")
    api = bootstrap(settings)
    try:
        boot(api)
        server = server_settings(settings, api.concurrency.jobs)
        app = create_app(api, server)
        log.info(
            "listening",
            host=args.host,
            port=args.port,
            page=page_url(args.host, args.port),
            auth=bool(server.api_key),
            cors=server.cors_origins,
            max_speech=server.max_speech,
        )
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
            http=deadline_protocol(server.header_timeout, server.body_timeout),
            limit_concurrency=server.max_connections,
        )
        asyncio.run(_serve(uvicorn.Server(config), api, settings.wyoming_uri))
    finally:
        api.shutdown()


async def _serve(http: Any, api: App, wyoming_uri: str | None) -> None:
    """The HTTP server, and with WYOMING_URI the Wyoming server too, in one event loop over
    one container: one model in memory serves both."""
    if wyoming_uri is None:
        await http.serve()
        return
    from entrypoints import wyoming_tts

    wyoming = wyoming_tts.wyoming_server(wyoming_uri)
    await wyoming.start(wyoming_tts.handlers(wyoming_tts.WyomingTts.from_api(api)))
    wyoming_tts.warn_if_exposed(wyoming_uri)
    log.info("wyoming_listening", uri=wyoming_uri)
    try:
        await http.serve()
    finally:
        await wyoming.stop()


if __name__ == "__main__":
    main()
