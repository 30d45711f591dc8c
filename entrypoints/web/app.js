// The page: wires the form, voices, streaming playback, read-along and history to the API.

import { ApiError, call, forgetKey, onKeyNeeded, postJson, storedKey } from "./api.js";
import { openHistory } from "./history.js";
import { StreamPlayer } from "./player.js";
import { curlSnippet, pythonSnippet, speechBody } from "./snippets.js";
import { base64Bytes, downmix, PCM_RATE, PcmAssembler, SseParser, wavBytes } from "./stream.js";
import { captions, textShare, wordAt } from "./words.js";

const $ = (id) => document.getElementById(id);
const SETTINGS = "f5-tts-web.settings";
const SPEECH_PARAMS = { input: "text", voice: "voice", speed: "speed", nfe_step: "steps", seed: "seed" };
const UPLOAD_PARAMS = { name: "voice-name", ref_text: "voice-transcript", audio_sample: "voice-file" };

const state = {
  timestamps: false, // the server has an aligner: ask for word timings
  player: null, // the StreamPlayer while a generation streams or plays
  assembler: null, // the samples that player has been given
  abort: null,
  result: null, // {params, words, wav (Blob)} of what the audio element holds
  words: [],
  current: -1,
  recording: null, // a File recorded from the microphone
  recorder: null,
  history: null,
};

// --- errors next to their control ------------------------------------------------------------

function showError(control, error) {
  const text = error instanceof ApiError ? error.text : `error: ${error.message ?? error}`;
  const box = $(`${control}-error`);
  box.textContent = text;
  box.hidden = false;
  $(control).setAttribute("aria-invalid", "true");
}

function clearErrors(controls) {
  for (const control of controls) {
    $(`${control}-error`).hidden = true;
    $(control).removeAttribute("aria-invalid");
  }
}

function errorControl(error, params, fallback) {
  return (error instanceof ApiError && params[error.param]) || fallback;
}

// --- the key, asked once when the server answers 401 ------------------------------------------

let asking = null;
onKeyNeeded((refused) => {
  asking ??= new Promise((resolve) => {
    const dialog = $("key-dialog");
    $("key-message").textContent = refused
      ? "The server refused that key; enter its API_KEY."
      : "This server needs its API key (API_KEY).";
    $("key-input").value = "";
    dialog.addEventListener(
      "close",
      () => {
        asking = null;
        const key = $("key-input").value.trim();
        resolve(dialog.returnValue === "save" && key ? key : null);
        $("forget-key").hidden = !storedKey() && !key;
      },
      { once: true },
    );
    dialog.showModal();
  });
  return asking;
});

// --- form values and settings ----------------------------------------------------------------

function numberOrNull(id) {
  const value = $(id).value.trim();
  return value === "" ? null : Number(value);
}

function formParams() {
  return {
    text: $("text").value,
    voice: $("voice").value || "default",
    speed: numberOrNull("speed") ?? 1,
    nfe_step: numberOrNull("steps"),
    seed: numberOrNull("seed"),
    format: $("format").value,
  };
}

function fillForm(params) {
  $("text").value = params.text;
  ensureVoiceOption(params.voice);
  $("voice").value = params.voice;
  $("speed").value = params.speed;
  $("steps").value = params.nfe_step ?? "";
  $("seed").value = params.seed ?? "";
  $("format").value = params.format;
  showCall();
}

function saveSettings() {
  const { voice, speed, nfe_step, format } = formParams();
  localStorage.setItem(SETTINGS, JSON.stringify({ voice, speed, nfe_step, format }));
}

function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS) ?? "{}");
    if (saved.speed) $("speed").value = saved.speed;
    if (saved.nfe_step) $("steps").value = saved.nfe_step;
    if (saved.format) $("format").value = saved.format;
    return saved;
  } catch {
    return {};
  }
}

function showCall() {
  const params = formParams();
  $("call-curl").textContent = curlSnippet(params, location.origin, Boolean(storedKey()));
  $("call-python").textContent = pythonSnippet(params, location.origin, Boolean(storedKey()));
}

// --- voices ----------------------------------------------------------------------------------

