"""The output formats are listed once, in ports/audio_encoder.py: every way in, the encoder and
the store read that list, so a format added there is offered, validated, encoded and stored everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

from ports.audio_encoder import OUTPUT_FORMATS

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("domain", "ports", "adapters", "entrypoints", "application", "container.py", "settings.py")
HOME = ROOT / "ports" / "audio_encoder.py"


def _lists_of_every_format(path: Path) -> list[int]:
    """Lines of collections (tuples, lists, sets, dict keys, Literal[...]) naming every format."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [key for key in node.keys if key is not None]
        else:
            continue
        names = {item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)}
        if set(OUTPUT_FORMATS) <= names:
            found.append(node.lineno)
    return found


def test_the_output_formats_are_listed_only_in_the_encoder_port():
    files = [p for name in PRODUCTION for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))]
    listed = {str(path.relative_to(ROOT)): lines for path in files if (lines := _lists_of_every_format(path))}
    assert list(listed) == ["ports/audio_encoder.py"] and len(listed["ports/audio_encoder.py"]) == 1


def test_the_check_sees_a_literal_list(tmp_path):
    source = tmp_path / "formats.py"
    source.write_text('Format = Literal["wav", "flac", "mp3", "ogg", "opus", "aac", "pcm"]\n')
    assert _lists_of_every_format(source) == [1]
    assert _lists_of_every_format(HOME)  # the one list
