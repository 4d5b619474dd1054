"""Homework 6's private black box served from another process (``helpers.course.hw6_server``), end to end: the
instructor's server holds the weights, the count and the budget; a student's process holds an address."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from helpers.attacks import QueryBudgetExceeded
from helpers.course import homework, hw6_client, hw6_server

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 600
PRIVATE_CLASS = 3  # the private box always answers "Dress": its answers tell it apart from the practice box


def _private_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint of the black box's architecture that always answers ``PRIVATE_CLASS``."""
    from helpers import zoo

    model = zoo.load("fmnist_blackbox", device="cpu")
    with torch.no_grad():
        model[-1].weight.zero_()
        model[-1].bias.zero_()
        model[-1].bias[PRIVATE_CLASS] = 1.0
        model[1].weight.add_(0.123)  # a first layer no zoo model has, to look for in the student's memory
    torch.save(model.state_dict(), path)
    return model.state_dict()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPERS_HW6")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HELPERS_DEVICE="cpu", **extra)
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The instructor's server on 127.0.0.1 (a free port), the checkpoint fed on standard input; stopped at
    the end. Yields (address, the private weights)."""
    path = tmp_path_factory.mktemp("instructor") / "private_blackbox.pt"
    weights = _private_checkpoint(path)
    with path.open("rb") as checkpoint:
        process = subprocess.Popen(
            [sys.executable, "-m", "helpers.course.hw6_server", "--checkpoint", "-", "--port", "0",
             "--budget", str(BUDGET)],
            stdin=checkpoint, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
            cwd=ROOT,
        )
    try:
        line = process.stdout.readline()
        assert "serving homework 6's private black box at 127.0.0.1:" in line, line + process.stdout.read()
        address = line.split(" at ", 1)[1].split()[0]
        yield address, weights
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def _raw(address: str, message: bytes) -> dict:
    """Send ``message`` as it is and return the server's JSON line."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as stream:
            return json.loads(stream.readline())


def _query(shape, values: torch.Tensor | None = None, dtype: str = "float32", cut: int = 0) -> bytes:
    header = json.dumps({"op": "query", "shape": shape, "dtype": dtype}).encode() + b"\n"
    payload = b"" if values is None else values.numpy().astype("<f4").tobytes()
    return header + payload[: len(payload) - cut]


STUDENT = textwrap.dedent("""
    import gc, json, os, sys
    import torch
    from helpers.course import grading, homework
    from helpers.attacks import QueryBudgetExceeded, square_attack

    found = {}
    data = homework.hw6_data()
    box = data.blackbox
    found["no_model"] = box._model is None
    found["answers"] = box(data.x[:4]).argmax(1).tolist()
    for name in ("budget", "queries"):
        try:
            setattr(box, name, None if name == "budget" else 0)
            found[name + "_set"] = True
        except AttributeError:
            found[name + "_set"] = False
    verdict = grading.judge(data.x, show=False)  # 128 queries, counted by the server
    found["verdict"] = [verdict.private, verdict.queries, verdict.budget, verdict.clean_accuracy,
                        verdict.accuracy, verdict.baselines["strong"]]
    found["points"] = grading.judge_points(verdict)
    _, spent = square_attack(box, data.x[:2], data.y[:2], eps=data.eps, max_queries=3, x_init=data.x[:2])
    found["square"] = spent.tolist()
    box(data.x[:1].expand(box.budget - box.queries, -1, -1, -1).contiguous())  # spend the rest
    try:
        box(data.x[:1])
        found["over_budget"] = "answered"
    except QueryBudgetExceeded as refusal:
        found["over_budget"] = str(refusal)
    try:
        grading.judge(data.x, show=False)
        found["judge_over"] = "judged"
    except grading.SubmissionRejected as refusal:
        found["judge_over"] = str(refusal)
    private = torch.load(sys.argv[1], weights_only=True)["1.weight"]  # the test's copy, to look for
    found["weights_here"] = any(
        isinstance(o, torch.Tensor) and o.shape == private.shape and torch.equal(o, private)
        for o in gc.get_objects() if o is not private
    )
    found["path_in_env"] = any("private_blackbox" in v for v in os.environ.values())
    found["queries_end"] = box.queries
    print(json.dumps(found))
""")


