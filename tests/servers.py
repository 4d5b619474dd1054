"""Two small tools for the tests that start a server (JupyterLab, `make lab`): a free loopback port, and
waiting until a page answers while the server is still alive."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_page(url: str, server: subprocess.Popen, *, what: str, timeout: float) -> str:
    """The body of ``url`` once it answers 200; an error naming ``what`` if the server exits or ``timeout``
    seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{what} exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return response.read().decode()
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{what} did not answer {url} within {timeout} s")