function ensureVoiceOption(name) {
  for (const select of [$("voice"), $("tag-voice")]) {
    if (![...select.options].some((option) => option.value === name)) select.add(new Option(name, name));
  }
}

/** Lists the voices, in the list and both selects; `preferred` is selected when it exists. */
async function loadVoices(preferred) {
  $("voice-list-error").hidden = true;
  let voices;
  try {
    voices = (await (await call("/v1/audio/voices")).json()).data;
  } catch (error) {
    $("voice-list-error").textContent = error.text ?? String(error);
    $("voice-list-error").hidden = false;
    return;
  }
  const chosen = preferred ?? $("voice").value;
  const list = $("voice-list");
  list.replaceChildren();
  for (const select of [$("voice"), $("tag-voice")]) select.replaceChildren();
  for (const voice of voices) {
    ensureVoiceOption(voice.id);
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = voice.id;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = ` ${voice.duration.toFixed(1)} s: “${voice.ref_text}” `;
    const play = button(`Play ${voice.id}`, "Play", () => playVoice(voice.id));
    item.append(name, meta, play);
    if (voice.created_at) item.append(" ", button(`Delete ${voice.id}`, "Delete", () => deleteVoice(voice.id)));
    list.append(item);
  }
  if (chosen && voices.some((voice) => voice.id === chosen)) $("voice").value = chosen;
  showCall();
}

function button(label, text, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", action);
  return element;
}

async function playVoice(name) {
  try {
    // <audio src> cannot send the key: fetch with it, play a blob URL.
    const blob = await (await call(`/v1/audio/voices/${encodeURIComponent(name)}/audio`)).blob();
    const audio = $("voice-audio");
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(blob);
    audio.dataset.voice = name;
    await audio.play();
  } catch (error) {
    $("voice-list-error").textContent = error.text ?? String(error);
    $("voice-list-error").hidden = false;
  }
}

async function deleteVoice(name) {
  if (!confirm(`Delete the voice “${name}”? This cannot be undone.`)) return;
  try {
    await call(`/v1/audio/voices/${encodeURIComponent(name)}`, { method: "DELETE" });
  } catch (error) {
    $("voice-list-error").textContent = error.text ?? String(error);
    $("voice-list-error").hidden = false;
    return;
  }
  await loadVoices();
}

async function addVoice(event) {
  event.preventDefault();
  clearErrors(["voice-name", "voice-file", "voice-transcript", "add-voice"]);
  const file = $("voice-file").files[0] ?? state.recording;
  if (!file) {
    showError("voice-file", new ApiError(0, "invalid_input", "choose a recording file or record one"));
    return;
  }
  const form = new FormData();
  form.append("audio_sample", file, file.name || "voice.wav");
  form.append("name", $("voice-name").value.trim());
  if ($("voice-transcript").value.trim()) form.append("ref_text", $("voice-transcript").value.trim());
  $("add-voice").disabled = true;
  try {
    const voice = await (await call("/v1/audio/voices", { method: "POST", body: form })).json();
    $("record-status").textContent = voice.transcribed
      ? `Added ${voice.id}; the worker heard: “${voice.ref_text}”`
      : `Added ${voice.id}`;
    $("voice-form").reset();
    state.recording = null;
    $("recording").hidden = true;
    await loadVoices(voice.id);
  } catch (error) {
    showError(errorControl(error, UPLOAD_PARAMS, "add-voice"), error);
  } finally {
    $("add-voice").disabled = false;
  }
}

// --- the microphone: record, play back, keep as a WAV for the upload --------------------------

