"""benchmarks/gpu_suite.sh runs on a GPU lent for minutes, sessions apart: a stage whose
command no longer matches its benchmark would spend that time on an argparse error. Each
stage's command line is parsed here by the benchmark's own parser, and the test stage's files
must hold CUDA tests."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import sys

import pytest

from tests.e2e.worker import ROOT

SUITE = (ROOT / "benchmarks" / "gpu_suite.sh").read_text()
#: stage -> its command's words, from the `stage()` case arms (`name) run name cap command ;;`)
COMMANDS = {
    match[1]: shlex.split(match[3])
    for match in re.finditer(r"^\s*(\w+)\) run \1 (\d+) (.+?) ;;", SUITE.replace("\\\n", " "), re.M)
}
DEFAULT_STAGES = re.search(r'stages="\$\{1:-([\w,]+)\}"', SUITE)[1].split(",")  # type: ignore[index]


class Parsed(Exception):
    """Raised in place of returning from parse_args, so the benchmark does no work."""


def test_every_default_stage_has_a_command_and_is_documented() -> None:
    assert DEFAULT_STAGES and sorted(DEFAULT_STAGES) == sorted(COMMANDS)
    for stage in DEFAULT_STAGES:
        assert re.search(rf"^#   {stage}\s", SUITE, re.M), f"{stage} is missing from the header's stage list"


@pytest.mark.parametrize("stage", sorted(s for s, words in COMMANDS.items() if words[2] != "pytest"))
def test_the_stage_command_parses_with_its_benchmark(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    words = COMMANDS[stage]
    assert words[:2] == ["python3", "-m"] and words[2].startswith("benchmarks.")
    parse = argparse.ArgumentParser.parse_args

    def stop(self: argparse.ArgumentParser, args: list[str] | None = None, namespace: object = None) -> None:
        raise Parsed(parse(self, args, namespace))  # an unknown flag or bad value exits with 2 first

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", stop)
    monkeypatch.setattr(sys, "argv", [words[2], *words[3:]])
    with pytest.raises(Parsed) as parsed:
        importlib.import_module(words[2]).main()
    given = {word.lstrip("-").replace("-", "_") for word in words[3:] if word.startswith("--")}
    assert given <= vars(parsed.value.args[0]).keys()


def test_the_test_stage_selects_cuda_tests_in_files_that_exist() -> None:
    words = COMMANDS["tests"]
    assert words[:3] == ["python3", "-m", "pytest"] and words[words.index("-k") + 1] == "cuda"
    files = [word for word in words if word.endswith(".py")]
    assert files
    for name in files:
        assert re.search(r"^def test_\w*cuda\w*\(", (ROOT / name).read_text(), re.M), f"{name} has no CUDA test"
