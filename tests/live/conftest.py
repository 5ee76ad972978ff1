"""What the live tests share: a real `customer360 serve`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_cli import customer360, free_port


@pytest.fixture
def serving(tmp_path):
    """`customer360 serve` with one operations user; yields (process, base URL). Its log is in
    tmp_path/serve.log."""
    port = free_port()
    env = {"VAR_DIR": str(tmp_path), "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    assert customer360("migrate", env=env).returncode == 0
    created = customer360(
        "createuser", "ops@shop.example", "--role", "operations", env=env, stdin="a long passphrase\n"
    )
    assert created.returncode == 0
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
