"""The container shim builds for every architecture Swift builds for on Linux
(x86_64 and aarch64), each with its own seccomp audit value and syscall
numbers, and refuses to build for any other (an #error, not a filter that
refuses every call there).

Run from the repository root: /usr/bin/python3 -m pytest -q Tests/cli
aarch64 needs Debian's libc6-dev-arm64-cross (scripts/install-deps.sh).
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / "Sources/CLinux/container.c"
CROSS = {"aarch64-linux-gnu": Path("/usr/aarch64-linux-gnu/include")}
CLANG = shutil.which("clang")


def compile_for(target, headers):
    resource = subprocess.run([CLANG, "-print-resource-dir"], capture_output=True, text=True, check=True).stdout.strip()
    command = [CLANG, f"--target={target}", "-fsyntax-only", "-Wall", "-Werror",
               "-I", str(ROOT / "Sources/CLinux/include"), "-I", str(ROOT / "Sources/CLibraries/include")]
    if headers:
        command += ["-nostdinc", "-isystem", f"{resource}/include", "-isystem", str(headers)]
    return subprocess.run(command + [str(SHIM)], capture_output=True, text=True)


@pytest.mark.skipif(CLANG is None, reason="no clang on PATH")
@pytest.mark.parametrize("target", ["x86_64-linux-gnu", "aarch64-linux-gnu"])
def test_shim_builds_for(target):
    headers = CROSS.get(target)
    if headers is not None and not headers.is_dir():
        pytest.skip(f"no {target} headers (apt-get install libc6-dev-arm64-cross)")
    result = compile_for(target, headers)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(CLANG is None or not CROSS["aarch64-linux-gnu"].is_dir(), reason="no cross headers")
@pytest.mark.parametrize("target", ["riscv64-linux-gnu", "i686-linux-gnu", "x86_64-linux-gnux32"])
def test_shim_refuses_to_build_for(target):
    # Any libc headers will do: the architecture check comes first.
    result = compile_for(target, CROSS["aarch64-linux-gnu"])
    assert result.returncode != 0
    assert "berth's seccomp filter knows x86_64 and little-endian aarch64 only" in result.stderr
