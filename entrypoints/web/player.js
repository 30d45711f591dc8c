// Gapless playback of samples as they arrive, with the Web Audio API: each piece is scheduled
// to start exactly where the previous one ends (MediaSource would need a container format
// and its endOfStream is fragile across browsers). If the network falls behind, playback
// waits and resumes; `time()` maps the clock back to seconds of the answer either way.

const LEAD = 0.05; // seconds between scheduling a piece and its start

export class StreamPlayer {
  constructor(rate, context = new AudioContext()) {
    this.rate = rate;
    this.ctx = context;
    this.received = 0; // samples received (the caller keeps them, for seeking back)
    this.sources = [];
    this.spans = []; // [{at: context time, from: answer seconds, seconds}]
    this.next = 0; // context time where the next piece starts
    this.queued = 0; // answer seconds scheduled so far
    this.finished = false;
    this.onstart = null;
    this.onended = null;
  }

  get duration() {
    return this.received / this.rate;
  }

  /** Appends samples and schedules them right after what is queued. */
  push(samples) {
    if (!samples.length) return;
    this.received += samples.length;
    this.schedule(samples);
  }

  /** No more samples will come: `onended` fires when the last one has played. */
  finish() {
    this.finished = true;
    this.watchEnd();
  }

  schedule(samples) {
    const buffer = this.ctx.createBuffer(1, samples.length, this.rate);
    buffer.copyToChannel(samples, 0);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.ctx.destination);
    const at = Math.max(this.next, this.ctx.currentTime + LEAD);
    source.start(at);
    this.spans.push({ at, from: this.queued, seconds: buffer.duration });
    this.sources.push(source);
    this.next = at + buffer.duration;
    this.queued += buffer.duration;
    source.onended = () => this.watchEnd();
    if (this.onstart) {
      // once: the first sound of the answer, not of a seek
      const started = this.onstart;
      this.onstart = null;
      started(at - this.ctx.currentTime);
    }
  }

  /** Seconds of the answer being heard now. */
  time() {
    const now = this.ctx.currentTime;
    let time = this.spans.length ? this.spans[0].from : 0;
    for (const span of this.spans) {
      if (now < span.at) break;
      time = span.from + Math.min(now - span.at, span.seconds);
    }
    return time;
  }

  get playing() {
    return this.ctx.state === "running" && this.spans.length > 0 && this.ctx.currentTime < this.next;
  }

  /** Plays from `seconds` of the answer: `all`, every sample pushed so far, and then what
   * arrives next. */
  seek(seconds, all) {
    this.silence();
    const from = Math.max(0, Math.min(this.received, Math.round(seconds * this.rate)));
    this.spans = [];
    this.next = 0;
    this.queued = from / this.rate;
    if (from < this.received) this.schedule(all.subarray(from));
  }

  silence() {
    for (const source of this.sources) {
      source.onended = null;
      try {
        source.stop();
      } catch {
        // a source that never started has nothing to stop
      }
    }
    this.sources = [];
  }

  watchEnd() {
    if (this.finished && this.ctx.currentTime >= this.next - 0.01 && this.onended) {
      const ended = this.onended;
      this.onended = null;
      ended();
    }
  }

  /** Stops playback and releases the audio device. */
  close() {
    this.silence();
    this.onended = null;
    if (this.ctx.state !== "closed") this.ctx.close();
  }
}
