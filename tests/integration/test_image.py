"""What can be checked about the production image without a Docker daemon: Dockerfile.runpod
(parsed with dockerfile-parse, not regexes over the whole file) keeps the promises of its
issue, agrees with pyproject.toml, and the RunPod Hub files describe the worker the code is.
The last tests start the worker the way the image's CMD does and let runpod run test_input.json.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import json
import re
import shlex
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from entrypoints.service import WorkerService
from harness.processes import launched
from settings import Settings
from tests.helpers import make_test_container

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.runpod"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HUB = json.loads((ROOT / ".runpod" / "hub.json").read_text())
HUB_TESTS = json.loads((ROOT / ".runpod" / "tests.json").read_text())
WEIGHTS = json.loads((ROOT / "scripts" / "weights.json").read_text())
CODE_DIRS = ("domain", "ports", "adapters", "application", "entrypoints", "container.py", "settings.py")


PARSER = DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))
STEPS = [s for s in PARSER.structure if s["instruction"] != "COMMENT"]


def _steps(instruction: str) -> list[tuple[int, str]]:
    return [(i, s["value"]) for i, s in enumerate(STEPS) if s["instruction"] == instruction]


def _run_index(needle: str) -> int:
    found = [i for i, value in _steps("RUN") if needle in value]
    assert len(found) == 1, f"expected one RUN with {needle!r}, found {len(found)}"
    return found[0]


def _commands(run: str) -> list[list[str]]:
    """A RUN's shell commands, each as the argument list the shell would pass (quotes removed,
    split at &&, ||, ;, | and redirections; `if`/`then`/`fi` dropped; leading VAR=value kept)."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|", ">", ">>", "<"):
            commands.append([])
        elif not (token in ("if", "then", "else", "fi") and not commands[-1]):
            commands[-1].append(token)
    return [command for command in commands if command]


def _command(run: str, *prefix: str) -> list[str]:
    """The one command of `run` that starts with `prefix`."""
    found = [c for c in _commands(run) if c[: len(prefix)] == list(prefix)]
    assert len(found) == 1, f"expected one {' '.join(prefix)!r} in {run!r}, found {len(found)}"
    return found[0]


def _python_program(run: str) -> ast.Module:
    """The program of the RUN's one `python -c PROGRAM`, parsed (so it is valid Python)."""
    return ast.parse(_command(run, "python", "-c")[2])


def _pip_installs(run: str) -> list[list[str]]:
    return [c[2:] for c in _commands(run) if c[:2] == ["pip", "install"]]


def _arg_defaults() -> dict[str, str]:
    defaults = {}
    for _, value in _steps("ARG"):
        name, _, default = value.partition("=")
        defaults[name.strip()] = default.strip()
    return defaults


def _pyproject_pin(name: str) -> str:
    for dep in PYPROJECT["project"]["dependencies"]:
        match = re.fullmatch(rf"{re.escape(name)}==(\S+)", dep)
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not pinned in pyproject.toml")


def _base_cuda() -> str:
    match = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-(?:cudnn-)?runtime-ubuntu\d+\.\d+@sha256:[0-9a-f]{64}",
                         PARSER.baseimage)  # fmt: skip
    assert match, PARSER.baseimage
    return f"{match.group(1)}.{match.group(2)}"


# --- the image ------------------------------------------------------------------------------


def test_base_is_a_cuda_runtime_pinned_by_tag_and_digest() -> None:
    froms = [value for _, value in _steps("FROM")]
    assert len(froms) == 1, "one stage: nothing built from source, nothing to copy between stages"
    _base_cuda()


