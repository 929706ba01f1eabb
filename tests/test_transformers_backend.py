"""The transformers backend: its identity (hence the cache key) from files, model arguments, the
memory check, sampling, finish reasons and torch's threads.

Identity, arguments and the memory arithmetic are checked without torch, on directories of
made-up files; loading, sampling and the plugin runs use a tiny random Llama (tests/tiny_model.py)
that loads in a fraction of a second. The real embedded model is in test_greedy.py and
test_real_model.py.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends.base import BackendError
from pytest_llmeval.backends.transformers import ModelArguments, TransformersBackend, memory, split_target
from pytest_llmeval.backends.transformers import backend as backend_module
from pytest_llmeval.backends.transformers.generation import cut_at_stop, finish_reason
from pytest_llmeval.backends.transformers.loading import drop_quantization_config, quantization_config
from pytest_llmeval.backends.transformers.runtime import QUIET_THREADS, quiet_thread_environment
from pytest_llmeval.backends.transformers.sampling import request_seed
from pytest_llmeval.cache import request_key
from pytest_llmeval.request import Message, Request

REQUEST = Request(messages=(Message("user", "what is two plus three"),), max_tokens=8, item="tiny[q1]")


def fake_model(path: Path) -> Path:
    """A model directory as ``save_pretrained`` leaves it, with made-up contents (never loaded)."""
    path.mkdir(parents=True, exist_ok=True)
    files: dict[str, str | bytes] = {
        "config.json": '{"model_type": "llama", "hidden_size": 8}',
        "generation_config.json": '{"eos_token_id": 2}',
        "model.safetensors": b"\x01" * 4096,
        "tokenizer.json": '{"model": {"vocab": {"a": 0, "b": 1}}}',
        "tokenizer_config.json": '{"eos_token": "</s>"}',
        "chat_template.jinja": "{{ messages[0]['content'] }}",
        "README.md": "# A model\n",
    }
    for name, content in files.items():
        target = path / name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    return path


def key_of(directory: Path, **kwargs: Any) -> str:
    return request_key(TransformersBackend("hf", str(directory), **kwargs).identity(), REQUEST)


def _write(name: str, content: str) -> Callable[[Path], Any]:
    def change(directory: Path) -> None:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)

    return change


# -- identity: every kind of change that can change an answer asks again --------------------------

CHANGES = {
    "chat_template.jinja edited": _write("chat_template.jinja", "{{ messages[-1]['content'] }}!"),
    "template in tokenizer_config.json": _write("tokenizer_config.json", '{"eos_token": "</s>", "chat_template": "{{ x }}"}'),
    "chat_template.json": _write("chat_template.json", '{"chat_template": "{{ y }}"}'),
    "additional chat template": _write("additional_chat_templates/tool_use.jinja", "{{ tools }}"),
    "generation_config.json eos ids": _write("generation_config.json", '{"eos_token_id": [2, 7]}'),
    "special_tokens_map.json": _write("special_tokens_map.json", '{"eos_token": "<|end|>"}'),
    "added_tokens.json": _write("added_tokens.json", '{"<|end|>": 2}'),
    "tokenizer.model": _write("tokenizer.model", "sentencepiece bytes"),
    "tokenizer.json": _write("tokenizer.json", '{"model": {"vocab": {"a": 1, "b": 0}}}'),
    "vocab.json and merges.txt": _write("merges.txt", "a b\n"),
    "config.json": _write("config.json", '{"model_type": "llama", "hidden_size": 8, "rope_theta": 5}'),
    "weights": lambda d: (d / "model.safetensors").write_bytes(b"\x02" * 4096),
    "a weight shard added": lambda d: (d / "model-00002-of-00002.safetensors").write_bytes(b"\x03" * 64),
    "the repository's own code": _write("modeling_custom.py", "class Custom: pass\n"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_that_can_change_an_answer_changes_the_key(tmp_path: Path, change: Callable[[Path], Any]) -> None:
    model = fake_model(tmp_path / "m")
    before = key_of(model)
    assert key_of(model) == before, "the key is stable while nothing changes"
    change(model)
    assert key_of(model) != before


UNREAD = {
    "README edited": _write("README.md", "# Another description\n"),
    "licence": _write("LICENSE", "Apache-2.0"),
    "git metadata": _write(".gitattributes", "*.safetensors filter=lfs"),
    "a picture": lambda d: (d / "chart.png").write_bytes(b"\x89PNG"),
    "another format's folder": _write("original/params.json", "{}"),
    "the backend's conversion note": _write("pytest-llmeval.json", '{"converted_from": "/elsewhere/x.gguf"}'),
}


@pytest.mark.parametrize("change", UNREAD.values(), ids=UNREAD.keys())
def test_files_no_loader_reads_leave_the_key_alone(tmp_path: Path, change: Callable[[Path], Any]) -> None:
    model = fake_model(tmp_path / "m")
    before = key_of(model)
    change(model)
    assert key_of(model) == before


@pytest.mark.parametrize("library", ["transformers", "torch", "tokenizers"])
def test_another_version_of_a_decoding_library_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  library: str) -> None:
    model = fake_model(tmp_path / "m")
    before = key_of(model)
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9+cpu" if name == library else real(name))
    assert key_of(model) != before


ANSWER_CHANGING = [{"dtype": "bfloat16"}, {"dtype": "float16"}, {"quantization": "8bit"}, {"quantization": "4bit"},
                   {"trust_remote_code": True}, {"revision": "v2.0"}]
PLACEMENT_ONLY = [{"batch_size": 4}, {"device_map": "cpu"}, {"max_memory": {"cpu": "20GiB"}}, {"dtype": "float32"}, {"dtype": "auto"}]


@pytest.mark.parametrize("arguments", ANSWER_CHANGING, ids=json.dumps)
def test_model_arguments_that_change_answers_change_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            arguments: dict[str, Any]) -> None:
    monkeypatch.setattr(backend_module, "accelerator", lambda: "cpu")
    model = fake_model(tmp_path / "m")
    assert key_of(model, arguments=ModelArguments.model_validate(arguments)) != key_of(model)


@pytest.mark.parametrize("arguments", PLACEMENT_ONLY, ids=json.dumps)
def test_placement_and_batching_leave_the_key_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    arguments: dict[str, Any]) -> None:
    monkeypatch.setattr(backend_module, "accelerator", lambda: "cpu")  # float32 is the CPU's default dtype
    model = fake_model(tmp_path / "m")
    assert key_of(model, arguments=ModelArguments.model_validate(arguments)) == key_of(model)


def test_a_gpu_means_bfloat16_spread_over_the_gpus_and_another_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = fake_model(tmp_path / "m")
    monkeypatch.setattr(backend_module, "accelerator", lambda: "cpu")
    on_cpu = TransformersBackend("hf", str(model))
    assert (on_cpu.placement().dtype, on_cpu.placement().device_map) == ("float32", None)
    cpu_key = request_key(on_cpu.identity(), REQUEST)
    monkeypatch.setattr(backend_module, "accelerator", lambda: "cuda")
    on_gpu = TransformersBackend("hf", str(model))
    assert (on_gpu.placement().dtype, on_gpu.placement().device_map) == ("bfloat16", "auto")
    assert request_key(on_gpu.identity(), REQUEST) != cpu_key
    assert "bfloat16 on cuda, device_map auto" in on_gpu.describe()


def test_a_hub_model_is_known_by_its_cached_commit_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--org--tiny"
    uncached = TransformersBackend("hf", "org/tiny").identity()["weights"]
    assert uncached == "hub:org/tiny@main"
    fake_model(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    cached = TransformersBackend("hf", "org/tiny").identity()["weights"]
    assert cached.startswith("hub:org/tiny@abc123:")
    _write("chat_template.jinja", "{{ z }}")(repo / "snapshots" / "abc123")
    assert TransformersBackend("hf", "org/tiny").identity()["weights"] != cached


# -- model arguments ------------------------------------------------------------------------------


def test_a_spec_without_arguments_gets_the_defaults() -> None:
    assert split_target("/models/m") == ("/models/m", ModelArguments())
    assert split_target("/models/{odd}/m") == ("/models/{odd}/m", ModelArguments())


def test_arguments_follow_the_target_as_a_json_object() -> None:
    target, arguments = split_target('/models/m{"dtype": "bfloat16", "device_map": "auto", "max_memory": {"0": "70GiB"}}')
    assert target == "/models/m"
    assert (arguments.dtype, arguments.device_map) == ("bfloat16", "auto")
    assert arguments.memory_budgets() == {0: "70GiB"}
    assert split_target("/models/{odd}/m{}") == ("/models/{odd}/m", ModelArguments())


@pytest.mark.parametrize(("text", "words"), [
    ('{"dtyp": "bfloat16"}', ["'dtyp' is not a model argument", "known: dtype, device_map"]),
    ('{"dtype": "bf16"}', ["'dtype'", "'bfloat16'", "got 'bf16'"]),
    ('{"trust_remote_code": "true"}', ["'trust_remote_code'", "valid boolean", "got 'true'"]),
    ('{"batch_size": 0}', ["'batch_size'", "greater than or equal to 1"]),
    ('{"batch_size": "8"}', ["'batch_size'", "valid integer"]),
    ('{"device_map": "gpu"}', ["'device_map'", "auto, balanced", "'gpu'"]),
    ('{"max_memory": {"gpu0": "1GiB"}}', ["'max_memory'", "'gpu0' is not a device"]),
    ('{"max_memory": {"0": "lots"}}', ["'max_memory'", "'lots' is not a size"]),
    ('{"quantization": "3bit"}', ["'quantization'", "'4bit'", "'8bit'"]),
    ("{dtype: bfloat16}", ["not a JSON object", "double quotes"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_arguments_say_which_and_what_is_allowed(text: str, words: list[str]) -> None:
    with pytest.raises(BackendError) as caught:
        split_target(f"/models/m{text}")
    message = str(caught.value)
    assert "docs/model-arguments.md" in message
    for word in words:
        assert word in message


def test_quantization_without_bitsandbytes_says_what_to_install() -> None:
    if importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    with pytest.raises(BackendError, match=r"\"quantization\": \"4bit\" needs the bitsandbytes package: pip install bitsandbytes"):
        quantization_config("4bit", None)


# -- the memory check ---------------------------------------------------------------------------


def test_parameters_are_counted_from_safetensors_headers(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((3, 4), dtype=np.float32), "b": np.zeros(5, dtype=np.float16)}, str(tmp_path / "model-1.safetensors"))
    save_file({"c": np.zeros((2, 2, 2), dtype=np.float32)}, str(tmp_path / "model-2.safetensors"))
    assert memory.parameter_count(tmp_path) == 12 + 5 + 8


def test_parameters_of_pickled_weights_are_their_size_over_the_stored_dtype(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x00" * 800)
    (tmp_path / "config.json").write_text('{"torch_dtype": "bfloat16"}')
    assert memory.parameter_count(tmp_path) == 400


def test_parameters_are_counted_from_a_gguf_tensor_table(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    np = pytest.importorskip("numpy")
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("a", np.zeros((4, 8), dtype=np.float32))
    writer.add_tensor("b", np.zeros(16, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert memory.parameter_count(path) == 32 + 16


@pytest.mark.parametrize("kind", list(memory.BYTES_PER_PARAMETER))
def test_the_memory_needed_is_parameters_times_bytes_plus_a_fifth(kind: str) -> None:
    quantization = kind if kind.endswith("bit") else None
    fit = memory.load_fit(7_000_000_000, "bfloat16" if quantization else kind, quantization, 10**12, "test")
    assert fit.needed == int(7_000_000_000 * memory.BYTES_PER_PARAMETER[kind] * 1.2)
    assert kind in fit.reckoning and fit.fits


def test_a_model_that_does_not_fit_is_refused_with_both_figures_and_what_to_do() -> None:
    fit = memory.load_fit(70_000_000_000, "bfloat16", None, 24 * 10**9, "available CPU RAM")
    with pytest.raises(BackendError) as caught:
        memory.check_fits("llama-2-70b-chat", fit)
    message = str(caught.value)
    for words in ("llama-2-70b-chat needs about 168.0 GB", "70.00B parameters x 2 bytes in bfloat16",
                  "available CPU RAM is 24.0 GB", "vLLM", "--llm-base-url", '"quantization": "4bit"', '"max_memory"'):
        assert words in message


def test_the_budget_is_the_cpu_ram_the_gpus_or_max_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "cpu_available", lambda: 5 * 10**9)
    assert memory.available_bytes("cpu", ModelArguments()) == (5 * 10**9, "available CPU RAM")
    assert memory.available_bytes("cuda", ModelArguments(device_map="cpu")) == (5 * 10**9, "available CPU RAM")
    assert memory.available_bytes("cpu", ModelArguments(max_memory={"cpu": "2GiB", "disk": 1024})) == (2 * 2**30 + 1024, "max_memory")
    assert memory.available_bytes("cuda", ModelArguments(device_map={"model": 0})) is None


def test_the_cgroup_limit_caps_the_ram(tmp_path: Path) -> None:
    assert memory.cgroup_memory_left(tmp_path) is None
    (tmp_path / "memory.max").write_text("1000\n")
    (tmp_path / "memory.current").write_text("300\n")
    assert memory.cgroup_memory_left(tmp_path) == 700
    (tmp_path / "memory.max").write_text("max\n")
    assert memory.cgroup_memory_left(tmp_path) is None


# -- pure helpers ---------------------------------------------------------------------------------


def test_the_converted_config_loses_its_gguf_quantization_config(tmp_path: Path) -> None:
    # Dequantized weights saved with it are refused by other tools (lm-eval, transformers serve).
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "quantization_config": {"quant_method": "gguf"}}))
    drop_quantization_config(config)
    assert json.loads(config.read_text()) == {"model_type": "llama"}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no staging file left behind


def test_a_config_without_one_is_left_untouched(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama"}')
    before = config.stat().st_mtime_ns
    drop_quantization_config(config)
    assert config.read_text() == '{"model_type": "llama"}'
    assert config.stat().st_mtime_ns == before


def test_text_is_cut_at_the_earliest_stop_string() -> None:
    assert cut_at_stop("a\nQuestion: b\n\nc", ("\n\n", "Question:")) == "a\n"
    assert cut_at_stop("no stop here", ("###",)) == "no stop here"
    assert cut_at_stop("text", ()) == "text"


@pytest.mark.parametrize(("tokens", "text", "stop", "reason"), [
    ([5, 6, 2], "x y", (), "stop"),            # an end-of-sequence token, even as the last of the budget
    ([5, 2], "x", (), "stop"),                 # an end-of-sequence token before the budget
    ([5, 6, 7], "x y z", (), "length"),        # the whole budget, no end
    ([5, 6, 7], "x y\n\nz", ("\n\n",), "stop"),  # a stop string in the last token of the budget
    ([5], "x", (), "stop"),                    # ended early without an end token (a stop string cut it)
    ([], "", (), "length"),                    # a budget of nothing
])
def test_finish_reason(tokens: list[int], text: str, stop: tuple[str, ...], reason: str) -> None:
    budget = 3 if tokens else 0
    assert finish_reason(tokens, budget, {2}, text, stop) == reason


def test_a_seeded_request_has_one_seed_per_sample_item_and_seed() -> None:
    sampled = Request(messages=REQUEST.messages, temperature=0.8, seed=7, item="b[1]")
    seeds = {request_seed(sampled)}
    assert request_seed(sampled) in seeds, "the same request, the same seed"
    for other in ({"sample": 1}, {"sample": 2}, {"seed": 8}, {"item": "b[2]"}, {"messages": (Message("user", "other"),)}):
        seeds.add(request_seed(dataclasses.replace(sampled, **other)))
    assert len(seeds) == 6
    assert all(0 <= s < 2**63 for s in seeds)
    unseeded = Request(messages=REQUEST.messages, temperature=0.8)
    assert request_seed(unseeded) != request_seed(unseeded), "no seed: a fresh draw every time"


def test_quiet_thread_settings_keep_what_the_user_set() -> None:
    environ = {"KMP_BLOCKTIME": "5"}
    chosen = quiet_thread_environment(environ)
    assert environ == {**QUIET_THREADS, "KMP_BLOCKTIME": "5"}
    assert chosen == {k: v for k, v in QUIET_THREADS.items() if k != "KMP_BLOCKTIME"}


# -- torch's threads, in fresh processes ------------------------------------------------------------

_FRESH = """
import os, warnings
warnings.simplefilter("error")
from pytest_llmeval.backends.transformers.runtime import import_torch
torch = import_torch(threads=1)
print(os.environ["OMP_WAIT_POLICY"], os.environ["KMP_BLOCKTIME"], torch.get_num_threads(), torch.get_num_interop_threads())
"""

_LATE = """
import warnings
import torch
from pytest_llmeval.backends.transformers.runtime import ThreadWarning, import_torch
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import_torch(threads=1)
    import_torch(threads=1)
