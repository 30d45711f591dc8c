"""The README's table of benchmark commands is how a maintainer finds and runs a benchmark: it
names every benchmark in `benchmarks/`, and each command line it shows parses with that
benchmark's own parser (a renamed or removed flag fails here, not on a lent GPU)."""

from __future__ import annotations

import argparse
import ast
import importlib
import re
import shlex
import sys

import pytest

from harness.processes import ROOT

README = (ROOT / "README.md").read_text()
TABLE = README.split("### Benchmark commands", 1)[1].split("\n### ", 1)[0]
COMMANDS = [cell.replace("\\|", "|") for cell in re.findall(r"^\| `(python -m benchmarks\.[^`]+)` \|", TABLE, re.M)]
#: run by another benchmark, not by hand: the baseline worker (serve, engine) and the paced worker (serve --paced)
STARTED_BY_OTHERS = {"upstream_worker", "paced_worker"}


class Parsed(Exception):
    """Raised in place of returning from parse_args, so the benchmark does no work."""


def words(command: str) -> list[str]:
    """The command with its optional parts given: brackets dropped, the first of `a|b` taken."""
    return [word.split("|")[0] for word in shlex.split(command.replace("[", " ").replace("]", " "))]


def test_the_table_names_every_benchmark() -> None:
    named = {words(command)[2].removeprefix("benchmarks.") for command in COMMANDS}  # a module may have several rows
    modules = {path.stem for path in (ROOT / "benchmarks").glob("*.py") if "def main(" in path.read_text()}
    assert named == modules - STARTED_BY_OTHERS
    assert "bash benchmarks/gpu_suite.sh" in TABLE


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_parses_with_its_benchmarks_parser(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = words(command)[2:]
    parse = argparse.ArgumentParser.parse_args

    def stop(self: argparse.ArgumentParser, args: list[str] | None = None, namespace: object = None) -> None:
        raise Parsed(parse(self, args, namespace))  # an unknown flag or bad value exits with 2 first

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", stop)
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(Parsed) as parsed:
        importlib.import_module(argv[0]).main()
    given = {word.lstrip("-").replace("-", "_") for word in argv[1:] if word.startswith("--")}
    assert given <= vars(parsed.value.args[0]).keys()


def test_the_benchmarks_and_the_harness_import_nothing_from_the_tests() -> None:
    """They share the harness instead: a benchmark runs on a machine without the tests (the GPU suite's)."""
    for path in [*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "harness").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not [name for name in names if name.split(".")[0] == "tests"], path
