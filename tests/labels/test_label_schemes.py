"""The label-column grammar (sertools.labels.schemes): its predicates, its columns, and the config
schema spelling the same patterns."""

from __future__ import annotations

import pytest

from sertools import config
from sertools.labels import schemes


def _patterns(node: object) -> list[tuple[str, str]]:
    """(property name, pattern) of every string property of the schema with a pattern."""
    found: list[tuple[str, str]] = []

    def walk(n: object) -> None:
        if isinstance(n, dict):
            for key, child in n.get("properties", {}).items():
                if isinstance(child, dict) and "pattern" in child:
                    found.append((key, child["pattern"]))
            for child in n.values():
                walk(child)
        elif isinstance(n, list):
            for child in n:
                walk(child)

    walk(node)
    return found


def test_the_config_schema_spells_the_library_grammar() -> None:
    by_key = dict(_patterns(config.load_schema()))
    assert by_key["targets"] == schemes.TARGETS_PATTERN
    assert by_key["common_hard_labels"] == schemes.SCHEME_PATTERN
    assert by_key["strata_distribution"] == schemes.DISTRIBUTION_PATTERN
    assert by_key["paper_reference"] == schemes.DISTRIBUTION_PATTERN


@pytest.mark.parametrize(
    ("name", "distribution", "targets", "scheme"),
    [
        ("primary", True, True, False),
        ("release_MH", True, True, False),
        ("release_", False, False, False),
        ("consensus", False, True, True),
        ("consensus_x_other", False, False, True),
        ("guarded_argmax:merged", False, False, True),
        ("guarded_argmax:consensus", False, False, False),
        ("guarded_argmax", False, False, False),
        (3, False, False, False),
    ],
)
def test_predicates(name: object, distribution: bool, targets: bool, scheme: bool) -> None:
    assert schemes.is_distribution(name) is distribution
    assert schemes.is_targets(name) is targets
    assert schemes.is_scheme(name) is scheme


def test_columns_of_schemes_and_variants() -> None:
    assert schemes.hard_column("consensus") == "hard_label"
    assert schemes.hard_column("consensus_x_other") == "hard_consensus_x_other"
    assert schemes.hard_column(schemes.variant_scheme("guarded_argmax", "release_MH")) == (
        "hard_guarded_release_MH"
    )
    assert schemes.variant_scheme("consensus_x_other", "merged") == "consensus_x_other"
    assert schemes.distribution_column("merged") == "p_merged"