def test_a_student_process_gets_answers_but_no_weights_and_no_way_around_the_budget(server, tmp_path):
    address, weights = server
    copy = tmp_path / "the_tests_own_copy.pt"  # for the student script to compare memory with, after the fact
    torch.save({"1.weight": weights["1.weight"]}, copy)
    student = subprocess.run([sys.executable, "-c", STUDENT, str(copy)], capture_output=True, text=True,
                             env=_env(HELPERS_HW6_SERVER=address), cwd=ROOT, timeout=900)
    assert student.returncode == 0, student.stderr[-3000:]
    found = json.loads(student.stdout.strip().splitlines()[-1])
    assert found["no_model"] and found["answers"] == [PRIVATE_CLASS] * 4  # the private box answers
    assert not found["budget_set"] and not found["queries_set"]  # read-only on the student's side
    private, queries, budget, clean, accuracy, strong = found["verdict"]
    x, y = homework.hw6_images()
    share = (y == PRIVATE_CLASS).float().mean().item()
    assert private and budget == BUDGET and queries == 4 + 128  # the grader's count is the server's
    assert clean == pytest.approx(share) and accuracy == pytest.approx(share)
    assert strong == pytest.approx([share] * len(homework.HW6_BASELINE_SEEDS))  # measured on the private box
    assert found["points"] == 0.0  # the clean images beat no baseline
    # a query attack runs on the remote box as on a local one: an image the box already gets wrong stops
    # after the first query, one it gets right (it always answers the same) spends all three
    assert found["square"] == [3 if label == PRIVATE_CLASS else 1 for label in y[:2].tolist()]
    assert "would exceed the budget" in found["over_budget"] and "budget is spent" in found["judge_over"]
    assert not found["weights_here"] and not found["path_in_env"]
    assert found["queries_end"] == BUDGET
    assert _raw(address, b'{"op": "status"}\n')["queries"] == BUDGET  # and the server agrees


@pytest.mark.parametrize(
    "message, error",
    [
        (b"garbage\n", "not JSON"),
        (b"[1, 2]\n", "must be a JSON object"),
        (b"x" * 5000, "one line of JSON"),
        (b'{"op": "weights"}\n', "unknown op 'weights'"),
        (b'{"op": "query", "shape": [1, 1, 28, 28], "dtype": "float32", "budget": null}\n', "ended after 0"),
        (_query([2, 3, 28, 28], torch.rand(2, 3, 28, 28)), "shape N×1×28×28"),
        (_query([0, 1, 28, 28]), "shape N×1×28×28"),
        (_query([1, 1, 28, 28], torch.rand(1, 1, 28, 28), dtype="float64"), "float32"),
        (_query([1, 1, 28, 28], torch.rand(1, 1, 28, 28) * 255), r"must lie in [0, 1]"),
        (_query([1, 1, 28, 28], torch.full((1, 1, 28, 28), float("nan"))), "NaN"),
        (_query([2, 1, 28, 28], torch.rand(2, 1, 28, 28), cut=10), "ended after 6262 of the 6272 bytes"),
    ],
)
def test_a_malformed_request_gets_a_clear_error_and_the_server_keeps_serving(server, message, error):
    address, _ = server
    before = _raw(address, b'{"op": "status"}\n')["queries"]
    reply = _raw(address, message)
    assert reply["ok"] is False and reply["kind"] == "input" and error in reply["error"]
    after = _raw(address, b'{"op": "status"}\n')
    assert after["ok"] and after["queries"] == before  # still serving, nothing counted


