import pytest
import torch

from helpers.training import accuracy, predict, train
from tests.conftest import tiny_batch, tiny_cnn


def _fit(seed: int):
    model = tiny_cnn(seed=5)
    x, y = tiny_batch(40)
    history = train(model, x, y, epochs=3, lr=1e-2, batch_size=8,
                    generator=torch.Generator().manual_seed(seed), progress=False)
    return model, history


def test_training_is_deterministic_with_a_generator():
    a, ha = _fit(1)
    b, hb = _fit(1)
    c, _ = _fit(2)
    assert ha == hb
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


def test_training_leaves_the_global_rng_alone():
    model = tiny_cnn()
    x, y = tiny_batch(16)
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    train(model, x, y, epochs=1, lr=1e-3, batch_size=4, generator=torch.Generator().manual_seed(1),
          progress=False)
    assert torch.equal(torch.rand(1), expected)


def test_training_reduces_the_loss_and_fits():
    model, history = _fit(0)
    model2 = tiny_cnn(seed=5)
    x, y = tiny_batch(40)
    train(model2, x, y, epochs=40, lr=1e-2, batch_size=8, progress=False,
          generator=torch.Generator().manual_seed(0))
    assert history[-1] < history[0]
    assert accuracy(model2, x, y) >= 0.8  # random labels memorised; chance is 0.2


def test_accuracy_matches_a_direct_count():
    model = tiny_cnn().eval()
    x, y = tiny_batch(30)
    with torch.no_grad():
        direct = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy(model, x, y, batch_size=7) == pytest.approx(direct)
    assert predict(model, x, batch_size=7).shape == (30, 5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"epochs": 0}, ValueError, "epochs must be ≥ 1"),
        ({"lr": -1.0}, ValueError, "lr must be > 0"),
        ({"batch_size": 0}, ValueError, "batch_size must be ≥ 1"),
        ({"generator": 3}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_train_bad_arguments(kwargs, error, message):
    x, y = tiny_batch(8)
    args = {"epochs": 1, "lr": 1e-3, **kwargs}
    with pytest.raises(error, match=message):
        train(tiny_cnn(), x, y, progress=False, **args)


def test_images_outside_unit_range_are_refused():
    x, y = tiny_batch(4)
    with pytest.raises(ValueError,
                       match=r"images must lie in \[0, 1\]; got min 0.*max 255.*divide uint8 images by 255"):
        accuracy(tiny_cnn(), x * 255, y)
    with pytest.raises(TypeError, match="images must be a floating-point tensor; got dtype torch.uint8"):
        accuracy(tiny_cnn(), (x * 255).to(torch.uint8), y)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        accuracy(tiny_cnn(), x, y[:3])
    with pytest.raises(ValueError, match="images must have 4 dimensions"):
        accuracy(tiny_cnn(), x[0], y)
