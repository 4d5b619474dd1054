"""Homework 6's private black box seen from a student's kernel: ``RemoteBlackBox``, an address only.

The box itself runs in another process, ``python -m helpers.course.hw6_server`` (whose docstring gives the
protocol); ``homework.hw6_blackbox()`` returns this client where ``$HELPERS_HW6_SERVER`` gives the
server's address. Nothing here can reach the model, its weights or the query count but through the server.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import numpy as np
import torch

from helpers._checks import check_images, check_labels
from helpers.attacks.blackbox import BlackBox, QueryBudgetExceeded

SERVER_ENV = "HELPERS_HW6_SERVER"  # the address students' kernels use: "127.0.0.1:PORT" or "unix:PATH"
IMAGE_SHAPE = (1, 28, 28)


class RemoteBlackBox(BlackBox):
    """The private box seen from a student's kernel: an address and nothing else. It answers like a
    ``BlackBox(output="probs")`` — so ``simba`` and ``square_attack`` take it — but every answer, the query
    count and the budget come from the server, which alone enforces the budget."""

    def __init__(self, address: str) -> None:
        if not isinstance(address, str) or not address:
            raise TypeError(f"address must be a str ('127.0.0.1:PORT' or 'unix:PATH'); got {address!r}")
        self.address = address
        self.output = "probs"
        self._model = None  # type: ignore[assignment]  # there is none on this side
        self._classes = int(self._request({"op": "status"})[0]["classes"])

    @property
    def budget(self) -> int:
        """The server's budget."""
        return int(self._request({"op": "status"})[0]["budget"])

    @property
    def queries(self) -> int:
        """The queries the server has answered."""
        return int(self._request({"op": "status"})[0]["queries"])

    def figures(self) -> dict[str, Any]:
        """The reference figures the server computed on its private box: ``clean`` accuracy and
        ``baselines`` (as ``homework.hw6_baselines``)."""
        return self._request({"op": "figures"})[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self._check_images(x)
        header = {"op": "query", "shape": list(x.shape), "dtype": "float32"}
        reply, payload = self._request(header, x.detach().cpu().contiguous().numpy().astype("<f4").tobytes())
        probs = np.frombuffer(payload, dtype="<f4").astype(np.float32).reshape(reply["shape"])
        return torch.from_numpy(probs).to(x.device)

    def _check_images(self, x: object, name: str = "x") -> torch.Tensor:
        x = check_images(x, name)
        if x.dtype != torch.float32:
            raise TypeError(f"{name} must be a float32 tensor; got dtype {x.dtype} — "
                            f"convert it with {name}.float()")
        if tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"{name} must have shape N×1×28×28; got {tuple(x.shape)}")
        return x

    def _check_labels(self, y: object, x: torch.Tensor, name: str = "y") -> torch.Tensor:
        return check_labels(y, x.shape[0], name, num_classes=self._classes).to(x.device)

    def _request(self, header: dict[str, Any], payload: bytes = b"") -> tuple[dict[str, Any], bytes]:
        try:
            with _connect(self.address) as sock:
                sock.sendall(json.dumps(header).encode() + b"\n" + payload)
                with sock.makefile("rb") as stream:
                    reply, rest = json.loads(stream.readline()), stream.read()
        except (ConnectionRefusedError, FileNotFoundError):
            raise ConnectionError(
                f"no homework 6 black box answers at {self.address} (${SERVER_ENV}). The private box runs in "
                "a server the instructor starts: `python -m helpers.course.hw6_server --checkpoint PATH "
                f"--port 0` prints the address to export as {SERVER_ENV}; to practise on the zoo's box, "
                f"unset {SERVER_ENV} and restart the kernel"
            ) from None
        except (OSError, json.JSONDecodeError) as error:
            raise ConnectionError(f"the homework 6 black box at {self.address} did not answer: "
                                  f"{error}") from None
        if not reply.get("ok"):
            kind, message = reply.get("kind"), reply.get("error", "refused")
            if kind == "budget":
                raise QueryBudgetExceeded(message)
            if kind == "input":
                raise ValueError(f"the black box refused the query: {message}")
            raise RuntimeError(f"the black box failed: {message}")
        return reply, rest


def _connect(where: str) -> socket.socket:
    if where.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: Any = where[len("unix:"):]
    else:
        host, sep, port = where.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"${SERVER_ENV} must be 'HOST:PORT' or 'unix:PATH'; got {where!r}")
        sock, target = socket.socket(socket.AF_INET, socket.SOCK_STREAM), (host, int(port))
    sock.settimeout(60)
    try:
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock


__all__ = ["IMAGE_SHAPE", "SERVER_ENV", "RemoteBlackBox"]
