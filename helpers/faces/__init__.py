"""A real, pretrained network: the MTCNN face detector (Zhang et al. 2016), its cascade and a face score.

MTCNN looks for faces in three stages, each a small CNN with PReLU activations:

1. **PNet** slides a 12×12 window (stride 2) over an image pyramid, scales 12/20 · 0.709ᵏ (a face of 20
   pixels fills the window at the first scale); windows with face probability p₁ ≥ 0.6 become boxes
   (non-maximum suppression within a scale at IoU 0.5, then across scales at 0.7, box regression, squared).
2. **RNet** reads each box resized to 24×24; boxes with p₂ > 0.7 survive (NMS at IoU 0.7, regression).
3. **ONet** reads each box resized to 48×48; boxes with p₃ > 0.7 are the faces (regression, then NMS
   where overlap is the intersection over the *smaller* box, "Min", at 0.7). Its probability is the face's.

``detect`` reproduces facenet-pytorch's ``MTCNN(keep_all=True).detect`` (tests/test_faces.py compares
with numbers computed by facenet-pytorch itself); the weights are the ones its wheel ships (see
helpers/assets/models/mtcnn/NOTICE). The networks follow the course's contract: they read pixels in [0, 1]
(the original's (255·x − 127.5)/128 is a ``Normalize`` inside each) and give logits; ``classifier(onet)``
is ONet as an ordinary two-class model (0 = no face, 1 = face) for the explanation methods.

``face_score`` is the cascade's verdict as a differentiable function of the pixels (see its docstring).

One module per part: ``networks`` (the three networks and their weights) and ``cascade`` (detection and
the face score); all are imported from here.
"""

from helpers.faces.cascade import (
    FACTOR,
    MIN_FACE_SIZE,
    THRESHOLDS,
    WINDOW,
    FaceDetector,
    Faces,
    cascade_loss,
    detect,
    face_score,
    pyramid,
)
from helpers.faces.networks import Networks, ONet, PNet, RNet, classifier, mtcnn
from helpers.faces.networks import _default_networks as _default_networks  # attacks.glasses shares the cache

__all__ = [
    "FACTOR", "MIN_FACE_SIZE", "THRESHOLDS", "WINDOW", "FaceDetector", "Faces", "Networks", "ONet", "PNet",
    "RNet", "cascade_loss", "classifier", "detect", "face_score", "mtcnn", "pyramid",
]
