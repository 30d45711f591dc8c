"""The blob store on s3:// against moto's server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

from adapters.fsspec_store import FsspecStore
from container import s3_options
from domain.errors import StorageError
from settings import Settings, load_settings
from tests.contracts.blob_store import BlobStoreContract
from tests.moto_s3 import CREDENTIALS, moto_s3


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as server:
        yield server


@pytest.fixture
def s3_env(s3, monkeypatch):
    s3.reset()
    s3.create_bucket("voices-bucket")
    env = s3.env("voices-bucket", "tenant")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def make_store(env: dict[str, str], **extra: object) -> FsspecStore:
    return FsspecStore(env["STORAGE_URL"], retries=1, **{**s3_options(load_settings(env)), **extra})


class TestS3StoreContract(BlobStoreContract):
    @pytest.fixture
    def store(self, s3_env):
        return make_store(s3_env)


def test_presigned_url_serves_the_object(s3_env):
    store = make_store(s3_env)
    store.put("outputs/o.wav", b"RIFF audio", "audio/wav")
    url = store.url("outputs/o.wav", expires=600)
    assert "X-Amz-Expires=600" in url and "tenant/outputs/o.wav" in url
    response = requests.get(url, timeout=5)
    assert response.status_code == 200 and response.content == b"RIFF audio"
    assert response.headers["Content-Type"] == "audio/wav"


def test_public_base_url_replaces_signing(s3_env):
    store = make_store(s3_env, public_base_url="https://cdn.example.test/tts/")
    assert store.url("outputs/o.wav", 60) == "https://cdn.example.test/tts/outputs/o.wav"


def test_listing_pages_past_a_thousand_keys(s3_env):
    """The keys are put straight into moto's in-process backend (1,203 PUTs over HTTP were
    seconds of setup); the listing, the behaviour under test, still pages over HTTP."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for i in range(1203):
        backend.put_object("voices-bucket", f"tenant/voices/v{i:04d}.json", b"{}")
    store = make_store(s3_env)
    assert len(store.list("voices/")) == 1203


def test_missing_bucket_is_a_storage_error_naming_it(s3, s3_env):
    env = s3.env("no-such-bucket")
    store = make_store(env)
    with pytest.raises(StorageError, match="no-such-bucket"):
        store.get("voices/a.json")
    results = store.check()
    assert [(r.name, r.ok) for r in results] == [("bucket", False)]
    assert "no-such-bucket" in results[0].detail


def test_wrong_credentials_are_a_storage_error_that_never_leaks(s3_env, monkeypatch, caplog):
    from moto.core.authorization import enable_iam_authentication

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123")
    store = make_store(s3_env)
    caplog.set_level(logging.DEBUG)
    with enable_iam_authentication(), pytest.raises(StorageError, match="access denied") as info:
        store.put("voices/a.wav", b"x")
    assert "bucket 'voices-bucket'" in str(info.value)
    with enable_iam_authentication():
        results = store.check()
    assert [(r.name, r.ok) for r in results] == [("bucket", False)]
    assert "access denied" in results[0].detail and "voices-bucket" in results[0].detail
    for secret in ("wrong-secret-value-123", CREDENTIALS["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in str(info.value) and secret not in caplog.text


@contextmanager
def hanging_up_endpoint() -> Iterator[tuple[str, Callable[[], int]]]:
    """A loopback endpoint that accepts each connection and closes it unanswered; the count of
    connections so far."""
    accepted = 0

    def serve() -> None:
        nonlocal accepted
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            accepted += 1
            connection.close()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", lambda: accepted
        listener.shutdown(socket.SHUT_RDWR)
    thread.join(5)


def test_aws_max_attempts_is_the_number_of_tries_of_each_call(s3_env):
    """Tests of a dead store shorten the wait through it; the default keeps botocore's 3 retries."""
    assert s3_options(Settings.defaults())["config_kwargs"]["retries"]["total_max_attempts"] == 4  # type: ignore[index]
    connections = {}
    for attempts in (1, 2):
        with hanging_up_endpoint() as (url, accepted):
            store = make_store({**s3_env, "AWS_ENDPOINT_URL": url, "AWS_MAX_ATTEMPTS": str(attempts)})
            with pytest.raises(StorageError, match="bucket 'voices-bucket'"):
                store.get("voices/a.json")
            connections[attempts] = accepted()
    assert connections[1] >= 1 and connections[2] == 2 * connections[1], connections


def test_unreachable_store_is_a_storage_error(s3_env):
    # one try: a refused connection is as dead on the first try as after botocore's backoff
    env = {**s3_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    store = make_store(env)
    with pytest.raises(StorageError, match="bucket 'voices-bucket'"):
        store.get("voices/a.json")
    results = store.check()
    assert [(r.name, r.ok) for r in results] == [("bucket", False)]
    assert "unreachable" in results[0].detail


def test_checksums_only_when_required_for_custom_endpoints():
    config = s3_options(load_settings({"AWS_ENDPOINT_URL": "https://s3.eu-central-003.example.test"}))["config_kwargs"]
    assert config["request_checksum_calculation"] == "when_required"  # type: ignore[index]
    overridden = s3_options(
        load_settings({"AWS_ENDPOINT_URL": "https://x.test", "AWS_REQUEST_CHECKSUM_CALCULATION": "when_supported"})
    )
    assert "request_checksum_calculation" not in overridden["config_kwargs"]  # type: ignore[operator]
    assert "request_checksum_calculation" not in s3_options(Settings.defaults())["config_kwargs"]  # type: ignore[operator]


def test_the_outputs_lifecycle_rule_is_found_only_when_it_covers_outputs(s3, s3_env):
    import boto3

    store = make_store(s3_env)
    assert store.expiry_rule("outputs/") is None
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    rule = {"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}}
    for prefix, covered in (("voices/", False), ("tenant/outputs/", True), ("", True)):
        client.put_bucket_lifecycle_configuration(
            Bucket="voices-bucket", LifecycleConfiguration={"Rules": [{**rule, "Filter": {"Prefix": prefix}}]}
        )
        assert (store.expiry_rule("outputs/") is not None) is covered, prefix
    assert "after 1 days" in (store.expiry_rule("outputs/") or "")