def test_torch_pins_and_cuda_build_match_pyproject_and_the_base() -> None:
    torch_run = STEPS[_run_index("torch==")]["value"]
    [install] = _pip_installs(torch_run)
    pins = dict(arg.split("==") for arg in install if "==" in arg)
    assert pins == {"torch": _pyproject_pin("torch"), "torchaudio": _pyproject_pin("torchaudio")}
    # the build asserts the CUDA version torch was built for; it must be the base image's
    asserted = [
        node.test.comparators[0].value
        for node in ast.walk(_python_program(torch_run))
        if isinstance(node, ast.Assert)
        and isinstance(node.test, ast.Compare)
        and ast.unparse(node.test.left) == "torch.version.cuda"
        and isinstance(node.test.comparators[0], ast.Constant)
    ]
    assert asserted == [_base_cuda()]
    # and it is what the pinned torch wheel really is (read from the installed one, when it is that version)
    if metadata.version("torch").split("+")[0] == pins["torch"]:
        version_py = Path(str(metadata.distribution("torch").locate_file("torch/version.py"))).read_text()
        cuda = re.search(r"^cuda: .*= '([\d.]+)'", version_py, re.M)
        if cuda:  # None on a CPU-only build of the same version
            assert cuda.group(1) == _base_cuda()


