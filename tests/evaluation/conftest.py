"""Prediction dumps and metrics documents shared by the evaluation stage tests."""

from __future__ import annotations

import pytest
from dumps import EVAL_CFG, VARIANTS, make_corpus

from sertools.evaluation import metrics


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return make_corpus(tmp_path_factory.mktemp("eval"))


@pytest.fixture(scope="session")
def results(corpus: dict) -> dict[str, dict]:
    return {
        v: metrics.variant_metrics(corpus["paths"][v], corpus["labels"], EVAL_CFG, corpus["truth"], variant=v)
        for v in VARIANTS
    }
