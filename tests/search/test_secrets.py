"""A URL's password or key is never shown: not by any command, not in a message, report, note or stored attribute."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import optuna_dashboard
import pytest

from tests._helpers import cli_here

SECRET = "Pa55-w0rd-n3ver-sh0wn"


def _with_password(url: str) -> str:
    """The loopback server's URL with a password (its cluster trusts loopback: any password connects)."""
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


def test_no_command_shows_the_password_of_its_storage(
    postgres_url: str, make_study, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _with_password(postgres_url)
    definition = make_study(name="secrets", trials=1, max_epochs=2)
    served: list[str] = []
    monkeypatch.setattr(optuna_dashboard, "run_server", lambda *a, **k: served.append("dashboard"))
    monkeypatch.setattr(optuna.storages, "run_grpc_proxy_server", lambda *a, **k: served.append("proxy"))
    commands = [
        ["run", str(definition), "--storage", url],
        ["run", str(definition), "--storage", url, "--json", "--trials", "2"],
        ["worker", "secrets", "--storage", url, "--trials", "3"],
        ["holdout", "secrets", "--storage", url],
        ["holdout", "secrets", "--storage", url, "--json", "--force"],
        ["list", "--storage", url],
        ["list", "--storage", url, "--json"],
        ["report", "secrets", "--storage", url, "--out", str(tmp_path / "reports")],
        ["dashboard", "--storage", url, "--port", str(_free_port())],
        ["proxy", "--storage", url, "--port", str(_free_port())],
    ]
    shown = []
    for argv in commands:
        ran = cli_here(capfd, *argv)
        assert ran.returncode == 0, (argv, ran.stderr[-2000:])
        shown += [ran.stdout, ran.stderr]
    assert served == ["dashboard", "proxy"]
    assert SECRET not in "".join(shown)
    assert "postgres:***@" in "".join(shown)  # the URL itself is still shown, masked
    report = (tmp_path / "reports").glob("*.html")
    assert all(SECRET not in page.read_text() for page in report)
    storage = optuna.storages.RDBStorage(postgres_url)
    study_id = storage.get_study_id_from_name("secrets")
    stored = [storage.get_study_user_attrs(study_id), storage.get_study_system_attrs(study_id)]
    stored += [[t.user_attrs, t.system_attrs] for t in storage.get_all_trials(study_id)]
    assert SECRET not in json.dumps(stored, default=str)  # dashboard notes and figures are system attributes
    storage.engine.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--storage", f"postgresql+psycopg2://ann:{SECRET}@127.0.0.1:1/none"],
        ["list", "--storage", f"postgresql+psycopg2://ann:{SECRET}@127.0.0.1:1/none?sslmode=require"],
        ["list", "--storage", f"postgresql+psycopg2://ann@127.0.0.1:1/none?password={SECRET}"],
        ["worker", "x", "--storage", f"grpc://ann:{SECRET}@proxy-without-a-port"],
        ["run", "iris", "--artifacts", f"s3://key:{SECRET}@bucket/prefix"],
        ["run", "iris", "--artifacts", f"s3://bucket/prefix?X-Amz-Signature={SECRET}"],
        ["run", "iris", "--artifacts", f"gs://ann:{SECRET}@bucket"],
        ["run", "iris", "--storage", f"nosuchdb://ann:{SECRET}@host/x"],
    ],
)
def test_no_error_shows_the_secret_of_a_url(argv: list[str], capfd: pytest.CaptureFixture[str]) -> None:
    ran = cli_here(capfd, *argv)
    assert ran.returncode == 2, ran.stderr[-2000:]
    (line,) = ran.stderr.strip().splitlines()
    assert line.startswith("error: ") and SECRET not in line and "***" in line