def test_flash_attn_wheel_is_chosen_by_build_args_that_match_torch_python_and_cuda() -> None:
    args = _arg_defaults()
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.post\d+)?", args["FLASH_ATTN_VERSION"])
    torch_minor = ".".join(_pyproject_pin("torch").split(".")[:2])
    assert args["FLASH_ATTN_TORCH"] == torch_minor
    assert args["FLASH_ATTN_CUDA"] == _base_cuda().replace(".", "")
    py = re.search(r">=\s*3\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert py and args["FLASH_ATTN_PYTHON"] == f"3{py.group(1)}"
    assert args["FLASH_ATTN_CXX11_ABI"] in ("TRUE", "FALSE")
    run = STEPS[_run_index("flash_attn-")]["value"]
    # before anything is downloaded, the build compares the arguments with what torch and
    # Python are: a program that asserts on them, the C++ ABI included
    program = _python_program(run)
    checked = ast.unparse(program)
    assert any(isinstance(node, ast.Assert) for node in ast.walk(program))
    for name in ("FLASH_ATTN_CUDA", "FLASH_ATTN_TORCH", "FLASH_ATTN_PYTHON", "FLASH_ATTN_CXX11_ABI"):
        assert "${" + name + "}" in checked, f"{name} is not checked against the image"
    assert "torch.compiled_with_cxx11_abi" in {
        ast.unparse(n.func) for n in ast.walk(program) if isinstance(n, ast.Call)
    }
    # the wheel's name is made of every argument, and it is installed as a binary, alone
    wheel = next(c[0].partition("=")[2] for c in _commands(run) if c[0].startswith("wheel="))
    assert wheel.endswith(".whl")
    for name in ("FLASH_ATTN_VERSION", "FLASH_ATTN_CUDA", "FLASH_ATTN_TORCH", "FLASH_ATTN_PYTHON"):
        assert "${" + name + "}" in wheel, f"{name} does not choose the wheel"
    [install] = _pip_installs(run)
    assert {"--no-deps", "--only-binary=:all:"} <= set(install)
    # and the installed version is checked against the pin
    assert _command(run, "pip", "show", "flash-attn")
    assert _command(run, "grep", "-q")[2] == "^Version: ${FLASH_ATTN_VERSION}"
    for value in (v for _, v in _steps("RUN")):  # never from source: no sdist install, no build toolchain
        for args in _pip_installs(value):
            assert "--no-binary" not in args
            assert not any(re.match(r"flash[-_]attn(==|$)", arg) for arg in args), args
        assert not any(c[0] == "nvcc" for c in _commands(value))


def test_f5_tts_is_pinned_like_the_makefile_and_installed_without_deps() -> None:
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^F5_TTS_VERSION\s*:?=\s*(\S+)", makefile, re.M)
    assert version
    run = STEPS[_run_index("f5-tts==")]["value"]
    [install] = [args for args in _pip_installs(run) if any(a.startswith("f5-tts") for a in args)]
    assert sorted(install) == sorted(["--no-deps", f"f5-tts=={version.group(1)}"])


def test_runtime_dependencies_come_from_pyproject_without_the_dev_extra() -> None:
    index = _run_index("['project']['dependencies']")
    run = STEPS[index]["value"]
    # the requirements pip installs are the file the program writes from pyproject's dependencies
    program = ast.unparse(_python_program(run))
    assert "tomllib.load" in program and "['project']['dependencies']" in program
    written = _commands(run)[1][0]  # the redirection's target
    assert ["-r", written] in [args[:2] for args in _pip_installs(run)]
    copies = [value for i, value in _steps("COPY") if i < index]
    assert copies and all(shlex.split(c)[:-1] == ["pyproject.toml"] for c in copies[-1:])
    for _, value in _steps("RUN"):
        for args in _pip_installs(value):
            assert not any("[dev]" in arg or arg.startswith("pytest") for arg in args), args


def test_offline_at_run_time_with_weights_under_model_dir() -> None:
    env = PARSER.envs
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["MODEL_DIR"] == "/tmp/models"
    assert env["PYTHONUNBUFFERED"] == "1"
    whisper_dirs = {Path(f["dest"]).parts[0] for f in WEIGHTS["files"] if f["group"] == "whisper"}
    assert env["ASR_MODEL"] in {f"{env['MODEL_DIR']}/{d}" for d in whisper_dirs}


def test_weights_are_fetched_by_the_script_with_pinned_checksums() -> None:
    copy = [shlex.split(value) for _, value in _steps("COPY") if "fetch_weights.py" in value]
    assert copy and "scripts/weights.json" in copy[0][:-1]
    fetcher = copy[0][-1] + "fetch_weights.py"

    def fetch(group: str) -> list[str]:
        [command] = [
            c for c in _commands(STEPS[_run_index(f"--group {group}")]["value"]) if c[:2] == ["python", fetcher]
        ]
        assert command[command.index("--model-dir") + 1] == "$MODEL_DIR"
        assert command[command.index("--group") + 1] == group
        return command

    fetch("f5")
    for group, arg in (("whisper", "BAKE_WHISPER"), ("aligner", "BAKE_ALIGNER")):  # optional, off by default
        fetch(group)
        run = STEPS[_run_index(f"--group {group}")]["value"]
        assert _commands(run)[0] == ["[", f"${arg}", "=", "1", "]"]
        assert _arg_defaults()[arg] == "0"
    assert not [c for _, v in _steps("RUN") for c in _commands(v) if "--allow-unpinned" in c]
    assert all(re.fullmatch(r"[0-9a-f]{64}", f.get("sha256") or "") for f in WEIGHTS["files"])


def test_the_dit_is_baked_in_its_serving_dtype_from_the_pinned_release() -> None:
    """The converter runs in the same step as the fetch (so no layer keeps the fp32 file it
    removes), on a source the manifest pins, into a name the engine's lookup prefers."""
    copy = shlex.split(next(value for _, value in _steps("COPY") if "fetch_weights.py" in value))
    assert "scripts/convert_weights.py" in copy[:-1]
    scripts = [c[1] for c in _commands(STEPS[_run_index("--group f5")]["value"]) if c[0] == "python"]
    assert scripts == [copy[-1] + "fetch_weights.py", copy[-1] + "convert_weights.py"]  # in this order, one step
    [convert] = [c for c in _commands(STEPS[_run_index("--group f5")]["value"]) if c[1] == scripts[1]]
    assert "--remove-source" in convert
    pinned = {f["dest"] for f in WEIGHTS["files"] if f["sha256"]}
    derived = [d for d in WEIGHTS["derived"] if d["group"] == "f5"]
    assert derived and all(d["source"] in pinned for d in derived)
    assert all(d["dest"].endswith(f".{d['dtype']}.safetensors") for d in derived)
    assert all(d["sha256"] is None or re.fullmatch(r"[0-9a-f]{64}", d["sha256"]) for d in derived)


def test_runs_as_a_non_root_user() -> None:
    users = _steps("USER")
    assert users, "no USER: the worker would run as root"
    index, user = users[-1]
    assert user.split(":")[0] not in ("root", "0", "")
    assert all(i < index for i, _ in _steps("RUN")), "a RUN after USER would run as the worker"


def test_cmd_starts_the_runpod_handler() -> None:
    assert json.loads(PARSER.cmd) == ["python", "-m", "entrypoints.runpod_handler"]
    assert not _steps("ENTRYPOINT")  # the base image's own entrypoint runs the CMD


def test_torch_deps_and_weights_are_layered_before_the_code() -> None:
    code_copies = [i for i, v in _steps("COPY") if any(d in shlex.split(v)[:-1] for d in CODE_DIRS)]
    assert code_copies, "the code is never copied"
    first_code = min(code_copies)
    for needle in ("torch==", "flash_attn-", "['project']['dependencies']", "--group f5", "--group whisper"):
        assert _run_index(needle) < first_code, f"{needle} runs after the code is copied"
    for i, value in _steps("COPY"):  # before the code, only the files those layers need
        if i < first_code:
            assert set(shlex.split(value)[:-1]) <= {
                "pyproject.toml",
                "scripts/fetch_weights.py",
                "scripts/weights.json",
                "scripts/convert_weights.py",
            }


def test_every_package_pyproject_installs_is_copied_into_the_image() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    needed = {p.split(".")[0] for p in setuptools["packages"]} | {f"{m}.py" for m in setuptools.get("py-modules", [])}
    copied = {src for _, value in _steps("COPY") for src in shlex.split(value)[:-1]}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    assert set(CODE_DIRS) == needed, "CODE_DIRS in this test no longer matches pyproject's packages"


def test_no_secret_in_build_args_or_environment() -> None:
    names = set(_arg_defaults()) | set(PARSER.envs)
    assert not [n for n in names if re.search(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL|^AWS_", n)]


def test_copied_files_exist_and_dockerignore_keeps_the_rest_out() -> None:
    ignore = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    for required in (".venv", "tests", "data", ".git", "**/__pycache__"):
        assert required in ignore, f".dockerignore should keep {required} out of the build context"
    for _, value in _steps("COPY"):
        for source in shlex.split(value)[:-1]:
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignore), f"{source} is ignored"


# --- the RunPod Hub files --------------------------------------------------------------------


def _env_reads(path: Path) -> set[str]:
    """Names read through os.environ / os.getenv / an `env` or `environ` mapping, literally."""
    names: set[str] = set()

    def is_env(node: ast.AST) -> bool:
        text = ast.unparse(node)
        return text in ("env", "environ", "os.environ") or text.endswith(".environ")

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            literal = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            mapping_get = isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
            if (mapping_get and is_env(func.value)) or ast.unparse(func) in ("os.getenv", "getenv"):
                names.update(literal[:1])
            elif any(is_env(a) for a in node.args):  # helpers like _int(env, "MAX_TEXT_CHARS", ...)
                names.update(literal)
        elif isinstance(node, ast.Subscript) and is_env(node.value) and isinstance(node.slice, ast.Constant):
            names.add(node.slice.value)
    return {n for n in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)}


def _code_env_vars() -> set[str]:
    """The settings object's variables, and any read directly (the loader's HF_HUB_OFFLINE)."""
    files = [
        ROOT / "container.py",
        ROOT / "settings.py",
        *sorted((ROOT / "adapters").rglob("*.py")),
        *sorted((ROOT / "entrypoints").glob("*.py")),
    ]
    return Settings.env_names() | set().union(*(_env_reads(f) for f in files))


def _hub_env() -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in HUB["config"]["env"]}


