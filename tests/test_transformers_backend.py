"""Pure parts of the transformers backend: what it writes next to converted weights."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_llmeval.backends.transformers_backend import _cut_at_stop, _drop_quantization_config


def test_the_converted_config_loses_its_gguf_quantization_config(tmp_path: Path) -> None:
    # Dequantized weights saved with it are refused by other tools (lm-eval, transformers serve).
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "quantization_config": {"quant_method": "gguf"}}))
    _drop_quantization_config(config)
    assert json.loads(config.read_text()) == {"model_type": "llama"}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no staging file left behind


def test_a_config_without_one_is_left_untouched(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama"}')
    before = config.stat().st_mtime_ns
    _drop_quantization_config(config)
    assert config.read_text() == '{"model_type": "llama"}'
    assert config.stat().st_mtime_ns == before


def test_text_is_cut_at_the_earliest_stop_string() -> None:
    assert _cut_at_stop("a\nQuestion: b\n\nc", ("\n\n", "Question:")) == "a\n"
    assert _cut_at_stop("no stop here", ("###",)) == "no stop here"
    assert _cut_at_stop("text", ()) == "text"
