import hashlib
import json
import pickle
import shutil

import pytest
import torch

from helpers import zoo
from helpers.attacks import pgd, robust_accuracy, success_rate
from helpers.data import fashion_mnist
from helpers.models import Normalize
from helpers.zoo.__main__ import main
from helpers.zoo.card import model_card
from helpers.zoo.evaluation import evaluate

# fmnist_cnn_pgd's targets are the issue's: 85 % clean here, 72 % robust (worst case of APGD-CE,
# APGD-DLR, PGD) in test_robust_accuracy_of_the_pgd_model_is_reproduced_on_a_subset.
MINIMUM = {"fmnist_cnn": 0.91, "fmnist_blackbox": 0.91, "fmnist_proxy": 0.90, "fmnist_cnn_pgd": 0.85,
           "fmnist_cnn_fast": 0.80, "fmnist_cnn_noise": 0.85, "shapes_cnn": 0.95,
           "fmnist_resnet": 0.87}
MINIMUM.update({"digits_cnn": 0.98, "words_cnn": 0.90})  # notebook 08b: spoken digits, words' languages
# the tagged models (issue 20) train on 20 000 images for 2 epochs; their accuracy is on split (a), tagged
MINIMUM.update({"fmnist_cleverhans": 0.90, "fmnist_rrr": 0.82, "fmnist_tag_random": 0.84})


@pytest.fixture(scope="module")
def measured():
    return {name: evaluate(name, device="cpu", robust=False) for name in zoo.names()}


@pytest.mark.parametrize("name", list(MINIMUM))
def test_zoo_model_meets_its_accuracy_target(name, measured):
    assert measured[name]["clean_accuracy"] >= MINIMUM[name]


# A transfer rate counts PGD examples (made on the proxy) that fool the victim; an example that ends next to
# the victim's decision boundary flips with the last bits of the float sums, which differ between CPUs (the
# figure is 0.642 on an Intel Xeon, 0.645 on an AMD EPYC, same code and thread count): allow 5 of 1 000.
TOLERANCE = {"transfer_rate": 5e-3}


def test_models_md_holds_the_measured_figures(measured):
    """MODELS.md and zoo.json are what `python -m helpers.zoo evaluate --write` measured."""
    info = json.loads((zoo.MODELS_DIR / "zoo.json").read_text())
    for name, metrics in measured.items():
        for key, value in metrics.items():
            tolerance = TOLERANCE.get(key, 1e-4)
            assert info[name]["metrics"][key] == pytest.approx(value, abs=tolerance), (name, key)
    assert (zoo.MODELS_DIR / "MODELS.md").read_text() == model_card()
    for metrics in measured.values():
        assert f"{100 * metrics['clean_accuracy']:.2f} %" in model_card()
    recorded = info["fmnist_proxy"]["metrics"]["transfer_rate"]
    assert f"{100 * recorded:.1f} %" in model_card()


def test_the_denoiser_costs_its_classifier_at_most_two_points(measured):
    """fmnist_cnn's clean accuracy through fmnist_denoiser (the issue's target: within 2 points of alone)."""
    assert measured["fmnist_denoiser"]["clean_accuracy"] >= measured["fmnist_cnn"]["clean_accuracy"] - 0.02


def test_the_proxy_transfers_to_the_black_box(measured):
    assert measured["fmnist_proxy"]["transfer_rate"] >= 0.4


def test_robust_accuracy_of_the_pgd_model_is_reproduced_on_a_subset():
    """MODELS.md's robust accuracy (1 000 images) is re-measured on the first 200 with the same attacks; the
    plain model's figure is held below what a weak attack (PGD-10, one start) already leaves standing."""
    recorded = json.loads((zoo.MODELS_DIR / "zoo.json").read_text())
    images, labels = fashion_mnist("test")
    x, y = images[:200], labels[:200]
    figure = recorded["fmnist_cnn_pgd"]["metrics"]["robust_accuracy"]
    subset = robust_accuracy(zoo.load("fmnist_cnn_pgd", device="cpu"), x, y, 0.1)
    assert abs(subset - figure) <= 0.07, (subset, figure)
    assert figure >= 0.72
    plain = zoo.load("fmnist_cnn", device="cpu")
    weak = 1 - success_rate(plain, pgd(plain, x, y, eps=0.1, alpha=0.02, steps=10,
                                       generator=torch.Generator().manual_seed(0)), y)
    assert recorded["fmnist_cnn"]["metrics"]["robust_accuracy"] <= weak + 0.03 < 0.05  # it has none