def test_the_env_scan_sees_the_variables_the_code_reads() -> None:
    found = _code_env_vars()
    assert {"STORAGE_URL", "S3_BUCKET", "TTS_ENGINE", "MODEL_DIR", "MAX_TEXT_CHARS", "HF_HUB_OFFLINE"} <= found


def test_hub_json_has_the_publishing_guide_fields() -> None:
    assert HUB["title"] and HUB["description"]
    assert HUB["type"] == "serverless"
    assert HUB["category"] in ("audio", "embedding", "language", "video", "image")
    config = HUB["config"]
    assert config["runsOn"] == "GPU"
    assert isinstance(config["containerDiskInGb"], int) and config["containerDiskInGb"] >= 15
    assert isinstance(config["gpuCount"], int) and config["gpuCount"] >= 1
    assert isinstance(config["gpuIds"], str) and config["gpuIds"]
    assert config["allowedCudaVersions"] and all(
        v.startswith(_base_cuda().split(".")[0] + ".") for v in config["allowedCudaVersions"]
    )


def test_every_env_var_the_code_reads_is_declared_with_a_description() -> None:
    declared = _hub_env()
    missing = sorted(_code_env_vars() - set(declared))
    assert not missing, f"declare these in .runpod/hub.json: {missing}"
    # and what botocore and runpod read for us, which the README documents
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS"} <= set(declared)


