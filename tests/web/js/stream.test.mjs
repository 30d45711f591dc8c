// The stream's pieces: SSE split anywhere, PCM split mid-sample, the WAV written from it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64Bytes, downmix, PcmAssembler, SseParser, wavBytes } from "../../../entrypoints/web/stream.js";

const EVENTS = [
  { type: "speech.audio.delta", audio: "AAEC" },
  { type: "speech.words.delta", words: [{ word: "Hi.", start: 0, end: 0.4 }] },
  { type: "speech.audio.done", usage: { input_tokens: 3 } },
];
const BODY = EVENTS.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("");

test("SSE events come out whole wherever the network splits the text", () => {
  for (let size = 1; size <= BODY.length; size += 7) {
    const parser = new SseParser();
    const events = [];
    for (let at = 0; at < BODY.length; at += size) events.push(...parser.push(BODY.slice(at, at + size)));
    assert.deepEqual(events, EVENTS, `pieces of ${size}`);
  }
});

test("SSE with CRLF line ends and comment lines", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(': keep-alive\r\n\r\ndata: {"type":"x"}\r\n\r\n'), [{ type: "x" }]);
});

test("PCM pieces that split a sample in two give the same samples as one piece", () => {
  const bytes = new Uint8Array([0x00, 0x80, 0xff, 0x7f, 0x01, 0x00, 0xff, 0xff, 0x00, 0x40]);
  const whole = new PcmAssembler();
  whole.push(bytes);
  assert.deepEqual([...whole.samples()], [-1, 32767 / 32768, 1 / 32768, -1 / 32768, 0.5]);
  for (const cuts of [[1], [3, 4], [1, 2, 3, 5, 7, 9]]) {
    const split = new PcmAssembler();
    let from = 0;
    const returned = [];
    for (const cut of [...cuts, bytes.length]) {
      returned.push(...split.push(bytes.slice(from, cut)));
      from = cut;
    }
    assert.deepEqual([...split.samples()], [...whole.samples()], `cut at ${cuts}`);
    assert.deepEqual(returned, [...whole.samples()], "each push answers the samples it completed");
  }
});

test("base64 decodes to the bytes", () => {
  assert.deepEqual([...base64Bytes("AAEC/w==")], [0, 1, 2, 255]);
});

test("a WAV of the samples: header sizes and 16-bit values", () => {
  const samples = new Float32Array([0, 0.5, -0.5, 1, -1, 2]);
  const wav = wavBytes(samples, 24000);
  const view = new DataView(wav.buffer);
  const text = (at) => String.fromCharCode(...wav.slice(at, at + 4));
  assert.equal(text(0), "RIFF");
  assert.equal(text(8), "WAVE");
  assert.equal(view.getUint32(4, true), wav.length - 8);
  assert.equal(view.getUint16(22, true), 1);
  assert.equal(view.getUint32(24, true), 24000);
  assert.equal(view.getUint32(40, true), samples.length * 2);
  const values = Array.from({ length: samples.length }, (_, i) => view.getInt16(44 + i * 2, true));
  assert.deepEqual(values, [0, 16384, -16384, 32767, -32768, 32767]);
});

test("a stereo recording is mixed down to its mean", () => {
  assert.deepEqual([...downmix([new Float32Array([1, 0]), new Float32Array([0, -1])])], [0.5, -0.5]);
  const mono = new Float32Array([0.25]);
  assert.equal(downmix([mono]), mono);
});
