// Word timings (`speech.words.delta` events): which word is spoken at a time, and captions.
// The caption rules are the worker's own (domain/captions.py): lines of at most 42
// characters and 6 seconds, a new line after a sentence ends or a pause.

const MAX_LINE_CHARS = 42;
const MAX_LINE_SECONDS = 6.0;
const PAUSE_SECONDS = 0.6;
const SENTENCE_END = /[.!?。！？…]$/;
const CJK_START = 0x3000;

/** The index of the word being spoken at `time` (seconds), or -1 before the first word and
 * after the last one ends. In a gap between words the earlier word stays current. */
export function wordAt(words, time) {
  let low = 0;
  let high = words.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (words[mid].start <= time) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  if (found >= 0 && found === words.length - 1 && time >= words[found].end) return -1;
  return found;
}

function joined(words) {
  let out = "";
  for (const word of words) {
    const cjk = out && out.codePointAt(out.length - 1) >= CJK_START && word.codePointAt(0) >= CJK_START;
    if (out && !cjk) out += " ";
    out += word;
  }
  return out.replace(/-{2,}>/g, "->"); // no arrow survives to end a cue's timing line early, as in the worker
}

function vttText(text) {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Words grouped into caption lines: [{start, end, text}]. */
export function cues(words) {
  const out = [];
  let line = [];
  const close = () => out.push({ start: line[0].start, end: line.at(-1).end, text: joined(line.map((w) => w.word)) });
  for (const word of words) {
    if (line.length) {
      const text = joined([...line.map((w) => w.word), word.word]);
      const tooLong = text.length > MAX_LINE_CHARS || word.end - line[0].start > MAX_LINE_SECONDS;
      const paused = word.start - line.at(-1).end >= PAUSE_SECONDS;
      if (tooLong || paused || SENTENCE_END.test(line.at(-1).word)) {
        close();
        line = [];
      }
    }
    line.push(word);
  }
  if (line.length) close();
  return out;
}

function clock(seconds, decimal) {
  let millis = Math.max(0, Math.round(seconds * 1000));
  const hours = Math.floor(millis / 3600000);
  millis -= hours * 3600000;
  const minutes = Math.floor(millis / 60000);
  millis -= minutes * 60000;
  const secs = Math.floor(millis / 1000);
  millis -= secs * 1000;
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(hours)}:${pad(minutes)}:${pad(secs)}${decimal}${pad(millis, 3)}`;
}

/** The caption file's text: "srt" (SubRip) or "vtt" (WebVTT). */
export function captions(words, format) {
  const decimal = format === "srt" ? "," : ".";
  const blocks = cues(words).map((cue, i) => {
    const timing = `${clock(cue.start, decimal)} --> ${clock(Math.max(cue.end, cue.start), decimal)}`;
    return format === "srt" ? `${i + 1}\n${timing}\n${cue.text}\n` : `${timing}\n${vttText(cue.text)}\n`;
  });
  const body = blocks.join("\n");
  return format === "srt" ? body : `WEBVTT\n\n${body}`;
}

/** The share of `text` (0..1) spoken once the words so far are: where the last one ends in it. */
export function textShare(text, words) {
  if (!text.length || !words.length) return 0;
  let at = 0;
  for (const { word } of words) {
    const found = text.indexOf(word, at);
    if (found >= 0) at = found + word.length;
  }
  return Math.min(1, at / text.length);
}
