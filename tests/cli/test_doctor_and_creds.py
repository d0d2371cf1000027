"""
``al doctor``, ``al creds`` and the config gate of ``al start``, driven the
way a user types them.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from click.testing import CliRunner

from action_llama.cli.main import cli
from action_llama.credentials import CredentialStore
from tests.helpers import FIXTURE, QUICKSTART, al_argv, copy_project


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    """
    Run ``al`` in-process and return its exit code and combined output.
    """
    result = CliRunner().invoke(cli, list(args), input=input, obj={})
    return result.exit_code, result.output


def broken_project(root: Path) -> Path:
    """
    A project with one of each kind of error, in several files.
    """
    (root / "agents" / "good").mkdir(parents=True)
    (root / "config.toml").write_text('[webhooks.gh]\ntype = "github"\n')
    (root / "agents" / "good" / "SKILL.md").write_text("Be good.\n")
    (root / "agents" / "good" / "config.toml").write_text(
        'models = ["nope"]\nschedule = "61 * * * *"\n'
        '[[webhooks]]\nsource = "missing-source"\n'
    )
    (root / "agents" / "Bad Name").mkdir()
    (root / "agents" / "Bad Name" / "SKILL.md").write_text("x\n")
    (root / "agents" / "syntax").mkdir()
    (root / "agents" / "syntax" / "SKILL.md").write_text("x\n")
    (root / "agents" / "syntax" / "config.toml").write_text("schedule = \n")
    return root


def test_doctor_reports_every_error_with_file_and_field(tmp_path: Path) -> None:
    """
    A broken project makes doctor exit 2 and name each error's file and field.
    """
    root = broken_project(tmp_path / "p")
    code, output = run("-p", str(root), "doctor")
    assert code == 2
    for expected in [
        "agents/good/config.toml: models",
        "nope",
        "agents/good/config.toml: schedule",
        "agents/good/config.toml: webhooks[0].source",
        "missing-source",
        "Bad Name",
        "agents/syntax/config.toml",
    ]:
        assert expected in output, expected


def test_start_refuses_a_broken_project_with_exit_2(tmp_path: Path) -> None:
    """
    ``al start`` (a real process) exits 2 listing the errors, starting nothing.
    """
    root = broken_project(tmp_path / "p")
    result = subprocess.run(
        al_argv("start", "-p", str(root), "--port", "0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "agents/good/config.toml: models" in result.stderr
    assert not (root / ".al" / "logs").exists()


def test_doctor_on_the_fixture_is_strict_clean_and_lists_credentials(
    tmp_path: Path,
) -> None:
    """
    The original tool's project passes ``doctor --strict``; its missing
    credentials are listed with who needs them, and the key is created.
    """
    root = copy_project(FIXTURE, tmp_path / "p")
    code, output = run("-p", str(root), "doctor", "--strict")
    assert code == 0, output
    assert "github_token" in output and "agent dev" in output
    assert "github_webhook_secret:AcmeOrg" in output
    assert "webhook source acme-github" in output
    assert "anthropic_key" in output
    assert "Created the gateway API key" in output
    code, output = run("-p", str(root), "doctor")
    assert "Found the gateway API key" in output


def test_doctor_regenerates_the_key_on_request(tmp_path: Path) -> None:
    """
    ``--regenerate-key`` replaces the key with a new one.
    """
    root = copy_project(QUICKSTART, tmp_path / "p")
    run("-p", str(root), "doctor")
    old = CredentialStore().gateway_key()
    code, output = run("-p", str(root), "doctor", "--regenerate-key", "--show-key")
    new = CredentialStore().gateway_key()
    assert code == 0 and new is not None and old != new and new in output


def test_creds_add_ls_rm_round_trip(tmp_path: Path) -> None:
    """
    A credential added from stdin is stored 0600, listed without its value,
    and removed.
    """
    code, output = run("creds", "add", "github_token:work", input="s3cret-value\n")
    assert code == 0, output
    path = CredentialStore().path("github_token", "work", "token")
    assert path.read_text() == "s3cret-value"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, output = run("creds", "ls")
    assert "github_token:work" in output and "token" in output
    assert "s3cret-value" not in output
    code, output = run("creds", "rm", "github_token:work")
    assert code == 0 and not path.exists()
    code, output = run("creds", "rm", "github_token:work")
    assert code == 1 and "No credential" in output


def test_creds_add_multi_field_type_reads_one_line_per_field() -> None:
    """
    A type with several fields takes them one per line from stdin.
    """
    code, _ = run("creds", "add", "discord_bot", input="app\npub\nbot\n")
    assert code == 0
    assert CredentialStore().read("discord_bot") == {
        "application_id": "app",
        "public_key": "pub",
        "bot_token": "bot",
    }
    code, output = run("creds", "add", "x_twitter_api", input="only-one\n")
    assert code == 1 and "consumer_secret" in output


def test_creds_add_rejects_an_unsafe_reference() -> None:
    """
    A reference that would escape the store is refused as a usage error.
    """
    code, output = run("creds", "add", "../etc:passwd", input="x\n")
    assert code == 2 and "bad credential reference" in output