print(sum(issubclass(w.category, ThreadWarning) for w in caught), str(caught[0].message))
"""


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in QUIET_THREADS}
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_torch_is_imported_with_quiet_threads_unless_the_user_chose() -> None:
    pytest.importorskip("torch")
    assert _python(_FRESH, KMP_BLOCKTIME="7") == "PASSIVE 7 1 1"


def test_torch_imported_earlier_is_said_once() -> None:
    pytest.importorskip("torch")
    count, message = _python(_LATE).split(" ", 1)
    assert count == "1"
    assert "Export OMP_WAIT_POLICY=PASSIVE" in message


# -- a tiny real model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny")


def answers(backend: TransformersBackend, requests: list[Request]) -> list[Any]:
    got = dict(backend.run(requests, lambda n: None))
    return [got[i] for i in range(len(requests))]


def sampled(sample: int = 0, seed: int | None = 11, **changes: Any) -> Request:
    fields: dict[str, Any] = {"messages": REQUEST.messages, "max_tokens": 8, "temperature": 1.0, "seed": seed,
                              "sample": sample, "item": "tiny[q1]", **changes}
    return Request(**fields)


def test_the_loaded_model_is_public(tiny: Path) -> None:
    backend = TransformersBackend("hf", str(tiny))
    loaded = backend.loaded()
    assert loaded is backend.loaded(), "loaded once"
    assert loaded.directory == str(tiny) and loaded.source == "model directory"
    assert loaded.tokenizer.padding_side == "left" and loaded.tokenizer.pad_token is not None
    assert not loaded.model.training
    assert "loaded in" in backend.describe()


def test_models_loading_at_once_in_threads_do_not_corrupt_each_other(tiny: Path) -> None:
    # The engine answers several models in parallel, one thread each; from_pretrained builds
    # models under process-wide switches (meta device), so unguarded loads broke each other.
    import torch

    with ThreadPoolExecutor(max_workers=4) as pool:
        models = list(pool.map(lambda _: TransformersBackend("hf", str(tiny)).loaded().model, range(4)))
    reference = TransformersBackend("hf", str(tiny)).loaded().model.state_dict()
    for model in models:
        assert all(torch.equal(value, reference[name]) for name, value in model.state_dict().items())


@pytest.mark.parametrize("decoder", ["continuous batch", "generate"])
def test_a_sampled_request_draws_the_same_text_again_and_each_sample_its_own(tiny: Path, decoder: str) -> None:
    backend = TransformersBackend("hf", str(tiny), batch_size=4)
    if decoder == "generate":  # a logits processor in the generation config: generate() decodes
        backend.loaded().model.generation_config.repetition_penalty = 1.2
    samples = [sampled(k) for k in range(5)]
    first = answers(backend, samples)
    assert all(r.ok and ("decoding" in r.meta) == (decoder == "continuous batch") for r in first)
    assert len({r.text for r in first}) >= 4, [r.text for r in first]
    # Again, alone or in other company: the same (request, sample index, seed), the same text.
    alone = answers(backend, [samples[3]])
    mixed = answers(backend, [sampled(seed=99), samples[1], Request(messages=(Message("user", "hello"),), max_tokens=3), samples[3]])
    assert alone[0].text == first[3].text
    assert (mixed[1].text, mixed[3].text) == (first[1].text, first[3].text)


def test_a_tiny_top_p_leaves_only_the_most_likely_token(tiny: Path) -> None:
    backend = TransformersBackend("hf", str(tiny))
    greedy = Request(messages=REQUEST.messages, max_tokens=8, item="tiny[q1]")
    nucleus = [sampled(k, top_p=1e-9) for k in range(3)]
    assert {r.text for r in answers(backend, nucleus)} == {answers(backend, [greedy])[0].text}


def test_every_generated_answer_says_why_it_ended(tiny: Path) -> None:
    backend = TransformersBackend("hf", str(tiny))
    requests = [sampled(k, max_tokens=2) for k in range(6)] + [REQUEST]
    for request, response in zip(requests, answers(backend, requests), strict=True):
        # completion_tokens leaves out an end-of-sequence token: fewer than the budget means one came.
        used_all = response.meta["completion_tokens"] == request.max_tokens
        assert response.finish_reason == ("length" if used_all else "stop")


def test_a_model_too_big_for_the_machine_is_refused_before_loading(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "cpu_available", lambda: 1000)
    backend = TransformersBackend("hf", str(tiny))
    with pytest.raises(BackendError, match=r"needs about 0\.0 GB .* but the available CPU RAM is 0\.0 GB"):
        backend.check()
    assert "loaded in" not in backend.describe()


# -- through the plugin -------------------------------------------------------------------------

TINY_BENCHMARK = """
from pytest_llmeval import Benchmark, scorers

