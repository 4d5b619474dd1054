"""MTCNN's three networks (PNet, RNet, ONet), their pretrained weights (SHA-256 checked) and ONet or RNet as
an ordinary two-class model (``classifier``)."""

from __future__ import annotations

import functools
import hashlib
import io
from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from helpers import _assets
from helpers._checks import check_device, read_sums
from helpers.models import Normalize


def _normalize() -> Normalize:
    """MTCNN's input scaling (255·x − 127.5) / 128, written for pixels x in [0, 1]."""
    return Normalize([0.5] * 3, [128 / 255] * 3)


def _trunk(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


def _conv(name: str, c_in: int, c_out: int, k: int) -> list[tuple[str, nn.Module]]:
    """A convolution and its PReLU, named as in the original weights (conv1, prelu1, …)."""
    return [(f"conv{name}", nn.Conv2d(c_in, c_out, k)), (f"prelu{name}", nn.PReLU(c_out))]


class PNet(nn.Module):
    """The proposal network: fully convolutional, one 12×12 window per output position (stride 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = _normalize()
        self.body = _trunk(*_conv("1", 3, 10, 3), ("pool1", nn.MaxPool2d(2, 2, ceil_mode=True)),
                           *_conv("2", 10, 16, 3), *_conv("3", 16, 32, 3))
        self.face = nn.Conv2d(32, 2, 1)  # logits (no face, face) per window
        self.box = nn.Conv2d(32, 4, 1)  # box regression per window

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(self.normalize(x))
        return self.face(h), self.box(h)


class RNet(nn.Module):
    """The refinement network: a 24×24 crop → face logits and box regression."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = _normalize()
        self.body = _trunk(*_conv("1", 3, 28, 3), ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
                           *_conv("2", 28, 48, 3), ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
                           *_conv("3", 48, 64, 2), ("flatten", nn.Flatten()),
                           ("dense4", nn.Linear(576, 128)), ("prelu4", nn.PReLU(128)))
        self.face = nn.Linear(128, 2)
        self.box = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(self.normalize(x))
        return self.face(h), self.box(h)


class ONet(nn.Module):
    """The output network: a 48×48 crop → face logits, box regression and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = _normalize()
        self.body = _trunk(*_conv("1", 3, 32, 3), ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
                           *_conv("2", 32, 64, 3), ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
                           *_conv("3", 64, 64, 3), ("pool3", nn.MaxPool2d(2, 2, ceil_mode=True)),
                           *_conv("4", 64, 128, 2), ("flatten", nn.Flatten()),
                           ("dense5", nn.Linear(1152, 256)), ("prelu5", nn.PReLU(256)))
        self.face = nn.Linear(256, 2)
        self.box = nn.Linear(256, 4)
        self.landmarks = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(self.normalize(x))
        return self.face(h), self.box(h)


# The original weights' names for the heads, and the dense layer that reads the flattened convolutions:
# the original flattens channels-last and transposed (W×H×C, from Caffe via TensorFlow), torch's Flatten
# C×H×W, so that layer's columns are put in torch's order once, on load.
_HEADS = {"conv4_1": "face", "conv4_2": "box", "dense5_1": "face", "dense5_2": "box",
          "dense6_1": "face", "dense6_2": "box", "dense6_3": "landmarks"}
_FLATTENED = {"rnet": ("dense4", 64, 3), "onet": ("dense5", 128, 3)}  # layer, channels, side


def _state_dict(name: str, original: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original checkpoint's tensors under this module's names, the flattened layer's columns
    reordered."""
    state = {}
    for key, value in original.items():
        layer, kind = key.rsplit(".", 1)
        if name in _FLATTENED and layer == _FLATTENED[name][0] and kind == "weight":
            _, channels, side = _FLATTENED[name]
            value = value.reshape(-1, side, side, channels).permute(0, 3, 2, 1).reshape(value.shape[0], -1)
        state[f"{_HEADS[layer]}.{kind}" if layer in _HEADS else f"body.{key}"] = value
    return state


def _weights(name: str) -> dict[str, torch.Tensor]:
    """``mtcnn/NAME.pt``, its SHA-256 checked against ``mtcnn/SHA256SUMS``, loaded with weights_only."""
    folder = _assets.models_dir() / "mtcnn"
    path = folder / f"{name}.pt"
    if not (folder / "SHA256SUMS").is_file() or not path.is_file():
        missing = path if (folder / "SHA256SUMS").is_file() else folder / "SHA256SUMS"
        raise FileNotFoundError(f"{missing} (the MTCNN weights) is missing; {_assets.restore_hint(missing)}")
    raw = path.read_bytes()
    expected = read_sums(folder / "SHA256SUMS").get(path.name)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise ValueError(f"{path} is corrupted or was modified: SHA-256 {digest[:12]}… does not match "
                         f"mtcnn/SHA256SUMS; {_assets.restore_hint(path)}")
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


class Networks(NamedTuple):
    pnet: PNet
    rnet: RNet
    onet: ONet


def mtcnn(device: str | torch.device | None = None) -> Networks:
    """Fresh PNet, RNet and ONet with the pretrained weights (SHA-256 checked), in eval mode, on ``device``
    (default the CPU; the networks are small)."""
    device = check_device(device) or torch.device("cpu")
    nets = []
    for name, build in (("pnet", PNet), ("rnet", RNet), ("onet", ONet)):
        net = build()
        missing, unexpected = net.load_state_dict(_state_dict(name, _weights(name)), strict=False)
        if unexpected or set(missing) != {"normalize.mean", "normalize.std"}:
            raise ValueError(f"{name}.pt does not fit {build.__name__}: missing {missing}, "
                             f"unexpected {unexpected}")
        nets.append(net.eval().requires_grad_(False).to(device))
    return Networks(*nets)


@functools.lru_cache(maxsize=4)
def _default_networks(device: torch.device) -> Networks:
    return mtcnn(device)


def classifier(net: RNet | ONet) -> nn.Sequential:
    """RNet or ONet as an ordinary classifier of its crops: pixels in [0, 1] → logits (no face, face).

    Shares ``net``'s layers (no copy); a plain ``nn.Sequential``, so LRP, Grad-CAM (layer names such as
    ``"prelu4"``) and every attribution method apply.
    """
    if not isinstance(net, (RNet, ONet)):
        raise TypeError(f"net must be an RNet or ONet (from helpers.faces.mtcnn()); got {type(net).__name__}")
    return nn.Sequential(OrderedDict([("normalize", net.normalize), *net.body.named_children(),
                                      ("face", net.face)]))
