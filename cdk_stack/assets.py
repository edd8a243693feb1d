"""Builds the Lambda assets without Docker: `python -m cdk_stack.assets`.

- `.build/app/`: copies of `lambda_functions/` and `shared_utils/` (no caches), the code asset.
- `.build/layer/python/`: `requirements.txt` installed for the Lambda platform (manylinux aarch64,
  CPython 3.13, wheels only), the dependency layer. Skipped when a stamp of the requirements
  hash and target platform matches, so repeated builds cost nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / ".build"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
SOURCE_PACKAGES = ("lambda_functions", "shared_utils")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
STAMP = ".requirements-stamp"


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
    """pip failed; the message carries its output."""


def requirements_digest(requirements: Path, platform: Platform) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(repr(platform).encode())
    if not platform.pip_platforms:
        digest.update(f"{sys.version_info[:2]}-{sys.platform}".encode())
    return digest.hexdigest()


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
    platform: Platform = LAMBDA_ARM64_313,
) -> Path:
    """`target/python/` holding the installed requirements (Lambda's layer layout)."""
    stamp = target / STAMP
    digest = requirements_digest(requirements, platform)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest:
        return target
    if target.exists():
        shutil.rmtree(target)
    site = target / "python"
    site.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(site),
        *platform.pip_arguments(),
        "-r",
        str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(target)
        raise BuildError(f"pip install for the layer failed:\n{result.stdout}{result.stderr}")
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
