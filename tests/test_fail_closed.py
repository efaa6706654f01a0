"""Fail closed: QBANK_ENV unset is production, and production needs a secret of its own."""

import os
import stat
import subprocess
import sys

import pytest

from qbank.errors import ConfigError
from qbank.settings import KNOWN_SECRETS, Settings, data_dir_secret

GOOD = "g" * 32
PUBLISHED = sorted(KNOWN_SECRETS)[0]


def test_unset_env_is_production():
    settings = Settings.from_env({})
    assert settings.env == "prod"
    assert Settings(database_url="sqlite://").env == "prod"
    assert "missing" in settings.secret_problem()
    assert Settings.from_env({"QBANK_ENV": ""}).env == "prod"
    with pytest.raises(ConfigError, match="dev or prod"):
        Settings.from_env({"QBANK_ENV": "production"})


@pytest.mark.parametrize(
    ("secret", "problem"),
    [(None, "missing"), ("", "missing"), ("s" * 31, "32 bytes"), ("é" * 15, "32 bytes"),
     (PUBLISHED, "default")],
)  # fmt: skip
def test_production_refuses_a_weak_secret(secret, problem):
    environ = {} if secret is None else {"QBANK_SECRET": secret}
    if secret in KNOWN_SECRETS:  # a published key is refused in any mode, at once
        with pytest.raises(ConfigError, match=problem):
            Settings.from_env(environ)
        return
    settings = Settings.from_env(environ)
    assert problem in settings.secret_problem()
    with pytest.raises(ConfigError, match=problem):
        settings.require_secret()


def test_a_good_secret_and_dev_without_one_can_sign():
    assert Settings.from_env({"QBANK_SECRET": "s" * 32}).require_secret().secret == "s" * 32
    dev = Settings.from_env({"QBANK_ENV": "dev"})
    one, two = dev.require_secret().secret, dev.require_secret().secret
    assert len(one) >= 32
    assert one != two  # a random key per process, never a constant
    assert (
        "32 bytes" in Settings.from_env({"QBANK_ENV": "dev", "QBANK_SECRET": "x"}).secret_problem()
    )


def test_each_data_directory_gets_its_own_random_secret(tmp_path):
    first = data_dir_secret(tmp_path / "a")
    assert data_dir_secret(tmp_path / "a") == first  # stable: every process of the dir agrees
    assert data_dir_secret(tmp_path / "b") != first
    assert len(first.encode()) >= 32
    assert first not in KNOWN_SECRETS
    assert stat.S_IMODE((tmp_path / "a" / "secret").stat().st_mode) == 0o600


def _run(args, tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QBANK_")}
    environ.update({"QBANK_DATA_DIR": str(tmp_path), "QBANK_REDIS_URL": "redis://127.0.0.1:1/0"},
                   **env)  # fmt: skip
    return subprocess.run([sys.executable, "-m", "qbank.cli", *args], env=environ,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("command", "env", "problem"),
    [
        (["serve", "--port", "1"], {}, "QBANK_SECRET is missing"),
        (["serve", "--port", "1"], {"QBANK_SECRET": ""}, "QBANK_SECRET is missing"),
        (["serve", "--port", "1"], {"QBANK_SECRET": "s" * 31}, "at least 32 bytes"),
        (["serve", "--port", "1"], {"QBANK_SECRET": PUBLISHED}, "default published"),
        (["dashboard", "--port", "1"], {}, "QBANK_SECRET is missing"),
        (["worker", "--burst"], {"QBANK_SECRET": " "}, "at least 32 bytes"),
    ],
)
def test_every_server_refuses_to_start_in_production_without_a_secret(
    tmp_path, command, env, problem
):
    done = _run(command, tmp_path, **env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert problem in lines[0]
    assert not (tmp_path / "qbank.db").exists()  # refused before touching anything
