"""Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019, "LRP: an overview").

The package behind ``helpers.explain.lrp`` (the function): ``rules`` (a rule per layer, an open base
class), ``composites`` (which layer gets which rule; the one table of names), ``graph`` (the model traced
with ``torch.fx``, one table of the kinds of node), ``forward`` (each kind's forward pass) and
``propagation`` (``lrp``, ``conservation``, ``epsilon_step``).

Relevance starts at the output as the target logit, R = one-hot(c) · f(x), and flows back through the
model's graph. Through a linear layer (``Conv2d`` or ``Linear``, z_k = Σ_j a_j w_jk + b_k) a **rule**
sends it to the inputs in proportion to their contributions:

    LRP-0        R_j = Σ_k a_j w_jk / z_k · R_k                                   ``Zero()``
    LRP-ε        R_j = Σ_k a_j w_jk / (z_k + ε·sign(z_k)) · R_k   (sign(0) = +1)  ``Epsilon(ε)``
    LRP-γ        as LRP-0 with w → w + γw⁺ and b → b + γb⁺ where z_k > 0 (w + γw⁻, b + γb⁻
                 where z_k < 0; Zennit's generalised ``Gamma``, which splits a_j into its
                 positive and negative parts)                                       ``Gamma(γ)``
    LRP-z⁺       (α1β0) as LRP-0 with only positive contributions: a⁺w⁺ (+ b⁺) and a⁻w⁻
                                                                                    ``ZPlus()``
    LRP-αβ       R_j = Σ_k (α (a_j w_jk)⁺ / z⁺_k − β (a_j w_jk)⁻ / z⁻_k) · R_k, α − β = 1
                                                                          ``AlphaBeta(α, β)``
    zᴮ           R_j = Σ_k (a_j w_jk − l_j w⁺_jk − h_j w⁻_jk) / Σ_j (…) · R_k, pixels in [l, h]
                                                                                    ``ZBox()``
    flat         R_j = Σ_k 1 / Σ_j 1 · R_k (each output's relevance spread evenly over its
                 receptive field)                                                   ``Flat()``

A **composite** is data: a list of (layer type or module name → rule) pairs, the first match giving a
layer its rule, plus the rule of the layers that read the pixels (zᴮ and flat need the pixels' bounds)::

    Composite([(nn.Conv2d, Gamma(0.25)), (nn.Linear, Epsilon())], first=ZBox())   # = "epsilon_gamma_box"
    Composite([("classifier.*", Epsilon(0.25)), (nn.Conv2d, ZPlus())])          # by name, glob patterns

The rest of the graph needs no choice. ReLU-family activations (PReLU included: f(a) = a·s with a slope
s per channel and side of 0, so a·f'(a) = f(a)) and ``Dropout`` pass relevance on unchanged
(R_in = R_out), max pooling gives it to the winner, ``Flatten``/``view`` reshape it, concatenation hands
each input its slice. Additions (residual connections) and average pools (also
``mean``) split it in proportion to their inputs' contributions, R_i = x_i / (Σ x + ε·sign) · R, with the
composite's ``stabilizer`` (Zennit's ``Norm`` rule on its canonized ``Sum``; exactly under LRP-0).
``BatchNorm`` is folded into the ``Conv2d``/``Linear`` right before it, wherever it sits; a ``Normalize``
that the model applies to its input first is applied to x (relevance on normalised pixels is relevance
on pixels, and the bounds of zᴮ become (0 − mean)/std and (1 − mean)/std). Anything else on the way
from the input to the logits is refused before anything is computed, naming the operation and where
it is. The graph comes from ``torch.fx``, so a model with its own ``forward`` is followed as it runs.

**Implementation.** One forward pass and one backward pass, as in Zennit. Each step's output is
computed so that its *value* is the ordinary output z while its *gradient* is the rule's:

    y = z + Σ_t (z_t − [z_t]) · [m_t z / stab(z_t)]          ([·] = detached)

where z_t are the rule's modified forward passes (γ: four, z⁺: two, pass-through: the input itself)
and m_t select the outputs they serve. The relevance of every tensor a is then
a ⊙ ∂(one-hot · y_out)/∂a — the rule's redistribution written as "gradient × input", which is why
LRP-0 equals gradient × input.
"""

# each module's __all__, so that a new rule is exported where it is written
from helpers.explain.relevance import composites, propagation, rules
from helpers.explain.relevance.composites import *  # noqa: F403
from helpers.explain.relevance.propagation import *  # noqa: F403
from helpers.explain.relevance.rules import *  # noqa: F403

__all__ = [*propagation.__all__, *composites.__all__, *rules.__all__]
