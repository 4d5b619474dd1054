"""Homework 6's private black box, answering from another process: ``python -m helpers.course.hw6_server``.

In one Python process a black box is black only by agreement: whoever holds the object can reach the
model behind it and its counter. At grading the instructor therefore starts this server with the private
checkpoint; the student's kernel gets its address only (``$HELPERS_HW6_SERVER``), never the weights or
their path. The server keeps the query count and refuses a query that would exceed the budget; the judge
reads the count and the reference figures (clean accuracy, the baselines on the private box) from it.
Start one server per graded notebook: its budget is one student's.

    python -m helpers.course.hw6_server --checkpoint PATH --port 0          # prints the address to export
    python -m helpers.course.hw6_server --checkpoint - --socket /tmp/hw6.sock < PATH

A process's command line is public on most systems: ``--checkpoint -`` reads the weights from standard
input, so that the path appears nowhere. The process boundary keeps the weights out of the kernel's
objects; run the server under another user account than the students' kernels, so that the operating
system also keeps them out of reach of files and memory.

The protocol, one request per connection: a line of JSON, ``{"op": "query", "shape": [N, 1, 28, 28],
"dtype": "float32"}`` followed by the N·784 pixels as little-endian float32, or ``{"op": "status"}`` or
``{"op": "figures"}``; the answer is a line of JSON, ``{"ok": true, …}`` (for a query followed by the
N×10 probabilities, float32), or ``{"ok": false, "kind": "input" | "budget" | "server", "error": …}``.
Nothing received is unpickled: a query is numbers only, checked before it reaches the model. The
students' side of the protocol is ``hw6_client.RemoteBlackBox``.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import socketserver
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from helpers._checks import check_images, check_model, num_classes
from helpers.course import homework
from helpers.course.hw6_client import IMAGE_SHAPE, SERVER_ENV
from helpers.models import fashion_blackbox

MAX_IMAGES = 10_000  # per query: a bound on what one message may make the server read
MAX_HEADER = 4096  # bytes in the JSON line


class Refused(ValueError):
    """A request the server does not answer; ``kind`` says why: ``input`` (a malformed message or
    images), ``budget`` (it would exceed the budget) or ``server`` (the server's own failure)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class PrivateBox:
    """The server's state: the private model, its budget, the queries answered so far and the reference
    figures (computed before the server starts). ``answer(stream)`` reads one request and returns the
    reply's JSON and payload."""

    def __init__(self, model: nn.Module, *, budget: int, figures: dict[str, Any]) -> None:
        self._model = check_model(model).eval()
        self.budget = budget
        self.queries = 0
        self.classes = num_classes(self._model, torch.zeros(1, *IMAGE_SHAPE))
        self.figures = figures

    def status(self) -> dict[str, Any]:
        return {"ok": True, "queries": self.queries, "budget": self.budget, "classes": self.classes}

    def answer(self, stream: BinaryIO) -> tuple[dict[str, Any], bytes]:
        header = _read_header(stream)
        op = header.get("op")
        if op == "status":
            return self.status(), b""
        if op == "figures":
            return {"ok": True, **self.figures}, b""
        if op != "query":
            raise Refused("input", f"unknown op {op!r}; the server answers 'query', 'status' and 'figures'")
        x = _read_images(stream, header)
        if self.queries + len(x) > self.budget:
            raise Refused("budget", f"this query of {len(x)} images would exceed the budget: {self.queries} "
                                    f"of {self.budget} queries are spent")
        self.queries += len(x)
        with torch.no_grad():
            probs = self._model(x).softmax(1).float()
        return {**self.status(), "shape": list(probs.shape)}, probs.numpy().astype("<f4").tobytes()


def _read_header(stream: BinaryIO) -> dict[str, Any]:
    line = stream.readline(MAX_HEADER + 1)
    if not line.endswith(b"\n"):
        raise Refused("input", f"a request starts with one line of JSON of at most {MAX_HEADER} bytes, "
                               "ended by a newline")
    try:
        header = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Refused("input", f"the request's first line is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise Refused("input", f"the request's first line must be a JSON object; got {type(header).__name__}")
    return header


def _read_images(stream: BinaryIO, header: dict[str, Any]) -> torch.Tensor:
    """The query's images, checked as the tensor contract checks them: N×1×28×28 float32 in [0, 1]."""
    shape, dtype = header.get("shape"), header.get("dtype")
    if dtype != "float32":
        raise Refused("input", f"images must be sent as float32; got dtype {dtype!r} — send x.float()")
    if (not isinstance(shape, list) or len(shape) != 4
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
            or tuple(shape[1:]) != IMAGE_SHAPE or not 1 <= shape[0] <= MAX_IMAGES):
        raise Refused("input", f"images must have shape N×1×28×28 with 1 ≤ N ≤ {MAX_IMAGES}; got {shape!r}")
    size = int(np.prod(shape)) * 4
    data = stream.read(size)
    if len(data) != size:
        raise Refused("input", f"the message ended after {len(data)} of the {size} bytes its shape announces")
    x = torch.from_numpy(np.frombuffer(data, dtype="<f4").astype(np.float32)).view(*shape)
    try:
        check_images(x)
    except (TypeError, ValueError) as error:
        raise Refused("input", str(error)) from None
    return x


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30  # seconds: a client that stops mid-message is dropped, and the server goes on

    def handle(self) -> None:
        try:
            reply, payload = self.server.box.answer(self.rfile)  # type: ignore[attr-defined]
        except Refused as refusal:
            reply, payload = {"ok": False, "kind": refusal.kind, "error": str(refusal)}, b""
        except OSError:
            return  # the client went away or timed out: nothing to answer
        except Exception as error:  # noqa: BLE001 - a bug answers the one request, never stops the server
            reply, payload = {"ok": False, "kind": "server", "error": f"{type(error).__name__}: {error}"}, b""
        try:
            self.wfile.write(json.dumps(reply).encode() + b"\n" + payload)
            self.wfile.flush()
            if not reply["ok"]:
                self._drain()
        except OSError:
            pass

    def _drain(self) -> None:
        """After a refusal, read what the client is still sending (up to the largest query) before closing:
        closing with unread bytes resets the connection, and the client would lose the answer it was sent."""
        self.connection.shutdown(socket.SHUT_WR)  # the answer is complete
        self.connection.settimeout(5)
        left = MAX_HEADER + MAX_IMAGES * int(np.prod(IMAGE_SHAPE)) * 4
        while left > 0:
            chunk = self.connection.recv(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)


class _TCPServer(socketserver.TCPServer):
    allow_reuse_address = True


def make_server(box: PrivateBox, *, port: int | None = None,
                unix_socket: str | None = None) -> socketserver.BaseServer:
    """A server for ``box`` on 127.0.0.1:``port`` (0: any free port) or on the Unix socket at ``unix_socket``;
    call ``serve_forever()`` on it. ``address(server)`` is what students set ``$HELPERS_HW6_SERVER`` to."""
    if (port is None) == (unix_socket is None):
        raise ValueError("give exactly one of port (TCP on 127.0.0.1) and unix_socket (a path)")
    if unix_socket is not None:
        Path(unix_socket).unlink(missing_ok=True)
        server: socketserver.BaseServer = socketserver.UnixStreamServer(unix_socket, _Handler)
    else:
        server = _TCPServer(("127.0.0.1", port), _Handler)
    server.box = box  # type: ignore[attr-defined]
    return server


def address(server: socketserver.BaseServer) -> str:
    """The server's address as ``$HELPERS_HW6_SERVER`` spells it."""
    where = server.server_address
    return f"unix:{where}" if isinstance(where, str) else f"{where[0]}:{where[1]}"


def load_private(checkpoint: str) -> nn.Module:
    """The private box's model from a weights-only checkpoint of ``fashion_blackbox`` (``-``: standard
    input)."""
    source: Any = io.BytesIO(sys.stdin.buffer.read()) if checkpoint == "-" else checkpoint
    model = fashion_blackbox()
    model.load_state_dict(torch.load(source, map_location="cpu", weights_only=True))
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.course.hw6_server``: serve a private checkpoint until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m helpers.course.hw6_server",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="the private fmnist_blackbox weights (- : stdin)")
    parser.add_argument("--budget", type=int, default=homework.HW6_QUERIES * len(homework.hw6_images()[0]),
                        help="queries allowed in all (default: %(default)s)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="serve on 127.0.0.1:PORT (0: any free port)")
    where.add_argument("--socket", help="serve on a Unix socket at this path")
    args = parser.parse_args(argv)
    if args.budget < 0:
        parser.error(f"--budget must be ≥ 0; got {args.budget}")
    torch.set_num_threads(1)
    model = load_private(args.checkpoint)

    x, y = homework.hw6_images()
    with torch.no_grad():  # the judge's reference figures, on the private box
        clean = (model(x).argmax(1) == y).float().mean().item()
    figures = {"clean": clean, "baselines": homework.hw6_baselines(model)}

    server = make_server(PrivateBox(model, budget=args.budget, figures=figures),
                         port=args.port, unix_socket=args.socket)
    print(f"serving homework 6's private black box at {address(server)} (budget {args.budget} queries); "
          f"students' kernels: export {SERVER_ENV}={address(server)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


__all__ = ["PrivateBox", "Refused", "address", "load_private", "main", "make_server"]

if __name__ == "__main__":
    sys.exit(main())