@pytest.mark.parametrize("item", HUB["config"]["env"], ids=lambda item: item["key"])
def test_hub_env_entry_is_well_formed(item: dict[str, Any]) -> None:
    assert re.fullmatch(r"[A-Z][A-Z0-9_]+", item["key"])
    assert ("input" in item) != ("value" in item)
    spec = item["input"]
    assert spec["name"] and len(spec["description"]) > 20
    kind = spec["type"]
    assert kind in ("string", "number", "boolean", "huggingface")
    default = spec["default"]
    if kind == "number":
        assert isinstance(default, int | float) and not isinstance(default, bool)
        assert spec.get("min", default) <= default <= spec.get("max", default)
    elif kind == "boolean":
        assert isinstance(default, bool) and isinstance(spec["trueValue"], str) and isinstance(spec["falseValue"], str)
    else:
        assert isinstance(default, str)
    if "options" in spec:
        values = [o["value"] for o in spec["options"]]
        assert all(o["label"] for o in spec["options"]) and default in values


def test_hub_keys_are_unique_and_presets_use_declared_keys() -> None:
    keys = [item["key"] for item in HUB["config"]["env"]]
    assert len(keys) == len(set(keys))
    for preset in HUB["config"].get("presets", []):
        assert preset["name"] and set(preset["defaults"]) <= set(keys)


def test_hub_defaults_agree_with_the_code_and_the_image() -> None:
    hub = {key: item["input"] for key, item in _hub_env().items()}
    defaults = Settings.defaults()
    image_set = {"MODEL_DIR", "ASR_MODEL", "LOG_FORMAT", "LOG_LEVEL", "HF_HUB_OFFLINE"}  # the image's ENV decides
    checked = 0
    for key in sorted(Settings.env_names() - image_set):
        if key not in hub:
            continue
        code_default = getattr(defaults, key.lower())
        spec = hub[key]
        if spec["type"] == "boolean":
            assert spec["default"] is code_default, key
            assert {spec["trueValue"], spec["falseValue"]} == {"1", "0"}, key
        elif spec["type"] == "number":
            assert spec["default"] == code_default, key
        elif key != "VOICE_CACHE_DIR":  # the code's is the system temp dir, the Hub shows it empty
            assert spec["default"] == (code_default or ""), key
        checked += 1
    assert checked >= 20
    env = PARSER.envs
    assert hub["MODEL_DIR"]["default"] == env["MODEL_DIR"]
    assert hub["ASR_MODEL"]["default"] == env["ASR_MODEL"]
    assert hub["LOG_FORMAT"]["default"] == env["LOG_FORMAT"]
    assert hub["HF_HUB_OFFLINE"]["default"] is True and hub["HF_HUB_OFFLINE"]["trueValue"] == env["HF_HUB_OFFLINE"]