def test_load_gives_a_fresh_eval_model():
    a = zoo.load("fmnist_cnn", device="cpu")
    b = zoo.load("fmnist_cnn", device="cpu")
    assert not a.training and isinstance(a[0], Normalize)
    with torch.no_grad():
        a[1].weight.zero_()
    assert float(b[1].weight.detach().abs().sum()) > 0


def test_unknown_name_lists_the_known_ones():
    known = r"unknown zoo model 'resnet50'; known models: fmnist_cnn, fmnist_blackbox"
    with pytest.raises(ValueError, match=known):
        zoo.load("resnet50")


@pytest.fixture
def models_copy(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    shutil.copytree(zoo.MODELS_DIR, folder)
    monkeypatch.setattr(zoo, "MODELS_DIR", folder)
    return folder


def test_tampered_checkpoint_is_refused(models_copy):
    path = models_copy / "fmnist_cnn.pt"
    raw = bytearray(path.read_bytes())
    raw[-200] ^= 0x01
    path.write_bytes(bytes(raw))
    refusal = r"fmnist_cnn\.pt is corrupted or was modified.*helpers\.zoo train fmnist_cnn"
    with pytest.raises(ValueError, match=refusal):
        zoo.load("fmnist_cnn", device="cpu")


def test_truncated_checkpoint_is_refused(models_copy):
    path = models_copy / "shapes_cnn.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="corrupted"):
        zoo.load("shapes_cnn", device="cpu")


def test_missing_checkpoint_is_named(models_copy):
    (models_copy / "shapes_cnn.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"shapes_cnn\.pt for zoo model 'shapes_cnn' is missing"):
        zoo.load("shapes_cnn", device="cpu")


def test_a_malformed_sha256sums_line_is_refused_naming_the_line(tmp_path, monkeypatch):
    shutil.copy(zoo.checkpoint_path("shapes_cnn"), tmp_path / "shapes_cnn.pt")
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  shapes_cnn.pt\nthis line is broken\n")
    monkeypatch.setattr(zoo, "MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"SHA256SUMS, line 2 is not"):
        zoo.load("shapes_cnn", device="cpu")


class _NotWeights(dict):
    """Pickled as a global that weights_only loading refuses."""


def test_a_checkpoint_that_is_not_plain_weights_gets_the_projects_refusal(tmp_path, monkeypatch):
    torch.save(_NotWeights(a=torch.zeros(1)), tmp_path / "shapes_cnn.pt")
    digest = hashlib.sha256((tmp_path / "shapes_cnn.pt").read_bytes()).hexdigest()
    (tmp_path / "SHA256SUMS").write_text(f"{digest}  shapes_cnn.pt\n")
    monkeypatch.setattr(zoo, "MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match="not a state dict of shapes_cnn") as caught:
        zoo.load("shapes_cnn", device="cpu")
    assert "weights_only=False" not in str(caught.value)
    assert not isinstance(caught.value, pickle.UnpicklingError)


def test_cli_list_prints_the_card(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fmnist_blackbox" in out and "Recipes" in out


def test_cli_rejects_unknown_model(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "nope"])
    assert exit_.value.code == 2  # argparse's usage error, not a success
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_the_clever_hans_gap_and_its_fixes(measured):
    """fmnist_cleverhans is right on the tagged test split for the wrong reason: without tags it loses the
    shirts, with tags on the other classes it calls them shirts; its saliency sits on the tag. Its fixed
    twin (right for the right reasons) and the random-tag baseline are equally good on all three splits."""
    hans, fixed, baseline = (measured[n] for n in ("fmnist_cleverhans", "fmnist_rrr", "fmnist_tag_random"))
    assert hans["clean_accuracy"] - hans["untagged_accuracy"] > 0.05
    assert hans["moved_accuracy"] < 0.3
    assert hans["tag_saliency_mass"] > 0.2  # the tag is 2 % of the image
    for model in (fixed, baseline):
        accuracies = [model[k] for k in ("clean_accuracy", "untagged_accuracy", "moved_accuracy")]
        assert max(accuracies) - min(accuracies) < 0.01
        assert model["moved_accuracy"] > hans["moved_accuracy"] + 0.5
    assert fixed["tag_saliency_mass"] < 0.01 < hans["tag_saliency_mass"] / 10
