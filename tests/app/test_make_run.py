"""`make run` migrates, serves /healthz and the sandbox's consent page; it and `make test`
install from the lock files, and `make run` installs nothing but what serving needs."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.servers import ROOT, clean_env, free_port, http_request, serving

# What only tests, lint, types, profiling and locking need: never in what `make run` installs.
TEST_TOOLS = {
    "pytest",
    "pytest-asyncio",
    "ruff",
    "mypy",
    "playwright",
    "schemathesis",
    "aiosmtpd",
    "py-spy",
    "authlib",
    "pip-tools",
    "openapi-schema-validator",
    "jsonschema",
    "pyyaml",
}


def pins(lock: str) -> dict[str, str]:
    """Every `name==version` of a lock file, each checked to carry a hash."""
    text = (ROOT / lock).read_text()
    entries = re.findall(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n((?:    --hash=\S+.*\n)+)", text, re.M
    )
    found = {canonicalize_name(name): version for name, version, _ in entries}
    named = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\b", text, re.M)
    assert len(found) == len(named), "every requirement is pinned with ==, with hashes"
    return found


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(line) for line in listed]


def test_make_run_serves_health_and_the_sandbox_consent_page(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(PORT=str(port), VAR_DIR=str(tmp_path / "var"))
    log = tmp_path / "run.log"
    with serving(
        ["make", "--no-print-directory", "run"],
        env=env,
        ready_url=base + "/healthz",
        cwd=ROOT,
        log=log,
        timeout=60,
    ):
        assert http_request("GET", base + "/healthz").json() == {"status": "ok"}
        assert http_request("GET", base + "/readyz").status_code == 200
        generated = json.loads((tmp_path / "var" / "secrets.json").read_text())
        consent = http_request(
            "GET",
            base + "/zoom-sandbox/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": generated["user_client_id"],
                "redirect_uri": base + "/api/zoom/oauth/user-callback",
                "state": "s",
            },
        )
        assert consent.status_code == 200
        assert "Approve" in consent.text
        assert "Deny" in consent.text
    output = log.read_text()
    assert (tmp_path / "var" / "specialistly.db").exists()
    secret_names = (
        "secret_key",
        "token_encryption_key",
        "user_client_secret",
        "s2s_client_secret",
        "webhook_secret_token",
    )
    for name in secret_names:
        assert generated[name] not in output


def test_the_lock_files_pin_what_pyproject_declares_and_runtime_holds_no_test_tool() -> None:
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert requirement.specifier.contains(runtime[name]), (name, runtime[name])
    for requirement in declared("dev"):
        name = canonicalize_name(requirement.name)
        assert requirement.specifier.contains(dev[name]), (name, dev[name])
    assert {name: dev.get(name) for name in runtime} == runtime
    assert not TEST_TOOLS & set(runtime)
    assert set(dev) >= TEST_TOOLS


def dry_run(target: str, venv: Path) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", f"VENV={venv}", target],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


def test_make_run_and_make_test_install_from_their_lock_file(tmp_path: Path) -> None:
    run = dry_run("run", tmp_path / "venv")
    assert "install --quiet --require-hashes -r requirements.txt" in run
    assert "install --quiet --no-deps -e ." in run
    assert "requirements-dev.txt" not in run
    assert "[dev]" not in run
    test = dry_run("pytest", tmp_path / "venv")
    assert "install --quiet --require-hashes -r requirements-dev.txt" in test
    assert "install --quiet --no-deps -e ." in test


def test_a_fresh_make_run_install_brings_the_locked_runtime_and_no_test_tool(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", "install-run"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    listing = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m, json;"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    installed = {canonicalize_name(k): v for k, v in json.loads(listing.stdout).items()}
    assert not TEST_TOOLS & set(installed)
    locked = pins("requirements.txt")
    assert {name: installed.get(name) for name in locked} == locked
    # Every module of the app and the sandbox imports with the runtime lock alone.
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib, pkgutil, specialistly, zoom_sandbox\n"
            "for package in (specialistly, zoom_sandbox):\n"
            "    for found in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
            "        if '.migrations' not in found.name:\n"
            "            importlib.import_module(found.name)\n",
        ],
        check=True,
        timeout=120,
    )
    help_text = subprocess.run(
        [str(venv / "bin" / "specialistly"), "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "serve" in help_text
