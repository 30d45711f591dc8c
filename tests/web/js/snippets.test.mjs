// "Show the call": the request as curl and Python would send it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { curlSnippet, pythonSnippet, speechBody } from "../../../entrypoints/web/snippets.js";

const PARAMS = { text: "It's \"quoted\"\nand long", voice: "narrator", speed: 1, nfe_step: null, seed: 42, format: "mp3" };

test("the body leaves out what is at its default", () => {
  assert.deepEqual(speechBody(PARAMS), {
    model: "f5-tts",
    input: PARAMS.text,
    voice: "narrator",
    response_format: "mp3",
    seed: 42,
  });
  assert.equal(speechBody({ ...PARAMS, speed: 1.5, nfe_step: 16 }).nfe_step, 16);
});

test("curl quotes the JSON for the shell and names the key only by variable", () => {
  const curl = curlSnippet(PARAMS, "http://127.0.0.1:8880", true);
  assert.match(curl, /-d '\{"model":"f5-tts","input":"It'\\''s \\"quoted\\"\\nand long"/);
  assert.match(curl, /-H "Authorization: Bearer \$API_KEY"/);
  assert.match(curl, /-o speech\.mp3$/);
  assert.doesNotMatch(curlSnippet(PARAMS, "http://x", false), /Authorization/);
});

test("Python passes the worker's fields in extra_body", () => {
  const python = pythonSnippet({ ...PARAMS, speed: 1.5, nfe_step: 16 }, "http://127.0.0.1:8880", false);
  assert.match(python, /base_url="http:\/\/127\.0\.0\.1:8880\/v1"/);
  assert.match(python, /input="It's \\"quoted\\"\\nand long"/);
  assert.match(python, /speed=1\.5/);
  assert.match(python, /extra_body=\{"nfe_step": 16, "seed": 42\}/);
  assert.match(pythonSnippet(PARAMS, "http://x", true), /api_key=os\.environ\["API_KEY"\]/);
});