async function startRecording() {
  clearErrors(["voice-file"]);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    showError("voice-file", new ApiError(0, "microphone", `the microphone is not available (${error.message})`));
    return;
  }
  const chunks = [];
  const recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.onstop = async () => {
    for (const track of stream.getTracks()) track.stop();
    // The browser records webm or ogg; the worker reads wav, flac, ogg and mp3: send a WAV, at
    // the engine's 24 kHz (decoding resamples to the context's rate), half a 48 kHz one's size.
    const context = new OfflineAudioContext(1, 1, PCM_RATE);
    try {
      const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
      const channels = Array.from({ length: decoded.numberOfChannels }, (_, i) => decoded.getChannelData(i));
      const wav = wavBytes(downmix(channels), decoded.sampleRate);
      state.recording = new File([wav], "recording.wav", { type: "audio/wav" });
      $("voice-file").value = "";
      const preview = $("recording");
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.src = URL.createObjectURL(state.recording);
      preview.hidden = false;
      $("record-status").textContent = `Recorded ${decoded.duration.toFixed(1)} s`;
    } catch (error) {
      showError("voice-file", new ApiError(0, "invalid_audio", `the recording could not be read (${error.message})`));
    }
  };
  recorder.start();
  state.recorder = recorder;
  $("record").disabled = true;
  $("stop-record").disabled = false;
  $("record-status").textContent = "Recording…";
  $("stop-record").focus();
}

function stopRecording() {
  state.recorder?.stop();
  state.recorder = null;
  $("record").disabled = false;
  $("stop-record").disabled = true;
}

// --- generating, streaming playback, read-along -----------------------------------------------

/** The generation's stage (waiting, streaming, complete, cancelled, failed) and its words. */
function setStage(stage, message) {
  $("listen").dataset.state = stage;
  $("speech-status").textContent = message;
}

/** The share of the text spoken (null: not known yet), and in words what the server said. */
function setProgress(share, detail = "") {
  if (share === null) $("progress").removeAttribute("value");
  else $("progress").value = share;
  $("progress-detail").textContent = detail;
}

function renderWords(words, from = 0) {
  const box = $("readalong");
  if (!from) box.replaceChildren();
  words.slice(from).forEach((word, offset) => {
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = word.word;
    span.dataset.index = from + offset;
    span.dataset.start = word.start;
    span.tabIndex = 0;
    span.setAttribute("role", "button");
    box.append(span, " ");
  });
  state.current = -1;
}

function stopPlayback() {
  state.player?.close();
  state.player = null;
  $("audio").pause();
}

function randomSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0] % 2 ** 31;
}

async function generate(params) {
  state.abort?.abort();
  stopPlayback();
  clearErrors([...Object.values(SPEECH_PARAMS), "format", "generate", "download-audio"]);
  const run = { ...params, seed: params.seed ?? randomSeed() }; // a fixed seed: downloads and re-runs match
  const body = { ...speechBody({ ...run, format: "pcm" }), stream_format: "sse" };
  if (state.timestamps) body.timestamps = true;
  const abort = new AbortController();
  state.abort = abort;
  $("generate").disabled = true;
  $("cancel").disabled = false;
  for (const id of ["download-audio", "download-srt", "download-vtt"]) $(id).disabled = true;
  setStage("waiting", "Generating…");
  setProgress(null);
  state.words = [];
  renderWords([]);
  const assembler = new PcmAssembler();
  const player = new StreamPlayer(PCM_RATE);
  state.player = player;
  state.assembler = assembler;
  const clicked = performance.now();
  player.onstart = (lead) => {
    const seconds = ((performance.now() - clicked) / 1000 + lead).toFixed(2);
    $("listen").dataset.firstSound = seconds;
    setStage("streaming", `Playing; first sound after ${seconds} s`);
  };
  let progressEvents = false;
  try {
    await player.ctx.resume();
    const response = await postJson("/v1/audio/speech", body, { signal: abort.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const sse = new SseParser();
    let finished = false;
    while (!finished) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const event of sse.push(value)) {
        if (event.type === "speech.audio.delta") {
          player.push(assembler.push(base64Bytes(event.audio)));
        } else if (event.type === "speech.words.delta") {
          const from = state.words.length;
          state.words.push(...event.words);
          renderWords(state.words, from);
          if (!progressEvents) setProgress(textShare(run.text, state.words));
        } else if (event.type === "speech.progress") {
          progressEvents = true;
          const seconds = event.audio_seconds.toFixed(1);
          setProgress(event.text_share, `${event.chunks_done} of ${event.chunks_total} chunks, ${seconds} s of audio`);
        } else if (event.type === "speech.audio.done") {
          finished = true;
        } else if (event.type === "error") {
          throw new ApiError(500, event.error.code, event.error.message, event.error.param);
        }
      }
    }
    if (!finished) throw new ApiError(0, "network_error", "the stream ended before the speech was done");
  } catch (error) {
    if (state.player === player) stopPlayback();
    if (error.name === "AbortError") {
      setStage("cancelled", "Cancelled");
    } else {
      setStage("failed", "");
      showError(errorControl(error, SPEECH_PARAMS, "generate"), error);
    }
    setProgress(0);
    return;
  } finally {
    if (state.abort === abort) state.abort = null;
    $("generate").disabled = false;
    $("cancel").disabled = true;
  }
  setProgress(1, "done");
  const samples = assembler.samples();
  const wav = new Blob([wavBytes(samples, PCM_RATE)], { type: "audio/wav" });
  showResult({ params: run, words: state.words, wav, duration: samples.length / PCM_RATE }, false);
  setStage("complete", `Done: ${(samples.length / PCM_RATE).toFixed(2)} s of audio, seed ${run.seed}`);
  if (state.player === player) {
    player.onended = () => {
      // the audio element, which holds the whole file, takes over (replay, seek)
      if (state.player !== player) return;
      player.close();
      state.player = null;
    };
    player.finish();
  }
  await remember(run, state.words, wav, samples.length / PCM_RATE);
}

