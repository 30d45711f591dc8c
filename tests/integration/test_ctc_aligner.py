"""The CTC aligner on the project's tiny randomly initialised weights (scripts/make_tiny_aligner.py),
through the same loading code as the published MMS_FA file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapters.ctc_aligner import MMS_FA_CONFIG, STAR, CtcAligner, romanise
from tests.contracts.aligner import AlignerContract, item


@pytest.fixture(scope="module")
def tiny_dir(tiny_aligner: Path) -> Path:
    return tiny_aligner


class TestCtcAlignerContract(AlignerContract):
    @pytest.fixture
    def aligner(self, tiny_dir):
        return CtcAligner(tiny_dir, device="cpu")

    @pytest.fixture
    def missing(self, tmp_path):
        return CtcAligner(tmp_path / "not-baked", device="cpu")


def test_the_built_in_architecture_and_labels_are_torchaudios_mms_fa() -> None:
    """The real weights carry no config: ours must be MMS_FA's (the file keeps fairseq's 31 rows)."""
    from torchaudio.pipelines import MMS_FA

    assert tuple(MMS_FA_CONFIG["labels"]) == MMS_FA.get_labels(star=None)[1:]
    assert MMS_FA_CONFIG["sample_rate"] == MMS_FA.sample_rate
    params = dict(MMS_FA_CONFIG["model"], aux_num_out=28)
    params["extractor_conv_layer_config"] = [tuple(x) for x in params["extractor_conv_layer_config"]]
    assert params == MMS_FA._params
    assert tuple(MMS_FA_CONFIG["remove_aux_rows"]) == MMS_FA._remove_aux_axis


def test_the_tiny_file_is_the_release_format(tiny_dir) -> None:
    state = torch.load(tiny_dir / "model.pt", weights_only=True)
    assert state["aux.weight"].shape[0] == 31  # blank + 27 letters + fairseq's 3 unused rows
    assert (tiny_dir / "config.json").is_file()


def test_loaded_lazily_on_the_first_alignment(tiny_dir) -> None:
    aligner = CtcAligner(tiny_dir, device="cpu")
    assert aligner.available and "not loaded" in aligner.detail
    aligner.align([item(1.0, ("hi",))])
    assert "(loaded)" in aligner.detail


def test_romanisation_pinyin_accents_and_unknown_scripts() -> None:
    alphabet = set(MMS_FA_CONFIG["labels"])
    assert romanise("你好", alphabet) == "nihao"
    assert romanise("Café,", alphabet) == "cafe"
    assert romanise("don’t", alphabet) == "don't"
    assert romanise("$4.50", alphabet) == ""  # aligned as the star token
    assert STAR not in alphabet


def test_unloadable_weights_are_an_engine_error(tmp_path) -> None:
    from domain.errors import EngineError

    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="cannot be loaded"):
        CtcAligner(tmp_path, device="cpu").align([item(1.0, ("hi",))])
