"""A worker on S3 whose store fails mid-job, is stopped, or refuses its credentials."""

from __future__ import annotations

import base64
import json

import pytest

from entrypoints.cli import main
from tests.e2e.worker import running_worker
from tests.fault_proxy import fault_proxy
from tests.helpers import audio_file
from tests.moto_s3 import CREDENTIALS, moto_s3

pytestmark = pytest.mark.slow
BUCKET = "fault-bucket"


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture(scope="module")
def proxy(s3):
    with fault_proxy(s3.endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def worker(s3, proxy, tmp_path_factory):
    env = {
        **s3.env(BUCKET),
        "AWS_ENDPOINT_URL": proxy.base_url,
        "AWS_MAX_ATTEMPTS": "2",  # a retry still meets each fault, without the longer backoffs of the third and fourth
        "TTS_ENGINE": "fake",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
    }
    with running_worker(env, tmp_path_factory.mktemp("logs") / "worker.log") as running:
        yield running


@pytest.fixture(autouse=True)
def heal(proxy):
    proxy.cut = lambda method, path: False
    yield
    proxy.cut = lambda method, path: False


def bucket_keys(s3) -> list[str]:
    import boto3  # here, not at collection (0.2 s in every xdist worker; tests/moto_s3.py)

    client = boto3.client("s3", endpoint_url=s3.endpoint, **_boto_credentials())
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_REGION"],
    }


def upload_job(name: str) -> dict:
    voice = base64.b64encode(audio_file(2.0)).decode()
    return {"endpoint": "upload", "voice_name": name, "voice_file_base64": voice, "ref_text": "Hi there."}


def test_store_dies_between_the_audio_and_the_metadata(worker, proxy, s3):
    proxy.cut = lambda method, path: method == "PUT" and path.endswith("/voices/half.json")
    answer = worker.runsync(upload_job("half"))
    assert answer["status"] == "FAILED" and answer["error"].startswith("storage_error: ")
    assert proxy.cut_requests
    assert not [key for key in bucket_keys(s3) if key.startswith("voices/half")]
    listed = worker.runsync({"endpoint": "list_voices"})["output"]["voices"]
    assert "half" not in [v["name"] for v in listed]
    proxy.cut = lambda method, path: False
    assert worker.runsync(upload_job("half"))["status"] == "COMPLETED"


def test_store_dies_before_the_output_is_written(worker, proxy, s3):
    proxy.cut = lambda method, path: method == "PUT" and "/outputs/" in path
    answer = worker.runsync({"text": "Nobody will hear this.", "seed": 1})
    assert answer["status"] == "FAILED" and answer["error"].startswith("storage_error: ")
    assert not [key for key in bucket_keys(s3) if key.startswith("outputs/")]
    proxy.cut = lambda method, path: False
    assert worker.runsync({"text": "Back again.", "seed": 1})["status"] == "COMPLETED"


def test_worker_survives_the_store_being_stopped_and_restarted(worker, s3):
    assert worker.runsync(upload_job("before"))["status"] == "COMPLETED"
    s3.stop()
    try:
        for job in (upload_job("during"), {"text": "Hello.", "local_voice": "before"}, {"endpoint": "list_voices"}):
            answer = worker.runsync(job, timeout=120)
            assert answer["status"] == "FAILED" and answer["error"].startswith("storage_error: "), answer
    finally:
        s3.start()
    assert worker.runsync({"text": "Hello again.", "local_voice": "before"})["status"] == "COMPLETED"
    names = [v["name"] for v in worker.runsync({"endpoint": "list_voices"})["output"]["voices"]]
    assert "before" in names and "during" not in names


def test_wrong_credentials_fail_cleanly_and_never_reach_the_logs(s3, tmp_path):
    from moto.core.authorization import enable_iam_authentication

    """The store's check at boot is refused: the worker stays up in its failed-start mode and
    every job, health included, says why, without the secret."""
    secret = "this-secret-must-not-leak-42"
    env = {**s3.env(BUCKET), "AWS_ACCESS_KEY_ID": "AKIAUNKNOWNUNKNOWN00", "AWS_SECRET_ACCESS_KEY": secret}
    env |= {"TTS_ENGINE": "fake", "VOICE_CACHE_DIR": str(tmp_path / "cache")}
    jobs = (upload_job("x"), {"endpoint": "list_voices"}, {"text": "Hi."}, {"endpoint": "health"})
    with enable_iam_authentication(), running_worker(env, tmp_path / "worker.log") as worker:
        answers = [worker.runsync(job) for job in jobs]
        logs = worker.logs()
    for answer in answers:
        assert answer["status"] == "FAILED", answer
        assert answer["error"].startswith("engine_error: worker failed to start: store check 'bucket' failed")
        assert "access denied" in answer["error"] and BUCKET in answer["error"]
        assert secret not in json.dumps(answer)
    assert secret not in logs


def _doctor(s3, monkeypatch, capsys, tmp_path) -> tuple[int, list[str]]:
    """`doctor` in this process: an interpreter and its imports were most of each run's seconds
    (test_timestamps_api runs `python -m entrypoints.cli doctor` as a process)."""
    env = {**s3.env(BUCKET), "TTS_ENGINE": "fake", "VOICE_CACHE_DIR": str(tmp_path / "cache")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["doctor"])
    return code, capsys.readouterr().out.splitlines()


def test_doctor_passes_every_check_against_the_server(s3, monkeypatch, capsys, tmp_path):
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, **_boto_credentials())
    client.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "outputs", "Status": "Enabled", "Filter": {"Prefix": "outputs/"}, "Expiration": {"Days": 1}}
            ]
        },
    )
    try:
        code, lines = _doctor(s3, monkeypatch, capsys, tmp_path)
    finally:
        client.delete_bucket_lifecycle(Bucket=BUCKET)
    assert code == 0, lines
    checks = [line.split()[1:3] for line in lines[1:]]
    assert ["store", "bucket"] in checks and ["store", "write"] in checks and ["store", "delete"] in checks
    assert ["outputs", "lifecycle"] in checks
    assert all(line.startswith("ok") for line in lines[1:])


def test_doctor_warns_when_no_lifecycle_rule_expires_outputs(s3, monkeypatch, capsys, tmp_path):
    code, lines = _doctor(s3, monkeypatch, capsys, tmp_path)
    assert code == 0, lines
    [warning] = [line for line in lines[1:] if not line.startswith("ok")]
    assert warning.startswith("WARN outputs lifecycle") and "no lifecycle rule expires outputs/" in warning