/** Puts a finished generation in the audio element, read-along and download buttons. */
function showResult(result, play) {
  state.result = result;
  state.words = result.words;
  if (play) {
    stopPlayback();
    renderWords(result.words);
  }
  const audio = $("audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(result.wav);
  $("download-audio").disabled = false;
  $("download-audio").textContent = `Download ${result.params.format}`;
  $("download-srt").disabled = $("download-vtt").disabled = !result.words.length;
  if (play) {
    setStage("complete", `Playing from history: ${result.duration.toFixed(2)} s, seed ${result.params.seed}`);
    audio.play();
  }
}

function currentTime() {
  if (state.player) return state.player.time();
  return $("audio").src ? $("audio").currentTime : null;
}

function seek(seconds) {
  if (state.player) {
    state.player.seek(seconds, state.assembler.samples());
  } else if ($("audio").src) {
    $("audio").currentTime = seconds;
    $("audio").play();
  }
}

function tick() {
  const playing = Boolean(state.player?.playing) || !$("audio").paused;
  $("listen").dataset.playing = String(playing);
  const time = currentTime();
  if (time === null) return;
  $("readalong").dataset.time = time.toFixed(3);
  const index = wordAt(state.words, time);
  if (index === state.current) return;
  const box = $("readalong");
  box.querySelector(".current")?.classList.remove("current");
  box.querySelector("[aria-current]")?.removeAttribute("aria-current");
  const span = box.querySelector(`[data-index="${index}"]`);
  if (span) {
    span.classList.add("current");
    span.setAttribute("aria-current", "true");
  }
  state.current = index;
}

// --- downloads -------------------------------------------------------------------------------

function save(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function downloadAudio() {
  const { params, wav } = state.result;
  clearErrors(["download-audio"]);
  if (params.format === "wav") return save(wav, "speech.wav");
  if (params.format === "pcm") return save(wav.slice(44), "speech.pcm"); // the WAV's samples, headerless
  try {
    // Other formats are encoded by the server: the same request, seed included, streamed as the
    // page's was (`stream: false` cuts the text differently), so the file holds what was heard.
    const response = await postJson("/v1/audio/speech", speechBody(params));
    save(await response.blob(), `speech.${params.format}`);
  } catch (error) {
    showError("download-audio", error);
  }
}

function downloadCaptions(format) {
  const type = format === "srt" ? "application/x-subrip" : "text/vtt";
  save(new Blob([captions(state.result.words, format)], { type }), `speech.${format}`);
}

// --- history ---------------------------------------------------------------------------------

async function remember(params, words, wav, duration) {
  if (!state.history) return;
  try {
    await state.history.add({ params, words, wav, duration });
  } catch (error) {
    $("speech-status").textContent += ` (not kept in history: ${error.message})`;
  }
  await renderHistory();
}

async function renderHistory() {
  const list = $("history-list");
  list.replaceChildren();
  for (const entry of await state.history.list()) {
    const item = document.createElement("li");
    const { params } = entry;
    const text = document.createElement("span");
    text.className = "history-text";
    text.textContent = params.text.length > 120 ? `${params.text.slice(0, 120)}…` : params.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    const when = new Date(entry.createdAt).toLocaleString();
    meta.textContent = ` ${params.voice}, ${entry.duration.toFixed(1)} s, seed ${params.seed}, ${when} `;
    item.append(
      text,
      meta,
      button(`Play generation ${entry.id}`, "Play", () => showResult(entry, true)),
      " ",
      button(`Download generation ${entry.id}`, "Download", () => save(entry.wav, `speech-${entry.id}.wav`)),
      " ",
      button(`Re-run generation ${entry.id}`, "Re-run", () => {
        fillForm(params);
        generate(params);
      }),
      " ",
      button(`Delete generation ${entry.id}`, "Delete", async () => {
        await state.history.remove(entry.id);
        await renderHistory();
      }),
    );
    list.append(item);
  }
}

// --- start -----------------------------------------------------------------------------------

function insertAtCursor(tag) {
  const box = $("text");
  const { selectionStart: start, selectionEnd: end, value } = box;
  box.value = `${value.slice(0, start)}${tag}${value.slice(end)}`;
  box.selectionStart = box.selectionEnd = start + tag.length;
  box.focus();
  showCall();
}

async function checkHealth() {
  try {
    const health = await (await fetch("/health")).json();
    state.timestamps = Boolean(health.aligner?.available);
    const engine = health.engine ? `${health.engine.model} on ${health.engine.device}` : "ready";
    $("server-status").textContent = `${health.healthy ? "Healthy" : "Degraded"}: ${engine}`;
  } catch (error) {
    $("server-status").textContent = `The server is not answering (${error.message})`;
  }
}

async function start() {
  const saved = loadSettings();
  $("speak-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveSettings();
    generate(formParams());
  });
  $("cancel").addEventListener("click", () => state.abort?.abort());
  $("speak-form").addEventListener("input", showCall);
  $("speak-form").addEventListener("change", () => {
    saveSettings();
    showCall();
  });
  $("insert-pause").addEventListener("click", () => insertAtCursor("[pause:1s]"));
  $("insert-voice").addEventListener("click", () => insertAtCursor(`[voice:${$("tag-voice").value || "default"}]`));
  $("voice-form").addEventListener("submit", addVoice);
  $("voice-file").addEventListener("change", () => {
    state.recording = null;
    $("recording").hidden = true;
  });
  $("record").addEventListener("click", startRecording);
  $("stop-record").addEventListener("click", stopRecording);
  $("download-audio").addEventListener("click", downloadAudio);
  $("download-srt").addEventListener("click", () => downloadCaptions("srt"));
  $("download-vtt").addEventListener("click", () => downloadCaptions("vtt"));
  $("readalong").addEventListener("click", (event) => {
    if (event.target.dataset.start !== undefined) seek(Number(event.target.dataset.start));
  });
  $("readalong").addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.dataset.start !== undefined) {
      event.preventDefault();
      seek(Number(event.target.dataset.start));
    }
  });
  for (const copy of document.querySelectorAll(".copy")) {
    copy.addEventListener("click", async () => {
      const text = $(copy.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = "Copied";
      } catch {
        getSelection().selectAllChildren($(copy.dataset.copy)); // select it for Ctrl+C instead
      }
    });
  }
  $("forget-key").hidden = !storedKey();
  $("forget-key").addEventListener("click", () => {
    forgetKey();
    $("forget-key").hidden = true;
    showCall();
  });
  setInterval(tick, 50);
  showCall();
  await checkHealth();
  await loadVoices(saved.voice);
  try {
    state.history = await openHistory();
    await renderHistory();
  } catch (error) {
    $("history-list").textContent = `History is not available in this browser (${error.message})`;
  }
  document.body.dataset.ready = "true";
}

start();