def test_the_client_checks_before_sending_and_maps_refusals(server, monkeypatch):
    address, _ = server
    box = hw6_client.RemoteBlackBox(address)
    x = homework.hw6_images()[0][:2]
    with pytest.raises(TypeError, match=r"x must be a float32 tensor.*x\.float\(\)"):
        box(x.double())
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        box(x * 255)
    with pytest.raises(ValueError, match="N×1×28×28"):
        box(torch.rand(2, 3, 28, 28))
    with pytest.raises(AttributeError):
        box.budget = 10**9
    monkeypatch.setattr(hw6_client.RemoteBlackBox, "_check_images", lambda self, x, name="x": x)
    with pytest.raises(ValueError, match=r"refused the query: .*must lie in \[0, 1\]"):
        box(x * 255)  # past the client's check, the server refuses too


def test_a_student_without_a_server_is_told_how_to_start_it(tmp_path, monkeypatch):
    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv(homework.HW6_SERVER_ENV, f"127.0.0.1:{port}")
    with pytest.raises(ConnectionError, match=r"python -m helpers.course.hw6_server --checkpoint PATH"):
        homework.hw6_data()
    monkeypatch.setenv(homework.HW6_SERVER_ENV, f"unix:{tmp_path / 'no.sock'}")
    with pytest.raises(ConnectionError, match="unset HELPERS_HW6_SERVER"):
        homework.hw6_blackbox()
    monkeypatch.setenv(homework.HW6_SERVER_ENV, "localhost")
    with pytest.raises(ValueError, match="HOST:PORT"):
        homework.hw6_blackbox()
    monkeypatch.delenv(homework.HW6_SERVER_ENV)
    monkeypatch.setenv("HELPERS_HW6_BLACKBOX", "/some/private.pt")  # the old, in-process way is refused
    with pytest.raises(RuntimeError, match="no longer read.*hw6_server"):
        homework.hw6_data()


def test_the_server_state_counts_and_refuses_in_process():
    """``PrivateBox`` without sockets: the count, the budget, a refusal that counts nothing."""
    from helpers import zoo

    box = hw6_server.PrivateBox(zoo.load("fmnist_blackbox", device="cpu"), budget=5,
                                figures={"clean": 0.5, "baselines": {}})
    x = torch.rand(3, 1, 28, 28)
    reply, payload = box.answer(io.BytesIO(_query([3, 1, 28, 28], x)))
    assert reply["queries"] == 3 and reply["shape"] == [3, 10] and len(payload) == 3 * 10 * 4
    with pytest.raises(hw6_server.Refused, match="would exceed the budget: 3 of 5") as refusal:
        box.answer(io.BytesIO(_query([3, 1, 28, 28], x)))
    assert refusal.value.kind == "budget" and box.queries == 3
    assert box.answer(io.BytesIO(b'{"op": "figures"}\n'))[0] == {"ok": True, "clean": 0.5, "baselines": {}}


def test_a_unix_socket_server_answers_like_the_tcp_one(tmp_path):
    import threading

    from helpers import zoo

    box = hw6_server.PrivateBox(zoo.load("fmnist_blackbox", device="cpu"), budget=10,
                                figures={"clean": 0.0, "baselines": {}})
    server = hw6_server.make_server(box, unix_socket=str(tmp_path / "hw6.sock"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        remote = hw6_client.RemoteBlackBox(hw6_server.address(server))
        x = homework.hw6_images()[0][:4]
        local = zoo.load("fmnist_blackbox", device="cpu")
        with torch.no_grad():
            assert torch.allclose(remote(x), local(x).softmax(1), atol=1e-6)
        assert remote.queries == 4 and remote.budget == 10
        with pytest.raises(QueryBudgetExceeded, match="4 of 10 queries are spent"):
            remote(homework.hw6_images()[0][:7])
    finally:
        server.shutdown()
        server.server_close()
