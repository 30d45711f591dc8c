"""The page's own JavaScript logic, in Node (Debian's nodejs, no npm): stream assembly, word
lookup, the call snippets (tests/web/js/*.test.mjs), and captions that match the worker's."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess

import pytest

from domain.captions import render
from domain.word_timing import WordTiming
from tests.helpers import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (apt-get install nodejs)")


def test_the_page_modules_pass_their_node_tests():
    done = subprocess.run([NODE, "--test", "tests/web/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = int(re.search(r"^# pass (\d+)$", done.stdout, re.M).group(1))
    assert passed >= 12 and "# fail 0" in done.stdout


def page_captions(words: list[dict[str, object]], fmt: str) -> str:
    script = (
        "import { captions } from './entrypoints/web/words.js';"
        "let input = ''; process.stdin.on('data', (d) => (input += d));"
        f"process.stdin.on('end', () => process.stdout.write(captions(JSON.parse(input), '{fmt}')));"
    )
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        cwd=ROOT,
        input=json.dumps(words),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_the_pages_captions_are_the_workers(fmt):
    """The page builds captions from the streamed words (the OpenAI API has no `captions`
    field): the same lines, cut by the same rules, as the job API's `captions` answer."""
    rng = random.Random(7)
    vocabulary = ["It", "costs", "$4.50", "today.", "Then", "a", "pause,", "中", "文。", "wait!", "a-->b", "longerword"]
    words, time = [], 0.0
    for _ in range(300):
        time += rng.choice([0.0, 0.05, 0.2, 0.7, 1.5])
        length = rng.uniform(0.05, 1.2)
        words.append(WordTiming(rng.choice(vocabulary), round(time, 3), round(time + length, 3)))
        time += length
    public = [word.public() for word in words]
    assert page_captions(public, fmt) == render(words, fmt)
