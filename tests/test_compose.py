"""docker-compose.yml, Dockerfile and docker/entrypoint.sh: valid, consistent, and started the README's way.

No Docker engine is needed: `docker compose config` (or the older `docker-compose config`) only reads and
interpolates the file. The entrypoint is run for real with a stand-in `dxnavi` that records its arguments.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dxnavi.cli import app
from ground.config import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENTRYPOINT = PROJECT_ROOT / "docker" / "entrypoint.sh"
API_START = "docker/entrypoint.sh api"  # the one production start command (image, compose, README)


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1), whichever answers `version`."""
    for candidate in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(candidate[0]) is None:
            continue
        probe = subprocess.run([*candidate, "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return candidate
    return None


def compose_config(tmp_path: Path, env: dict[str, str], *profiles: str) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed "
            "(apt-get install docker-compose, or the Docker compose plugin)"
        )
    env_file = tmp_path / "empty.env"  # a developer's own .env must not decide the outcome
    env_file.write_text("", encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DXNAVI_", "CHROMA_", "OLLAMA_"))}
    return subprocess.run(
        [
            *command,
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            *(a for p in profiles for a in ("--profile", p)),
            "config",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        timeout=120,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = compose_config(tmp_path_factory.mktemp("compose"), {"DXNAVI_API_KEY": "test-key"})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_config_validates_with_the_five_services(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {"chroma", "api", "ui", "ollama", "openwebui"}
    assert config["services"]["ollama"]["profiles"] == ["ollama"]
    assert config["services"]["openwebui"]["profiles"] == ["openwebui"]


def test_openwebui_profile_validates_and_is_wired_to_the_api(tmp_path: Path) -> None:
    from bot.api.schemas import MODEL_ID

    result = compose_config(tmp_path, {"DXNAVI_API_KEY": "test-key"}, "openwebui")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    webui, api = services["openwebui"], services["api"]
    env = webui["environment"]

    assert env["OPENAI_API_BASE_URL"] == f"http://api:{api['environment']['DXNAVI_API_PORT']}/v1"
    assert env["OPENAI_API_KEY"] == "test-key"
    assert set(webui["networks"]) & set(api["networks"])
    # dxnavi's own model does the background tasks it answers itself (bot/tasks.py); nothing is downloaded.
    assert env["TASK_MODEL_EXTERNAL"] == env["DEFAULT_MODELS"] == MODEL_ID
    for task in ("TITLE", "TAGS", "FOLLOW_UP"):
        assert env[f"ENABLE_{task}_GENERATION"] == "true"
    for off in (
        "AUTOCOMPLETE_GENERATION",
        "RETRIEVAL_QUERY_GENERATION",
        "SEARCH_QUERY_GENERATION",
        "OLLAMA_API",
    ):
        assert env[f"ENABLE_{off}"] == "false"
    assert env["OFFLINE_MODE"] == "true"
    assert any(":/app/backend/data" in str(v) for v in webui["volumes"])


def test_chroma_image_is_pinned_to_the_installed_client_version(config: dict[str, Any]) -> None:
    chroma = config["services"]["chroma"]
    image, _, tag = chroma["image"].partition(":")
    client = importlib.metadata.version("chromadb")

    assert image == "chromadb/chroma"
    assert tag.split(".")[:2] == client.split(".")[:2]
    assert any(v.endswith(":/data") or ":/data:" in v for v in map(str, chroma["volumes"]))
    assert "/api/v2/heartbeat" in " ".join(chroma["healthcheck"]["test"])
    assert "ports" not in chroma  # reachable only on the internal network


def test_api_waits_for_chroma_and_uses_the_server_store(config: dict[str, Any]) -> None:
    api = config["services"]["api"]

    assert api["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert api["command"] == ["api"]
    assert api["environment"]["DXNAVI_STORE"] == "server"
    assert api["environment"]["DXNAVI_CHROMA_HOST"] == "chroma"
    assert api["environment"]["DXNAVI_API_KEY"] == "test-key"
    assert any(":/data" in str(v) for v in api["volumes"])


def test_ui_talks_to_the_api_and_never_mounts_the_index(config: dict[str, Any]) -> None:
    ui = config["services"]["ui"]

    assert ui["command"] == ["ui"]
    assert ui["environment"]["DXNAVI_API_URL"] == "http://api:8000"
    assert "volumes" not in ui


def test_compose_refuses_to_start_without_the_api_key(tmp_path: Path) -> None:
    result = compose_config(tmp_path, {})

    assert result.returncode != 0
    assert "DXNAVI_API_KEY" in result.stderr


def test_every_variable_in_compose_is_documented_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))

    assert used - documented == set()


def test_dockerfile_runs_as_non_root_with_the_entrypoint_and_a_healthcheck() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")

    assert "python:3.11-slim" in text
    assert re.search(r"^USER dxnavi$", text, flags=re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*", text, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in text
    assert 'CMD ["api"]' in text
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR


def test_entrypoint_ingests_then_serves_with_the_commands_the_cli_has(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    fake = bin_dir / "dxnavi"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n', encoding="utf-8")
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DXNAVI_DATA_DIR": str(tmp_path / "data")}

    for role in ("api", "ui"):
        done = subprocess.run(
            ["sh", str(ENTRYPOINT), role], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr

    ingest, serve, ui = calls.read_text(encoding="utf-8").splitlines()
    assert ingest == "ingest --quiet"
    assert serve.startswith("serve --host 0.0.0.0 --port 8000")
    assert ui.startswith("ui --host 0.0.0.0 --port 8501")
    runner = CliRunner()
    for command, options in (("ingest", ["--quiet"]), ("serve", serve.split()[1:]), ("ui", ui.split()[1:])):
        help_text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        for option in (o for o in options if o.startswith("--")):
            assert option in help_text, (
                f"`dxnavi {command}` has no {option} option (docker/entrypoint.sh uses it)"
            )


def test_readme_starts_production_with_the_same_command() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")

    assert API_START in readme
    assert "docker compose up" in readme
