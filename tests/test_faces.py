"""The MTCNN face detector of helpers.faces against facenet-pytorch's own numbers, and its face score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from helpers import _assets, data, faces

REFERENCE = json.loads((Path(__file__).parent / "data" / "mtcnn_reference.json").read_text())


@pytest.fixture(scope="module")
def nets() -> faces.Networks:
    return faces.mtcnn("cpu")


@pytest.fixture(scope="module")
def astronaut_face() -> torch.Tensor:
    """The astronaut's head and shoulders, 1×3×240×220: the cascade finds one face in it."""
    return data.photo("astronaut")[None, :, 20:260, 120:340].clone()


@pytest.mark.parametrize("name", list(REFERENCE["photos"]))
def test_detect_reproduces_facenet_pytorch(name, nets):
    """Same number of faces, boxes within 1 pixel, probabilities within 1e-4 (scripts/make_mtcnn_reference.py
    ran facenet-pytorch 2.6.0's MTCNN(keep_all=True).detect on the same photos)."""
    expected = REFERENCE["photos"][name]
    image = data.photo(name)
    assert list(image.permute(1, 2, 0).shape) == expected["shape"]
    (found,) = faces.detect(image[None], networks=nets)
    assert found.boxes.shape == (len(expected["probs"]), 4) and found.probs.shape == (len(expected["probs"]),)
    if expected["probs"]:
        assert torch.allclose(found.boxes, torch.tensor(expected["boxes"]), atol=1.0, rtol=0)
        assert torch.allclose(found.probs, torch.tensor(expected["probs"]), atol=1e-4, rtol=0)


def test_a_batch_is_its_images_one_by_one(nets):
    images = torch.stack([data.photo("astronaut"), data.photo("camera")])
    batch = faces.detect(images, networks=nets)
    for image, found in zip(images, batch):
        (alone,) = faces.detect(image[None], networks=nets)
        assert torch.equal(found.boxes, alone.boxes) and torch.equal(found.probs, alone.probs)


def test_pyramid_is_mtcnns():
    """12/20 · 0.709ᵏ while the shorter side, scaled, is still ≥ 12 pixels."""
    scales = faces.pyramid(100, 300)
    assert scales[0] == pytest.approx(0.6)
    assert all(b / a == pytest.approx(0.709) for a, b in zip(scales, scales[1:]))
    assert 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709
    assert faces.pyramid(19, 19) == []


def test_classifier_is_onets_face_output(nets, astronaut_face):
    """classifier(onet) gives ONet's own face logits; the flattened layer's reordered columns are checked by
    the parity test (a wrong order would not find the astronaut)."""
    crop = torch.nn.functional.interpolate(astronaut_face[:, :, 40:160, 60:160], size=(48, 48), mode="area")
    model = faces.classifier(nets.onet)
    assert torch.equal(model(crop), nets.onet(crop)[0])
    assert model(crop).softmax(1)[0, 1] > 0.99
    assert model(torch.full_like(crop, 0.5)).softmax(1)[0, 1] < 0.1  # a grey square is no face


def test_face_score_is_positive_exactly_when_a_face_is_found(nets, astronaut_face):
    for name in ("astronaut", "camera", "chelsea", "coffee"):
        image = data.photo(name)[None]
        (found,) = faces.detect(image, networks=nets)
        score = faces.face_score(image, networks=nets)
        assert (score > 0).item() == (len(found.probs) > 0), name
        if len(found.probs):  # the score is the best ONet box's margin, the detector's probability
            assert score.item() == pytest.approx(found.probs.max().item() - 0.7, abs=1e-6)


def test_descending_the_cascade_loss_hides_the_face(nets, astronaut_face):
    """PGD (ε = 8/255, L∞) on cascade_loss: at every step face_score's sign is the detector's verdict, and the
    face is gone within 30 steps."""
    x = astronaut_face
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(30):
        adversarial = (x + delta).clamp(0, 1)
        score = faces.face_score(adversarial.detach(), networks=nets)
        (found,) = faces.detect(adversarial.detach(), networks=nets)
        assert (score > 0).item() == (len(found.probs) > 0)
        if score.item() < 0:
            break
        loss = faces.cascade_loss(adversarial, networks=nets)
        (gradient,) = torch.autograd.grad(loss.sum(), delta)
        with torch.no_grad():
            delta -= gradient.sign() / 255
            delta.clamp_(-8 / 255, 8 / 255)
    assert score.item() < 0 and len(found.probs) == 0


def test_face_score_has_a_gradient(nets, astronaut_face):
    x = astronaut_face.clone().requires_grad_(True)
    faces.face_score(x, networks=nets).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for net in nets for p in net.parameters())


def test_a_damaged_weight_file_is_refused(tmp_path, monkeypatch):
    shutil.copytree(_assets.models_dir() / "mtcnn", tmp_path / "mtcnn")
    path = tmp_path / "mtcnn" / "onet.pt"
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 1
    path.write_bytes(bytes(raw))
    monkeypatch.setattr(_assets, "MODELS_ROOT", tmp_path)
    with pytest.raises(ValueError, match=r"onet\.pt is corrupted or was modified"):
        faces.mtcnn()
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"onet\.pt \(the MTCNN weights\) is missing"):
        faces.mtcnn()


