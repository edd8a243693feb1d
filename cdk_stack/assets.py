"""Builds the Lambda assets without Docker: `python -m cdk_stack.assets`.

- `.build/app/`: copies of `lambda_functions/` and `shared_utils/` (no caches), the code asset.
- `.build/layer/python/`: the dependency layer, for the Lambda platform (manylinux aarch64,
  CPython 3.13, wheels only): `requirements.txt` installed with its dependencies, then the packages
  of `requirements-layer-nodeps.txt` without theirs (see below). Skipped when a stamp of both
  files' hash and the target platform matches, so repeated builds cost nothing.

The no-deps file is for packages whose declared dependencies must not all reach the layer: the
broker SDKs upstox-python-sdk (requires PyPI's `uuid`, a Python 2 module that would shadow the
standard library's inside the layer, which Lambda puts ahead of it on `sys.path`) and dhanhq
(requires pandas and pyOpenSSL, which its adapter path never imports). Their dependencies that the
platform does need are pinned in `requirements.txt`. Each is made a wheel on this machine first
(`pip wheel --no-deps`: upstox-python-sdk is published as an sdist only, which the platform
install's `--only-binary=:all:` refuses); only pure-Python wheels are accepted, the one kind a
machine other than the Lambda platform can build for it. After both installs the SDKs' own test
suites (top-level `test` packages) are removed, and a layer module named like a standard-library
one fails the build.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / ".build"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
NODEPS_REQUIREMENTS = REPO_ROOT / "requirements-layer-nodeps.txt"
SOURCE_PACKAGES = ("lambda_functions", "shared_utils")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
STAMP = ".requirements-stamp"
# Top-level packages removed from the layer: test suites that smartapi-python and
# upstox-python-sdk install as `test` (the standard library's own name); nothing imports them.
PRUNED = ("test", "tests")
# Wheel tags a machine other than the Lambda platform builds correctly for it.
PURE_WHEEL_SUFFIXES = ("-py3-none-any.whl", "-py2.py3-none-any.whl")


@dataclass(frozen=True)
class Platform:
    """The `pip install` target a layer is built for."""

    pip_platforms: tuple[str, ...]
    python_version: str | None

    def pip_arguments(self) -> list[str]:
        if not self.pip_platforms:
            return []
        platforms = [argument for tag in self.pip_platforms for argument in ("--platform", tag)]
        return [
            *platforms,
            "--python-version",
            str(self.python_version),
            "--implementation",
            "cp",
            "--only-binary=:all:",
        ]


# The Python 3.13 runtime runs on Amazon Linux 2023 (glibc 2.34), so manylinux_2_28 wheels load
# there; numpy >= 2.3 publishes aarch64 wheels only with that tag.
LAMBDA_ARM64_313 = Platform(
    pip_platforms=("manylinux_2_28_aarch64", "manylinux2014_aarch64"), python_version="3.13"
)
# The machine running the build: used by the packaging test, which must import the layer here.
HOST = Platform(pip_platforms=(), python_version=None)


class BuildError(Exception):
    """The layer cannot be built: pip failed (the message carries its output) or the result is unsafe."""


def requirements_digest(requirements: Path, platform: Platform, nodeps: Path | None = None) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    if nodeps is not None:
        digest.update(b"\0no-deps\0" + nodeps.read_bytes())
    digest.update(repr(platform).encode())
    if not platform.pip_platforms:
        digest.update(f"{sys.version_info[:2]}-{sys.platform}".encode())
    return digest.hexdigest()


def _pip(subcommand: str, *arguments: str | Path, what: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        subcommand,
        "--quiet",
        "--disable-pip-version-check",
        *map(str, arguments),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"{what} failed:\n{result.stdout}{result.stderr}")


def _install(site: Path, platform: Platform, *arguments: str | Path, what: str) -> None:
    _pip("install", "--no-compile", "--target", site, *platform.pip_arguments(), *arguments, what=what)


def pure_wheels(nodeps: Path, wheelhouse: Path) -> list[Path]:
    """The no-deps file's packages as wheels in `wheelhouse` (sdists built here, wheels downloaded).

    Only pure-Python wheels: one built here with compiled code would be for this machine.
    """
    _pip(
        "wheel",
        "--no-deps",
        "--wheel-dir",
        wheelhouse,
        "-r",
        nodeps,
        what="pip wheel for the no-deps packages",
    )
    wheels = sorted(wheelhouse.glob("*.whl"))
    impure = [wheel.name for wheel in wheels if not wheel.name.endswith(PURE_WHEEL_SUFFIXES)]
    if impure:
        raise BuildError(
            f"not pure-Python, so not buildable here for the layer: {', '.join(impure)} "
            f"(list it in {REQUIREMENTS.name}, installed from the platform's own wheels)"
        )
    return wheels


def stdlib_shadows(site: Path) -> list[str]:
    """Top-level modules in `site` named like a standard-library module (which they would hide)."""
    names: list[str] = []
    for entry in sorted(site.iterdir()):
        if entry.name.endswith((".dist-info", ".egg-info", ".pth")) or entry.name in ("bin", "__pycache__"):
            continue
        module = entry.name.split(".", 1)[0]
        if module in sys.stdlib_module_names:
            names.append(entry.name)
    return names


def build_app_asset(target: Path = BUILD_DIR / "app", source_root: Path = REPO_ROOT) -> Path:
    """A fresh copy of the handler and domain packages; stale files never survive a rebuild."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for package in SOURCE_PACKAGES:
        shutil.copytree(source_root / package, target / package, ignore=IGNORED)
    return target


def build_layer(
    target: Path = BUILD_DIR / "layer",
    *,
    requirements: Path = REQUIREMENTS,
    nodeps: Path | None = NODEPS_REQUIREMENTS,
    platform: Platform = LAMBDA_ARM64_313,
) -> Path:
    """`target/python/` holding the installed requirements (Lambda's layer layout)."""
    stamp = target / STAMP
    digest = requirements_digest(requirements, platform, nodeps)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest:
        return target
    if target.exists():
        shutil.rmtree(target)
    site = target / "python"
    site.mkdir(parents=True)
    try:
        _install(site, platform, "-r", requirements, what="pip install for the layer")
        if nodeps is not None:
            with tempfile.TemporaryDirectory(prefix="layer-wheels-") as wheelhouse:
                wheels = pure_wheels(nodeps, Path(wheelhouse))
                if wheels:
                    _install(site, platform, "--no-deps", *wheels, what="pip install --no-deps for the layer")
        for name in PRUNED:
            shutil.rmtree(site / name, ignore_errors=True)
        shadows = stdlib_shadows(site)
        if shadows:
            raise BuildError(f"the layer would hide standard-library modules: {', '.join(shadows)}")
    except BuildError:
        shutil.rmtree(target)
        raise
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    stamp.write_text(digest, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda code asset and dependency layer.")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    args = parser.parse_args(argv)
    build_app_asset(args.build_dir / "app")
    try:
        build_layer(args.build_dir / "layer")
    except BuildError as exc:
        parser.exit(1, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
