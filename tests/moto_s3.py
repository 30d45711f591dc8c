"""S3 over real HTTP on loopback, the way s3fs tests itself: moto's threaded server.

moto, boto3 and s3fs are imported by the methods that use them, not with this module: 0.7 s of
imports that every xdist worker would pay at collection, most of which run no S3 test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-do-not-log",
    "AWS_REGION": "us-east-1",
}


class MotoS3:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.endpoint = f"http://{host}:{port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        from s3fs import S3FileSystem

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=5)
        S3FileSystem.clear_instance_cache()

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        url = f"s3://{bucket}/{prefix}".rstrip("/")
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "STORAGE_URL": url}

    def create_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_REGION"],
        )
        client.create_bucket(Bucket=name)


@contextmanager
def moto_s3() -> Iterator[MotoS3]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = MotoS3("127.0.0.1", port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
