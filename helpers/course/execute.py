"""Re-execute notebooks in place and save their outputs (``make notebooks``).

    python -m helpers.course.execute notebooks/*.ipynb

Each notebook runs top to bottom in a fresh kernel of the current environment, from the
notebook's own folder; execution timestamps are dropped so that a re-run changes only what the
code printed or drew. The wall time of each notebook is reported (the course's budget is 90 s).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute_node(nb: nbformat.NotebookNode, folder: Path, *, timeout: int = 600,
                 env: Mapping[str, str] | None = None) -> float:
    """Execute ``nb`` in place in a fresh kernel started in ``folder``, with the environment variables
    ``env`` added to this process's (``HELPERS_LANG``: its checks' language); return the wall time in s."""
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute(**({"env": {**os.environ, **env}} if env else {}))
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return seconds


def execute(path: Path, *, timeout: int = 600) -> float:
    """Execute the notebook at ``path`` in place; return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    seconds = execute_node(nb, path.parent, timeout=timeout)
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: {seconds:.1f} s")
    return 0


__all__ = ["execute", "execute_node", "main"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