def test_photos():
    for name, (_, _, about) in data.PHOTOS.items():
        image = data.photo(name)
        assert image.dtype == torch.float32 and image.dim() == 3 and image.shape[0] == 3 and about
        assert 0 <= image.min() and image.max() <= 1
    camera = data.photo("camera")
    assert torch.equal(camera[0], camera[1]) and torch.equal(camera[0], camera[2])
    with pytest.raises(ValueError, match="name must be one of"):
        data.photo("lena")


BAD = {
    "uint8": (lambda x: (x * 255).to(torch.uint8), TypeError, r"images must be a floating-point.*/ 255"),
    "0-255 floats": (lambda x: x * 255, ValueError, r"images must lie in \[0, 1\].*divide"),
    "float64": (lambda x: x.double(), TypeError, r"images must have the model's dtype torch.float32"),
    "rank 3": (lambda x: x[0], ValueError, r"images must have 4 dimensions.*images\[None\]"),
    "grey": (lambda x: x[:, :1], ValueError, r"images must be colour.*expand\(-1, 3, -1, -1\)"),
    "too small": (lambda x: x[:, :, :19, :50], ValueError, r"images must be at least min_face_size = 20"),
    "a list": (lambda x: x.tolist(), TypeError, r"images must be a torch.Tensor"),
}


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("function", [faces.detect, faces.face_score, faces.cascade_loss])
def test_bad_images_are_refused_by_name(case, function, nets):
    make, error, message = BAD[case]
    x = torch.rand(1, 3, 24, 30, generator=torch.Generator().manual_seed(0))
    with pytest.raises(error, match=message):
        function(make(x), networks=nets)


def test_bad_options_are_refused_by_name(nets):
    x = torch.rand(1, 3, 24, 30, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="min_face_size must be ≥ 12"):
        faces.detect(x, min_face_size=8, networks=nets)
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        faces.detect(x, factor=1.0, networks=nets)
    with pytest.raises(TypeError, match="thresholds must be three"):
        faces.detect(x, thresholds=0.5, networks=nets)
    with pytest.raises(ValueError, match=r"thresholds\[2\] must be in \[0, 1\]"):
        faces.detect(x, thresholds=(0.6, 0.7, 7), networks=nets)
    with pytest.raises(TypeError, match="networks must be"):
        faces.detect(x, networks=(nets.onet, nets.rnet, nets.pnet))
    with pytest.raises(ValueError, match=r"margin must be in \[0, 1\]"):
        faces.cascade_loss(x, margin=-0.1, networks=nets)
    with pytest.raises(TypeError, match="net must be an RNet or ONet"):
        faces.classifier(nets.pnet)


def test_lrp_through_prelu(nets, astronaut_face):
    """PReLU passes relevance on unchanged: LRP-0 on ONet (piecewise linear) is gradient × its normalised
    input (x − 0.5)·∂f/∂x (LRP starts after the Normalize), and on a PReLU network without biases every cut
    of the graph holds the whole logit."""
    import copy

    from helpers.explain import conservation, lrp

    model = copy.deepcopy(faces.classifier(nets.onet)).double()
    crop = torch.nn.functional.interpolate(astronaut_face[:, :, 40:160, 60:160], size=(48, 48), mode="area")
    crop = crop.double().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(crop)[0, 1], crop)
    ours, reference = lrp(model, crop.detach(), 1, rule="zero"), (crop.detach() - 0.5) * gradient
    assert ((ours - reference).norm() / reference.norm()).item() <= 1e-8
    torch.manual_seed(0)
    unbiased = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.PReLU(4),
                                   torch.nn.MaxPool2d(2, ceil_mode=True), torch.nn.Flatten(),
                                   torch.nn.Linear(4 * 5 * 5, 8, bias=False), torch.nn.PReLU(8),
                                   torch.nn.Linear(8, 2, bias=False)).double()
    with torch.no_grad():
        for module in unbiased:
            if isinstance(module, torch.nn.PReLU):
                module.weight.uniform_(-0.5, 0.5)  # slopes of either sign
    x = torch.rand(3, 3, 11, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logit = unbiased(x)[:, 1]
    sums = conservation(unbiased, x, 1, rule="zero")
    assert any("PReLU" in name for name in sums)
    for name, total in sums.items():
        assert torch.allclose(total, logit, rtol=1e-10, atol=1e-12), name


def test_lime_on_slic_superpixels(nets, astronaut_face):
    """scikit-image's SLIC segments go straight into lime; ids 0 … S−1, each segment one weight."""
    from skimage.segmentation import slic

    from helpers.explain import lime, superpixels

    crop = torch.nn.functional.interpolate(astronaut_face[:, :, 40:160, 60:160], size=(48, 48), mode="area")
    segments = superpixels(crop, n_segments=20)
    assert segments.shape == (1, 48, 48) and segments.dtype == torch.int64
    assert torch.equal(torch.unique(segments), torch.arange(int(segments.max()) + 1))
    direct = slic(crop[0].permute(1, 2, 0).double().numpy(), n_segments=20, channel_axis=-1, start_label=0)
    assert len(torch.unique(segments)) == len(set(direct.flatten().tolist()))
    weights = lime(faces.classifier(nets.onet), crop, 1, segments=segments, n_samples=64,
                   generator=torch.Generator().manual_seed(0))
    for s in range(int(segments.max()) + 1):  # one weight per superpixel, on all of its pixels
        assert len(torch.unique(weights[0, 0][segments[0] == s])) == 1
