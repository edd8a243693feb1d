from __future__ import annotations

import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import socket, sys
    attempts = []
    real_getaddrinfo = socket.getaddrinfo
    def record(*args, **kwargs):
        attempts.append(args[0])
        raise OSError("network disabled in this probe")
    socket.getaddrinfo = record
    import shared_utils.brokers.registry
    sdks = ("kiteconnect", "SmartApi", "NorenRestApiPy")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in sdks)
    print("after-registry-import", loaded)
    from shared_utils.brokers.angel_one import _smartconnect_class
    _smartconnect_class()
    print("lookups", attempts)
    """
)


def test_shared_code_imports_no_sdk_and_smartapi_import_makes_no_network_lookup() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines == ["after-registry-import []", "lookups []"]
    assert "ipify" not in result.stderr
