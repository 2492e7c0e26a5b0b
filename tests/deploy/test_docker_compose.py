"""compose.yaml, checked without Docker: the Compose Specification's JSON schema, then rules.

The schema is the official compose-spec.json as vendored by ``check-jsonschema`` (its
``builtin_schemas/vendor`` folder, with the compose-spec licence beside it), validated with
``jsonschema``. The rules are this project's: health-gated start order, ports on 127.0.0.1
unless configured, secrets as files, no password in the environment, pinned images.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SECRETS_DIR = "deploy/docker/secrets"

# ${NAME}, ${NAME:-default}, ${NAME-default}: Compose's interpolation, resolved to defaults.
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")
PINNED_TAG = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*(@sha256:[0-9a-f]{64})?$")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEYS?$|_KEY$", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^@\s/]+@")


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def with_defaults(value: str) -> str:
    """``value`` with each ``${NAME:-default}`` replaced by its default, as an empty
    environment would leave it."""
    return VARIABLE.sub(lambda m: m.group("default") or "", value)


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def _healthcheck(service: dict[str, Any]) -> list[str] | None:
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check.get("test")
    return test if isinstance(test, list) else ["CMD-SHELL", str(test)]


def _host_ip(port: Any) -> str | None:
    """The host address of a published port with defaults applied (None: all interfaces)."""
    if isinstance(port, dict):
        ip = port.get("host_ip")
        return with_defaults(str(ip)) if ip is not None else None
    parts = with_defaults(str(port)).split(":")
    return ":".join(parts[:-2]) if len(parts) >= 3 else None


def compose_problems(document: dict[str, Any]) -> list[str]:
    """Every rule the compose file breaks, one line each (empty: all kept)."""
    problems: list[str] = []
    services: dict[str, Any] = document.get("services", {})
    declared_secrets: dict[str, Any] = document.get("secrets", {}) or {}
    declared_volumes: dict[str, Any] = document.get("volumes", {}) or {}
    for name, service in services.items():
        image = service.get("image", "")
        if "build" not in service and not PINNED_TAG.match(image):
            problems.append(f"{name}: image {image!r} is not pinned to a version tag")
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions does not wait for health")
            depends = {}
        for target, rule in depends.items():
            if target not in services:
                problems.append(f"{name}: depends_on {target}, which is not a service")
                continue
            condition = rule.get("condition")
            if condition == "service_healthy" and _healthcheck(services[target]) is None:
                problems.append(f"{name}: waits for {target} to be healthy; it has no healthcheck")
            elif condition == "service_completed_successfully":
                if services[target].get("restart", "no") != "no":
                    problems.append(f"{name}: {target} must be one-shot (restart: 'no')")
            elif condition not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: depends_on {target} must wait for health or success")
        for port in service.get("ports", []):
            if _host_ip(port) != "127.0.0.1":
                problems.append(f"{name}: port {port!r} is not bound to 127.0.0.1 by default")
        wanted = [s if isinstance(s, str) else s.get("source") for s in service.get("secrets", [])]
        for secret in wanted:
            source = declared_secrets.get(secret)
            if source is None:
                problems.append(f"{name}: secret {secret} is not declared")
            elif "file" not in source:
                problems.append(f"secret {secret}: must come from a file")
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        for variable, value in environment.items():
            text = "" if value is None else str(value)
            if variable.endswith("_FILE"):
                secret = text.removeprefix("/run/secrets/")
                if not text.startswith("/run/secrets/") or secret not in wanted:
                    problems.append(f"{name}: {variable} must name one of its /run/secrets/*")
            elif SECRET_NAME.search(variable) or URL_WITH_PASSWORD.search(text):
                problems.append(
                    f"{name}: {variable} holds a secret in plain text; use {variable}_FILE"
                )
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/")) and source not in declared_volumes:
                problems.append(f"{name}: volume {source} is not declared")
    for secret, source in declared_secrets.items():
        path = str(source.get("file", ""))
        if not path.startswith(f"./{SECRETS_DIR}/"):
            problems.append(f"secret {secret}: file {path!r} is not under ./{SECRETS_DIR}/")
        elif not (ROOT / f"{path}.example").is_file():
            problems.append(f"secret {secret}: no {path}.example showing its format")
    return problems


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    assert schema_errors(load_compose()) == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    document = load_compose()
    document["services"]["daemon"]["depend_on"] = document["services"]["daemon"].pop("depends_on")
    document["services"]["db"]["ports"] = "5432"
    errors = schema_errors(document)
    assert any("depend_on" in error for error in errors), errors
    assert any(error.startswith("services/db/ports") for error in errors), errors


def test_compose_yaml_keeps_every_rule() -> None:
    assert compose_problems(load_compose()) == []


def test_the_stack_starts_db_then_migrations_then_daemon_then_tui() -> None:
    services = load_compose()["services"]
    assert services["db"]["image"].startswith("timescale/timescaledb:")
    assert _healthcheck(services["db"])[1] == "pg_isready"  # type: ignore[index]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    daemon = services["daemon"]
    assert daemon["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert "command" not in daemon  # the image's CMD: algotrade daemon --config …
    assert _healthcheck(daemon) == ["CMD", "algotrade", "health", "--timeout", "4"]
    assert daemon["init"] is True
    assert daemon["restart"] == "unless-stopped"
    assert services["tui"]["command"][:2] == ["tui", "--serve"]
    assert services["tui"]["depends_on"] == {"daemon": {"condition": "service_healthy"}}
    assert "ports" not in services["db"]  # reached by the other services only
    assert {"db-data", "daemon-data"} <= set(load_compose()["volumes"])


def test_the_daemon_and_migrate_get_their_secrets_as_files() -> None:
    services = load_compose()["services"]
    assert services["daemon"]["environment"] == {
        "ALGOTRADE_API_KEYS_FILE": "/run/secrets/api_keys",
        "ALGOTRADE__DATABASE__URL_FILE": "/run/secrets/database_url",
    }
    assert services["migrate"]["environment"] == {
        "ALGOTRADE__DATABASE__URL_FILE": "/run/secrets/database_url"
    }
    assert services["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    ignore = (ROOT / SECRETS_DIR / ".gitignore").read_text().split()
    assert ignore[ignore.index("*") :] == ["*", "!.gitignore", "!*.example"]


def _break(document: dict[str, Any], case: str) -> None:
    services = document["services"]
    if case == "port on all interfaces":
        services["daemon"]["ports"] = ["8080:8080"]
    elif case == "port on a public default":
        services["tui"]["ports"] = ["${ALGOTRADE_BIND_ADDRESS:-0.0.0.0}:8081:8081"]
    elif case == "healthy without a healthcheck":
        services["db"]["healthcheck"] = {"disable": True}
    elif case == "unknown dependency":
        services["daemon"]["depends_on"] = {"migrations": {"condition": "service_healthy"}}
    elif case == "dependency without condition":
        services["daemon"]["depends_on"] = ["migrate"]
    elif case == "restarting one-shot":
        services["migrate"]["restart"] = "on-failure"
    elif case == "password in the environment":
        services["db"]["environment"]["POSTGRES_PASSWORD"] = "hunter2"
    elif case == "url with password":
        services["daemon"]["environment"]["ALGOTRADE__DB"] = "postgresql://a:b@db/x"
    elif case == "undeclared secret":
        services["daemon"]["secrets"].append("venue_key")
    elif case == "secret from the environment":
        document["secrets"]["api_keys"] = {"environment": "ALGOTRADE_API_KEYS"}
    elif case == "secret file without example":
        document["secrets"]["api_keys"] = {"file": f"./{SECRETS_DIR}/admin_keys"}
    elif case == "_FILE outside its secrets":
        services["migrate"]["environment"]["ALGOTRADE_API_KEYS_FILE"] = "/run/secrets/api_keys"
    elif case == "unpinned image":
        services["db"]["image"] = "timescale/timescaledb:latest"
    elif case == "undeclared volume":
        services["db"]["volumes"] = ["pgdata:/var/lib/postgresql/data"]


BROKEN = [
    "port on all interfaces",
    "port on a public default",
    "healthy without a healthcheck",
    "unknown dependency",
    "dependency without condition",
    "restarting one-shot",
    "password in the environment",
    "url with password",
    "undeclared secret",
    "secret from the environment",
    "secret file without example",
    "_FILE outside its secrets",
    "unpinned image",
    "undeclared volume",
]


@pytest.mark.parametrize("case", BROKEN)
def test_each_rule_catches_a_broken_compose_file(case: str) -> None:
    document = copy.deepcopy(load_compose())
    _break(document, case)
    assert compose_problems(document), f"{case}: not caught"


def test_the_bind_address_override_is_the_documented_variable() -> None:
    ports = [p for s in load_compose()["services"].values() for p in s.get("ports", [])]
    assert ports
    assert all(str(p).startswith("${ALGOTRADE_BIND_ADDRESS:-127.0.0.1}:") for p in ports)
    assert "ALGOTRADE_BIND_ADDRESS" in (ROOT / "docs" / "docker.md").read_text()