def test_tests_json_follows_the_guide() -> None:
    names = [case["name"] for case in HUB_TESTS["tests"]]
    assert names and len(names) == len(set(names))
    for case in HUB_TESTS["tests"]:
        assert isinstance(case["input"], dict)
        assert isinstance(case.get("timeout", 1), int) and case.get("timeout", 1) > 0
    config = HUB_TESTS["config"]
    assert config["gpuTypeId"] and isinstance(config["gpuCount"], int)
    assert {item["key"] for item in config.get("env", [])} <= set(_hub_env())
    assert set(config["allowedCudaVersions"]) <= set(HUB["config"]["allowedCudaVersions"])


@pytest.mark.parametrize("case", HUB_TESTS["tests"], ids=lambda case: case["name"])
def test_tests_json_cases_are_valid_jobs(case: dict[str, Any]) -> None:
    service = WorkerService(make_test_container().app())
    result = service.handle(case["input"], f"hub-{case['name']}")
    assert "error" not in result, result
    assert result["status"] == "completed"


def test_test_input_json_is_the_seeds_request_and_a_valid_job() -> None:
    job = json.loads((ROOT / "test_input.json").read_text())
    assert job == {"input": {"text": "Hello world!"}}
    result = WorkerService(make_test_container().app()).handle(job["input"], "test-input")
    assert result["status"] == "completed" and result["voice"] == "default"


# --- the worker, started the way the image starts it ----------------------------------------


def _image_env(**overrides: str) -> dict[str, str]:
    """The image's run-time ENV on top of this machine's environment (the launcher drops what
    would make runpod take jobs from the platform or the store go elsewhere)."""
    env = {k: v for k, v in PARSER.envs.items() if k not in ("PATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONPATH": str(ROOT), **overrides}


def _run_image_command(workdir: Path, env: dict[str, str], *args: str, timeout: float) -> tuple[int, str]:
    """The image's CMD (plus `args`) run to its end from `workdir`: exit status and output."""
    command = [sys.executable if part == "python" else part for part in json.loads(PARSER.cmd)]
    log = workdir.parent / f"{workdir.name}.log"
    drop = ("RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_REALTIME_PORT", "STORAGE_URL", "S3_BUCKET")
    with launched([*command, *args], env, log, workdir, drop=drop) as process:
        status = process.wait(timeout=timeout)
    return status, log.read_text(errors="replace")


@pytest.mark.slow
def test_worker_started_like_the_image_runs_test_input_on_the_tiny_checkpoint(
    tmp_path: Path, tiny_checkpoint: dict[str, str]
) -> None:
    assert {"F5_CKPT_FILE", "F5_VOCAB_FILE", "VOCODER_PATH"} <= set(tiny_checkpoint)
    workdir = tmp_path / "app"
    workdir.mkdir()
    model_dir = str(Path(tiny_checkpoint["F5_CKPT_FILE"]).parent)
    env = _image_env(TTS_ENGINE="f5", HF_HUB_OFFLINE="1", MODEL_DIR=model_dir, **tiny_checkpoint)
    # one stream, in the order the worker wrote it (PYTHONUNBUFFERED=1)
    status, output = _run_image_command(
        workdir, env, "--test_input", (ROOT / "test_input.json").read_text(), timeout=600
    )
    assert status == 0, output[-4000:]
    ready = [json.loads(line) for line in output.splitlines() if '"worker_ready"' in line]
    assert len(ready) == 1 and ready[0]["ready_seconds"] > 0, output[-4000:]
    assert ready[0]["engine"].startswith("F5TTS_tiny")
    # the model is loaded and warmed before runpod starts the worker
    assert output.index('"worker_ready"') < output.index("Starting Serverless Worker")
    assert "completed successfully" in output
    assert list((workdir / "data" / "outputs").glob("*.wav"))


@pytest.mark.slow
def test_worker_started_with_no_arguments_runs_test_input_json_from_its_directory(tmp_path: Path) -> None:
    workdir = tmp_path / "app"
    workdir.mkdir()
    (workdir / "test_input.json").write_text((ROOT / "test_input.json").read_text())
    status, output = _run_image_command(workdir, _image_env(TTS_ENGINE="fake"), timeout=120)
    assert status == 0, output[-4000:]
    assert "Using test_input.json as job input" in output and "completed successfully" in output
