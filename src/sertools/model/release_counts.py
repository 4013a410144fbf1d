"""The class counts hard-coded in the paper release's configs (``train.class_counts: release``).

Its class-balanced CE weights (:func:`sertools.model.losses.class_weights_from_counts`) and its WKLD
weights (:func:`sertools.model.release_losses.inverse_frequency_weights`) come from them. The
transcription they are checked against, with file and commit: docs/paper_release/release_settings.yaml
(docs/paper_release/settings.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Class counts hard-coded in the release's configs (docs/paper_release.md, "Class counts"), by class
#: name; each set sums to 169,190 (the Train size of MSP-Podcast 2.0). ``cbce``: YAML ``cbce.class_counts``;
#: ``wkld``: YAML ``kld_weighting`` counts.
RELEASE_CLASS_COUNTS: Mapping[str, Mapping[str, int]] = {
    "cbce": {
        "Neutral": 50747, "Happy": 45328, "Angry": 24910, "Sad": 28919, "Fear": 1207,
        "Disgust": 2066, "Contempt": 4278, "Surprise": 8001, "Other": 3734,
    },
    "wkld": {
        "Neutral": 50708, "Happy": 46711, "Angry": 27936, "Sad": 29170, "Fear": 1199,
        "Disgust": 1876, "Contempt": 3989, "Surprise": 4772, "Other": 2829,
    },
}  # fmt: skip


def release_counts(kind: str, classes: Sequence[str]) -> np.ndarray:
    """The release's hard-coded counts of ``kind`` (``cbce`` or ``wkld``) in the order of ``classes``."""
    counts = RELEASE_CLASS_COUNTS[kind]
    return np.array([counts[c] for c in classes], dtype=np.float64)
