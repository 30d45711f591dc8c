// Read-along's word lookup and the share of the text spoken.
import assert from "node:assert/strict";
import { test } from "node:test";

import { textShare, wordAt } from "../../../entrypoints/web/words.js";

const WORDS = [
  { word: "It", start: 0.1, end: 0.3 },
  { word: "costs", start: 0.4, end: 0.8 },
  { word: "$4.50", start: 0.8, end: 2.4 },
  { word: "today.", start: 3.0, end: 3.5 },
];

test("the word spoken at a time, held through the gap after it", () => {
  const cases = [
    [0, -1],
    [0.1, 0],
    [0.35, 0],
    [0.4, 1],
    [0.799, 1],
    [0.8, 2],
    [2.9, 2],
    [3.2, 3],
    [3.5, -1],
    [9, -1],
  ];
  for (const [time, index] of cases) assert.equal(wordAt(WORDS, time), index, `at ${time}`);
  assert.equal(wordAt([], 1), -1);
});

test("the lookup is a search, not a scan: it agrees with a scan over many words", () => {
  const words = Array.from({ length: 1000 }, (_, i) => ({ word: `w${i}`, start: i * 0.5, end: i * 0.5 + 0.3 }));
  for (let time = 0; time < 505; time += 0.37) {
    let expected = -1;
    words.forEach((word, i) => {
      if (word.start <= time) expected = i;
    });
    if (expected === words.length - 1 && time >= words.at(-1).end) expected = -1;
    assert.equal(wordAt(words, time), expected, `at ${time}`);
  }
});

test("the share of the text spoken is where the last word ends in it", () => {
  const text = "It costs $4.50 today.";
  assert.equal(textShare(text, []), 0);
  assert.equal(textShare(text, WORDS.slice(0, 2)), "It costs".length / text.length);
  assert.equal(textShare(text, WORDS), 1);
  assert.equal(textShare("Hi [pause:1s] there", [{ word: "there" }]), 1);
});
