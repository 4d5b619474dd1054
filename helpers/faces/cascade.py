"""MTCNN's cascade (``detect``), and its verdict as a differentiable function of the pixels (``face_score``,
``cascade_loss``, ``FaceDetector``)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

from helpers._checks import check_images, check_int, check_number, check_positive, shape_or_type
from helpers.faces.networks import Networks, ONet, PNet, RNet, _default_networks, mtcnn

THRESHOLDS = (0.6, 0.7, 0.7)  # p₁ ≥, p₂ >, p₃ > these (facenet-pytorch's defaults)
MIN_FACE_SIZE = 20
FACTOR = 0.709
WINDOW = {"pnet": 12, "rnet": 24, "onet": 48}  # the side of the square each network reads


class Faces(NamedTuple):
    """The faces found in one image: ``boxes`` K×4 (x₁, y₁, x₂, y₂ in pixels) and ``probs`` K (ONet's p₃),
    the largest box first."""
    boxes: torch.Tensor
    probs: torch.Tensor


def pyramid(height: int, width: int, min_face_size: float = MIN_FACE_SIZE,
            factor: float = FACTOR) -> list[float]:
    """The scales at which PNet reads the image: 12/min_face_size · factorᵏ while the shorter side ≥ 12."""
    height, width = check_int(height, "height"), check_int(width, "width")
    min_face_size = check_positive(min_face_size, "min_face_size")
    factor = check_number(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
    scale, shortest, scales = 12.0 / min_face_size, min(height, width) * 12.0 / min_face_size, []
    while shortest >= 12:
        scales.append(scale)
        scale, shortest = scale * factor, shortest * factor
    return scales


def _windows(prob: torch.Tensor, reg: torch.Tensor, scale: float, threshold: float) -> torch.Tensor:
    """PNet's windows with p₁ ≥ threshold as rows (x₁, y₁, x₂, y₂, p₁, regression ×4) in image pixels."""
    ys, xs = torch.nonzero(prob >= threshold, as_tuple=True)
    corner = torch.stack([xs, ys], dim=1).to(prob.dtype)
    q1, q2 = ((2 * corner + 1) / scale).floor(), ((2 * corner + 12) / scale).floor()
    return torch.cat([q1, q2, prob[ys, xs, None], reg[:, ys, xs].T], dim=1)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Each box widened to a square of its longer side around the same centre (the original's ``rerec``)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1, y1 = boxes[:, 0] + (w - side) / 2, boxes[:, 1] + (h - side) / 2
    return torch.cat([torch.stack([x1, y1, x1 + side, y1 + side], dim=1), boxes[:, 4:]], dim=1)


def _regress(boxes: torch.Tensor, reg: torch.Tensor, plus_one: bool = True) -> torch.Tensor:
    """Box regression: each corner moved by reg × the box's side (side + 1, as the original, by default)."""
    w = boxes[:, 2] - boxes[:, 0] + plus_one
    h = boxes[:, 3] - boxes[:, 1] + plus_one
    moved = boxes[:, :4] + reg * torch.stack([w, h, w, h], dim=1)
    return torch.cat([moved, boxes[:, 4:]], dim=1)


def _crops(image: torch.Tensor, boxes: torch.Tensor, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each box's pixels (clipped to the image, corners truncated to integers) resized to side×side by area
    averaging; and which boxes had any pixels (the others are dropped, as by the original)."""
    _, height, width = image.shape
    corners = boxes[:, :4].detach().trunc().int().tolist()
    crops, kept = [], []
    for x1, y1, x2, y2 in corners:
        x1, y1, x2, y2 = max(x1, 1), max(y1, 1), min(x2, width), min(y2, height)
        kept.append(y2 > y1 - 1 and x2 > x1 - 1)
        if kept[-1]:
            crops.append(F.interpolate(image[None, :, y1 - 1:y2, x1 - 1:x2], size=(side, side), mode="area"))
    empty = image.new_zeros(0, 3, side, side)
    return (torch.cat(crops) if crops else empty), torch.tensor(kept, dtype=torch.bool, device=image.device)


def _nms_min(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy NMS where overlap is intersection / the smaller area (pixel-inclusive sides, as the original's
    last stage)."""
    x1, y1, x2, y2 = boxes.detach().unbind(1)
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order, keep = torch.argsort(scores.detach()), []
    while order.numel():
        best, rest = order[-1], order[:-1]
        keep.append(best)
        w = (torch.minimum(x2[best], x2[rest]) - torch.maximum(x1[best], x1[rest]) + 1).clamp(min=0)
        h = (torch.minimum(y2[best], y2[rest]) - torch.maximum(y1[best], y1[rest]) + 1).clamp(min=0)
        order = rest[w * h / torch.minimum(area[best], area[rest]) <= threshold]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long, device=boxes.device)


class _Stages(NamedTuple):  # what the cascade computed on one image (with gradients where asked)
    p1_max: torch.Tensor  # the highest PNet probability over every window and scale
    p2: torch.Tensor  # RNet's probabilities of the boxes PNet passed to it
    p3: torch.Tensor  # ONet's probabilities of the boxes RNet passed to it
    faces: Faces


def _cascade(image: torch.Tensor, nets: Networks, min_face_size: float, thresholds: tuple[float, ...],
             factor: float) -> _Stages:
    """The three stages on one image 3×H×W; the boxes' positions are chosen on detached values, the
    probabilities keep the pixels' gradients."""
    _, height, width = image.shape
    t1, t2, t3 = thresholds
    # Stage 1: PNet over the pyramid; NMS within each scale (IoU 0.5), then over all (IoU 0.7)
    found, p1_max = [], []
    for scale in pyramid(height, width, min_face_size, factor):
        size = (int(height * scale + 1), int(width * scale + 1))
        logits, reg = nets.pnet(F.interpolate(image[None], size=size, mode="area"))
        prob = logits.softmax(1)[0, 1]
        p1_max.append(prob.max())
        rows = _windows(prob.detach(), reg[0].detach(), scale, t1)
        found.append(rows[nms(rows[:, :4], rows[:, 4], 0.5)])
    boxes = torch.cat(found)
    boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
    boxes = _square(_regress(boxes[:, :5], boxes[:, 5:9], plus_one=False))
    # Stage 2: RNet on 24×24 crops
    crops, kept = _crops(image, boxes, WINDOW["rnet"])
    logits, reg = nets.rnet(crops)
    p2 = logits.softmax(1)[:, 1]
    passed = p2.detach() > t2
    boxes = torch.cat([boxes[kept][passed, :4], p2.detach()[passed, None]], dim=1)
    keep = nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes = _square(_regress(boxes[keep], reg.detach()[passed][keep]))
    # Stage 3: ONet on 48×48 crops; NMS by intersection over the smaller box
    crops, kept = _crops(image, boxes, WINDOW["onet"])
    logits, reg = nets.onet(crops)
    p3 = logits.softmax(1)[:, 1]
    passed = p3.detach() > t3
    boxes = _regress(torch.cat([boxes[kept][passed, :4], p3.detach()[passed, None]], dim=1),
                     reg.detach()[passed])
    boxes = boxes[_nms_min(boxes[:, :4], boxes[:, 4], 0.7)]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    boxes = boxes[torch.argsort(area, descending=True)]
    return _Stages(torch.stack(p1_max).max(), p2, p3, Faces(boxes[:, :4], boxes[:, 4]))


def _checked(images: object, networks: object, min_face_size: object, thresholds: object,
             factor: object) -> tuple[Networks, float, tuple[float, float, float], float]:
    """The cascade's arguments, checked; the networks (the pretrained ones on the images' device by
    default)."""
    if isinstance(images, torch.Tensor) and images.dim() == 3:
        raise ValueError(f"images must have 4 dimensions N×3×H×W; got shape {tuple(images.shape)} — "
                         "add the batch dimension with images[None]")
    if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1] != 3:
        grey = images.shape[1] == 1
        hint = " — repeat a grey photo's channel with images.expand(-1, 3, -1, -1)" if grey else ""
        raise ValueError(f"images must be colour, N×3×H×W; got shape {tuple(images.shape)}{hint}")
    check_images(images, "images", channels=3)  # the dtype against the networks' below
    min_face_size = check_positive(min_face_size, "min_face_size")
    if min_face_size < 12:
        raise ValueError(f"min_face_size must be ≥ 12 (PNet's window); got {min_face_size}")
    factor = check_number(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(thresholds, (tuple, list)) or len(thresholds) != 3:
        raise TypeError(f"thresholds must be three probabilities (PNet, RNet, ONet); got {thresholds!r}")
    thresholds = tuple(check_number(t, f"thresholds[{i}]", low=0.0, high=1.0)
                       for i, t in enumerate(thresholds))
    side = min(images.shape[2:])
    if side < min_face_size:
        raise ValueError(f"images must be at least min_face_size = {min_face_size:g} pixels on each side "
                         f"(the smallest face the cascade looks for); got shape {tuple(images.shape)}")
    if networks is None:
        networks = _default_networks(images.device)
    if not isinstance(networks, tuple) or len(networks) != 3 or not all(
            isinstance(n, k) for n, k in zip(networks, (PNet, RNet, ONet))):
        raise TypeError(f"networks must be (PNet, RNet, ONet) as helpers.faces.mtcnn() returns them; "
                        f"got {shape_or_type(networks)}")
    check_images(images, "images", model=networks[0])
    return Networks(*networks), min_face_size, thresholds, factor


def detect(images: torch.Tensor, *, networks: Networks | None = None, min_face_size: float = MIN_FACE_SIZE,
           thresholds: tuple[float, float, float] = THRESHOLDS, factor: float = FACTOR) -> list[Faces]:
    """The faces MTCNN finds in each image of ``images`` (float N×3×H×W in [0, 1]): per image a ``Faces``
    (boxes K×4 as x₁, y₁, x₂, y₂ in pixels, ONet's probabilities K; K = 0 where none), largest first.

    The defaults are MTCNN's (facenet-pytorch's): faces of ≥ 20 pixels, thresholds 0.6, 0.7, 0.7, pyramid
    factor 0.709. ``networks`` defaults to the pretrained ones (``mtcnn()``) on the images' device.
    """
    nets, min_face_size, thresholds, factor = _checked(images, networks, min_face_size, thresholds, factor)
    with torch.no_grad():
        return [_cascade(image, nets, min_face_size, thresholds, factor).faces for image in images]


def face_score(images: torch.Tensor, *, networks: Networks | None = None,
               min_face_size: float = MIN_FACE_SIZE, thresholds: tuple[float, float, float] = THRESHOLDS,
               factor: float = FACTOR) -> torch.Tensor:
    """The cascade's verdict as a differentiable number per image: > 0 exactly when ``detect`` finds a face.

    The margin of the last stage that any box reached:

        s = max_b p₃(b) − t₃   if RNet passed any box to ONet,
            max_b p₂(b) − t₂   else if PNet passed any box to RNet,
            max_w p₁(w) − t₁   else (every window w of every scale of the pyramid).

    ONet's passing boxes always leave at least one after NMS, so s > 0 ⇔ a face is detected (except for the
    cascade's own corner case of PNet boxes wholly outside the image, which it drops). Which boxes each
    stage reads is chosen on the current pixels and held fixed; the gradient flows through the
    probabilities (and the crops' pixels), not through the choice. Its gradient reaches one box per image;
    to hide a face, descend ``cascade_loss``, which pushes every box at every stage.
    """
    nets, min_face_size, thresholds, factor = _checked(images, networks, min_face_size, thresholds, factor)
    t1, t2, t3 = thresholds
    scores = []
    for image in images:
        stages = _cascade(image, nets, min_face_size, thresholds, factor)
        if stages.p3.numel():
            scores.append(stages.p3.max() - t3)
        elif stages.p2.numel():
            scores.append(stages.p2.max() - t2)
        else:
            scores.append(stages.p1_max - t1)
    return torch.stack(scores)


def cascade_loss(images: torch.Tensor, *, margin: float = 0.1, networks: Networks | None = None,
                 min_face_size: float = MIN_FACE_SIZE, thresholds: tuple[float, float, float] = THRESHOLDS,
                 factor: float = FACTOR) -> torch.Tensor:
    """What an attacker who wants no face found descends, per image: every stage's excess over its threshold,

        L = [max_w p₁(w) − t₁ + κ]₊ + Σ_b [p₂(b) − t₂ + κ]₊ + Σ_b [p₃(b) − t₃ + κ]₊,      κ = ``margin``,

    over the boxes each stage reads (chosen on the current pixels, as in ``face_score``). L = 0 leaves no box
    above t₃ − κ at ONet, so no face is detected; unlike ``face_score``'s maximum, the sums push all the
    overlapping boxes around a face at once, and the PNet and RNet terms attack the earlier stages too
    (Kaziakhmedov et al. 2019 attack MTCNN's stages together in the same spirit).
    """
    margin = check_number(margin, "margin", low=0.0, high=1.0)
    return _cascade_loss(images, margin, *_checked(images, networks, min_face_size, thresholds, factor))


def _cascade_loss(images: torch.Tensor, margin: float, nets: Networks, min_face_size: float,
                  thresholds: tuple[float, float, float], factor: float) -> torch.Tensor:
    """``cascade_loss`` without its checks, for an attack's inner loop (``_checked`` gives the cascade's
    arguments)."""
    t1, t2, t3 = thresholds
    losses = []
    for image in images:
        stages = _cascade(image, nets, min_face_size, thresholds, factor)
        losses.append((stages.p1_max - t1 + margin).relu() + (stages.p2 - t2 + margin).relu().sum()
                      + (stages.p3 - t3 + margin).relu().sum())
    return torch.stack(losses)


class FaceDetector(nn.Module):
    """The whole cascade as a two-class model, for attacks that only query: logits (−s, s)/2 with
    s = ``face_score``, so class 1 ("a face") wins exactly when the cascade detects a face and the margin
    z₁ − z₀ is s itself. Not differentiable through its box selection (see ``face_score``)."""

    def __init__(self, networks: Networks | None = None) -> None:
        super().__init__()
        nets = mtcnn() if networks is None else networks
        if not isinstance(nets, tuple) or len(nets) != 3 or not all(
                isinstance(n, k) for n, k in zip(nets, (PNet, RNet, ONet))):
            raise TypeError(f"networks must be (PNet, RNet, ONet) as helpers.faces.mtcnn() returns them; "
                            f"got {shape_or_type(nets)}")
        self.pnet, self.rnet, self.onet = nets

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = face_score(x, networks=Networks(self.pnet, self.rnet, self.onet))
        return torch.stack([-s, s], dim=1) / 2