test_tiny = Benchmark(
    "tiny",
    capability="general",
    data=[{"id": "q1", "question": "what is two plus three", "answer": "five"},
          {"id": "q2", "question": "is the sky blue", "answer": "yes"}],
    id_field="id",
    prompt="{question}",
    target="answer",
    scorer=scorers.includes(),
    max_tokens=4,
)
"""


@pytest.fixture
def tiny_project(pytester: pytest.Pytester, tiny: Path) -> pytest.Pytester:
    from conftest import INNER_INI

    shutil.copytree(tiny, pytester.path / "tiny")
    pytester.makeini(INNER_INI)
    pytester.makepyfile(test_tiny=TINY_BENCHMARK)
    return pytester


def test_an_edited_chat_template_asks_the_items_again(tiny_project: pytest.Pytester) -> None:
    run = ("--llm-model=hf:tiny", "-q", "-p", "no:cacheprovider")
    tiny_project.runpytest(*run).stdout.fnmatch_lines(["*0 from cache, 2 inferred*"])
    tiny_project.runpytest(*run).stdout.fnmatch_lines(["*2 from cache, 0 inferred*"])
    template = tiny_project.path / "tiny" / "chat_template.jinja"
    template.write_text(template.read_text().replace("assistant", "helper"))
    tiny_project.runpytest(*run).stdout.fnmatch_lines(["*0 from cache, 2 inferred*"])
    tiny_project.runpytest(*run).stdout.fnmatch_lines(["*2 from cache, 0 inferred*"])


def test_model_arguments_in_the_spec_and_in_an_alias(tiny_project: pytest.Pytester) -> None:
    tiny_project.makeini('[pytest]\naddopts = -p no:hypothesispytest\nllm_baseline = none\n'
                         'llm_aliases = half = hf:tiny{"dtype": "bfloat16", "batch_size": 2}\n')
    result = tiny_project.runpytest('--llm-model=hf:tiny{"dtype": "float32"}', "--llm-model=half", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*float32 on cpu*", "*half*batch 2, bfloat16 on cpu*", "*0 from cache, 4 inferred*"])


def test_bad_model_arguments_reach_the_user_with_what_to_do(tiny_project: pytest.Pytester) -> None:
    result = tiny_project.runpytest('--llm-model=hf:tiny{"dtyp": "bfloat16"}', "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*'dtyp' is not a model argument (known: dtype, device_map*docs/model-arguments.md*"])
