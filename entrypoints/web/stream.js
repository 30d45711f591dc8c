// The speech stream's pieces, kept free of the DOM so Node can test them: Server-Sent Events
// split out of a byte stream, 16-bit PCM assembled from base64 deltas of any length, and a
// WAV file written from the samples that were played.

export const PCM_RATE = 24000; // the API's `pcm`: 16-bit little-endian mono at 24 kHz

/** Splits a text stream into SSE `data:` payloads, whatever the network's boundaries. */
export class SseParser {
  constructor() {
    this.buffer = "";
  }

  /** Feeds text; returns the events completed by it, each parsed from JSON. */
  push(text) {
    this.buffer += text.replace(/\r\n?/g, "\n");
    const events = [];
    let end;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
        .join("\n");
      if (data) events.push(JSON.parse(data));
    }
    return events;
  }
}

export function base64Bytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** 16-bit little-endian samples from byte pieces that may split a sample in two. */
export class PcmAssembler {
  constructor() {
    this.carry = null; // the odd byte a piece ended with
    this.pieces = [];
    this.length = 0;
  }

  /** Adds bytes; returns the whole samples they complete, as floats in [-1, 1). */
  push(bytes) {
    let data = bytes;
    if (this.carry !== null) {
      data = new Uint8Array(bytes.length + 1);
      data[0] = this.carry;
      data.set(bytes, 1);
      this.carry = null;
    }
    const whole = data.length - (data.length % 2);
    if (whole < data.length) this.carry = data[data.length - 1];
    const view = new DataView(data.buffer, data.byteOffset, whole);
    const samples = new Float32Array(whole / 2);
    for (let i = 0; i < samples.length; i += 1) samples[i] = view.getInt16(i * 2, true) / 32768;
    if (samples.length) {
      this.pieces.push(samples);
      this.length += samples.length;
    }
    return samples;
  }

  /** Every sample so far, in one array. */
  samples() {
    const out = new Float32Array(this.length);
    let at = 0;
    for (const piece of this.pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }
}

/** A mono 16-bit PCM WAV file of `samples` at `rate`. */
export function wavBytes(samples, rate) {
  const out = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(out);
  const text = (at, value) => [...value].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i += 1) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? Math.round(s * 32768) : Math.round(s * 32767), true);
  }
  return new Uint8Array(out);
}

/** Mixes a decoded recording's channels down to one. */
export function downmix(channels) {
  if (channels.length === 1) return channels[0];
  const out = new Float32Array(channels[0].length);
  for (const channel of channels) for (let i = 0; i < out.length; i += 1) out[i] += channel[i] / channels.length;
  return out;
}
