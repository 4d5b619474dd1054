"""Right for the right reasons (explain.guided) and spectral relevance analysis (explain.spectral)."""

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import laplacian
from scipy.spatial.distance import cdist
from torch import nn

from helpers.explain.guided import rrr_loss, rrr_penalty
from helpers.explain.spectral import laplacian_spectrum, purity, spray
from tests.conftest import tiny_batch, tiny_cnn


def _linear_softmax(k: int = 4, d: int = 9, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, k)).double()


def test_rrr_equals_its_formula_on_a_linear_model():
    """For logits Wx + b: ∂/∂x Σ_k log p_k = Σ_k W_k − K Σ_j p_j W_j, written out by hand."""
    model = _linear_softmax()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 1, 3, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 1])
    mask = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    mask[..., 0, :2] = True
    w, b = model[1].weight.detach(), model[1].bias.detach()
    p = torch.softmax(x.flatten(1) @ w.T + b, dim=1)
    grad = w.sum(0) - w.shape[0] * p @ w  # N×D
    penalty = (grad * mask.flatten().double()).pow(2).sum(1).mean()
    cross_entropy = -torch.log(p[torch.arange(5), y]).mean()
    assert rrr_penalty(model, x, mask).item() == pytest.approx(penalty.item(), rel=1e-12)
    loss = rrr_loss(model, x, y, mask=mask, weight=7.5)
    assert loss.item() == pytest.approx((cross_entropy + 7.5 * penalty).item(), rel=1e-12)
    unweighted = rrr_loss(model, x, y, mask=mask, weight=0.0)
    assert unweighted.item() == pytest.approx(cross_entropy.item(), rel=1e-12)


class _Functional(nn.Module):
    """A smooth two-layer net whose weights are given tensors, so that gradcheck can vary them."""

    def __init__(self, w1, b1, w2, b2):
        super().__init__()
        self.w1, self.b1, self.w2, self.b2 = w1, b1, w2, b2

    def forward(self, x):
        return torch.tanh(x.flatten(1) @ self.w1.T + self.b1) @ self.w2.T + self.b2


def test_rrr_gradient_passes_gradcheck_in_float64():
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)
              for s in ((5, 9), (5,), (3, 5), (3,))]
    x = torch.rand(4, 1, 3, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    mask = torch.rand(4, 1, 3, 3, generator=g, dtype=torch.float64)  # a soft mask in [0, 1]

    def loss(*weights):
        return rrr_loss(_Functional(*weights), x, y, mask=mask, weight=3.0)

    assert torch.autograd.gradcheck(loss, params, eps=1e-6, atol=1e-7)


def test_rrr_drives_the_gradient_off_the_masked_pixels():
    """A few steps of the loss on a tiny CNN shrink the penalty, which cross-entropy alone does not."""
    x, y = tiny_batch(n=32)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., :4, :4] = 1.0
    penalties = {}
    for weight in (0.0, 10.0):
        model = tiny_cnn().eval()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(30):
            opt.zero_grad()
            rrr_loss(model, x, y, mask=mask, weight=weight).backward()
            opt.step()
        penalties[weight] = rrr_penalty(model, x, mask).item()
    assert penalties[10.0] < 0.1 * penalties[0.0]


def test_rrr_leaves_the_input_and_model_alone():
    model = tiny_cnn()
    x, y = tiny_batch()
    before = x.clone()
    loss = rrr_loss(model, x, y, mask=torch.ones(1, 1, 12, 12), weight=1.0)
    assert loss.requires_grad and torch.equal(x, before) and not x.requires_grad
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("kwargs, error, message", [
    ({"mask": torch.ones(1, 1, 5, 5)}, ValueError, "mask must be N×C×H×W"),
    ({"mask": torch.full((1, 1, 12, 12), 2.0)}, ValueError, r"mask must lie in \[0, 1\]"),
    ({"weight": -1.0}, ValueError, "weight must be ≥ 0"),
    ({"weight": float("inf")}, ValueError, "weight must be a finite number"),
])
def test_rrr_bad_arguments(kwargs, error, message):
    x, y = tiny_batch()
    options = {"mask": torch.ones(1, 1, 12, 12), "weight": 1.0, **kwargs}
    with pytest.raises(error, match=message):
        rrr_loss(tiny_cnn(), x, y, **options)


# --- SpRAy ----------------------------------------------------------------------------------------------



def test_spray_recovers_two_known_groups():
    g = torch.Generator().manual_seed(0)
    maps = 0.05 * torch.rand(50, 1, 16, 16, generator=g)
    truth = torch.randperm(50, generator=g) < 30  # 30 maps point at the corner, 20 at the centre
    maps[truth, :, 1:4, 1:4] += 1.0 + torch.rand(30, 1, 3, 3, generator=g)
    maps[~truth, :, 5:11, 5:11] += 0.5 + torch.rand(20, 1, 6, 6, generator=g)
    result = spray(maps, neighbours=5)
    assert result.n_clusters == 2 and result.eigengap > 0.1
    assert purity(result.clusters, truth) == 1.0
    assert result.eigenvalues[:2].abs().max() < 1e-9  # two connected components: two zero eigenvalues


def test_laplacian_spectrum_matches_scipy():
    g = torch.Generator().manual_seed(3)
    maps = torch.rand(40, 1, 8, 8, generator=g)
    values, _ = laplacian_spectrum(maps, pool=2, neighbours=6)
    v = torch.nn.functional.avg_pool2d(maps.double(), 2).flatten(1).numpy()
    v = v / np.abs(v).sum(1, keepdims=True)
    d = cdist(v, v)
    np.fill_diagonal(d, np.inf)
    w = np.zeros_like(d)
    np.put_along_axis(w, np.argsort(d, axis=1)[:, :6], 1.0, axis=1)
    w = np.maximum(w, w.T)
    assert np.allclose(values, np.linalg.eigvalsh(laplacian(w, normed=True)), atol=1e-10)


def test_purity():
    clusters = torch.tensor([0, 0, 0, 1, 1, 2])
    truth = torch.tensor([1, 1, 0, 0, 0, 1])
    assert purity(clusters, truth) == pytest.approx(5 / 6)
    assert purity(clusters, clusters) == 1.0


@pytest.mark.parametrize("maps, kwargs, message", [
    (torch.rand(2, 1, 8, 8), {}, "at least 3 maps"),
    (torch.full((5, 1, 8, 8), float("nan")), {}, "NaN"),
    (torch.rand(5, 8, 8), {}, "maps must have 4 dimensions"),
    (torch.rand(5, 1, 8, 8), {"neighbours": 5}, "neighbours must be <"),
    (torch.rand(5, 1, 8, 8), {"neighbours": 2, "n_clusters": 5}, "n_clusters must be <"),
    (torch.rand(5, 1, 8, 8), {"neighbours": 2, "pool": 9}, "pool must be ≤"),
])
def test_spray_bad_arguments(maps, kwargs, message):
    with pytest.raises(ValueError, match=message):
        spray(maps, **kwargs)
