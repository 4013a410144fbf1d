"""A trained model on any audio: the ``infer`` and ``export`` commands and :func:`sertools.load_model`.

* :mod:`~sertools.inference.inputs`: which files an ``infer`` call reads, and
  how each becomes mono float samples at the model's rate (or a counted drop);
* :mod:`~sertools.inference.bundle`: everything a model needs besides audio,
  from a run's checkpoint or an exported folder (safetensors + JSON only);
* :mod:`~sertools.inference.predictor`: a bundle's model (and frozen upstream)
  on decoded audio, long files in chunks;
* :mod:`~sertools.inference.infer`: the ``infer`` command's table and sidecar;
* :mod:`~sertools.inference.export` and :mod:`~sertools.inference.card`: the
  exported folder and its model card.

docs/inference.md describes the commands, the rules and the folder's layout.
"""
