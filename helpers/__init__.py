"""Explaining and attacking neural networks, in PyTorch — the library behind the course notebooks.

Modules (see ``DESIGN.md``): ``runtime`` (device, seeds), ``data`` (Fashion-MNIST, shapes),
``models`` (architectures), ``zoo`` (pretrained models), ``training``, ``viz``; ``course`` holds the course's
own tooling (exercise checks, homework data, nbgrader marking, the teaching release), which the library never
imports.
Every public function keeps one tensor contract: images are float32 ``N×C×H×W`` in [0, 1],
models map pixel-space images to logits, inputs are never modified and the model is left as found.
"""

__version__ = "0.1.0"
