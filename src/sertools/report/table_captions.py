"""The captions of the result tables: every sentence about seeds, intervals, schemes and references.

The numbers a caption states come from the evaluation settings and the
documents (:class:`CaptionFacts`), never from the table's cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation import settings

#: what each reference row is, for the captions
_REFERENCE_TEXT: dict[str, str] = {
    "oracle_truth": "oracle_truth predicts each utterance's latent true distribution (the ceiling: JSD and "
    "KLD true 0)",
    "prior": "prior predicts the Train class prior, the mean Train primary-vote distribution, for every "
    "utterance (chance)",
}


def _seed_phrase(n_seeds: Iterable[str]) -> str:
    ns = sorted({int(n) for n in n_seeds if n != ""})
    if not ns:
        return "seeds"
    if len(ns) == 1:
        return f"{ns[0]} training seed{'s' if ns[0] != 1 else ''}"
    return f"{ns[0]}–{ns[-1]} training seeds"


def _ci_phrase(evaluation: Mapping[str, Any] | None, method: str) -> str:
    """The captions' account of the intervals; ``method``: the documents' ``ci_method``."""
    if evaluation and "ci_level" in evaluation and "bootstrap_resamples" in evaluation:
        return (
            f"{settings.ci_phrase(method, evaluation['ci_level'])} of the seed-averaged "
            f"metric in brackets (B = {int(evaluation['bootstrap_resamples'])} resamples of utterances)"
        )
    return f"{settings.ci_phrase(method)} of the seed-averaged metric in brackets"


def reference_phrase(references: Sequence[str], bold: bool = False) -> str:
    """The caption sentence saying what the reference rows are (empty without any)."""
    if not references:
        return ""
    what = "; ".join(_REFERENCE_TEXT.get(r, f"{r} is a reference") for r in references)
    never = "never bold and never compared" if bold else "never compared"
    return (
        f" The last rows are references, not models, one deterministic run each: {what}. "
        f"They are {never} with the baseline."
    )


def _scheme_phrase(scheme: str) -> str:
    """How the main table's macro-F1 and accuracy treat the hard labels of the common scheme."""
    if scheme == "consensus":
        return "Macro-F1 and accuracy: hard-labelled utterances only (X excluded)."
    return (
        f"Macro-F1 and accuracy: the common hard-label scheme {scheme} for every variant "
        "(evaluation.common_hard_labels)."
    )


def main_caption(
    n_seeds: Sequence[str],
    evaluation: Mapping[str, Any] | None,
    with_sig: bool,
    scheme: str = "consensus",
    with_truth: bool = False,
    references: Sequence[str] = (),
    ci_method: str = settings.LEGACY_CI_METHOD,
) -> str:
    truth = (
        "JSD true, KLD true: the same against each utterance's latent true distribution (synthetic "
        "corpus; KL(truth ‖ model)). "
        if with_truth
        else ""
    )
    text = (
        f"Mean over {_seed_phrase(n_seeds)}; {_ci_phrase(evaluation, ci_method)}. "
        "JSD: Jensen-Shannon divergence, base 2, in [0, 1]; KLD: KL(human ‖ model) in nats; "
        "both against the primary-vote distribution over all utterances with votes (X included). "
        f"{truth}{_scheme_phrase(scheme)} Bold: best per column."
    )
    if with_sig:
        base = (evaluation or {}).get("baseline_variant", "the baseline")
        level = 1 - float((evaluation or {}).get("ci_level", 0.95))
        text += f" †: differs from {base} (paired bootstrap, Holm-adjusted p < {level:g})."
    return text + reference_phrase(references, bold=True)


@dataclass(frozen=True)
class CaptionFacts:
    """What the captions say about a set of tables: seeds, intervals, schemes, references."""

    #: the models' seed counts (n_seeds of the main-table rows of models)
    seeds: tuple[str, ...]
    evaluation: Mapping[str, Any]
    ci_method: str
    #: the common hard-label scheme and strata distribution every document shares
    schemes: Mapping[str, Any]
    references: tuple[str, ...] = ()
    #: the corpus's class set (the number of classes the captions state)
    classes: ClassSet = MSP_PODCAST

    @property
    def baseline(self) -> str:
        return str(self.evaluation["baseline_variant"])

    @property
    def ci_level(self) -> float:
        return float(self.evaluation["ci_level"])

    @property
    def refs(self) -> str:
        """The caption sentence on the reference rows (empty without any)."""
        return reference_phrase(self.references)


def strata_caption(t: CaptionFacts) -> str:
    dist, scheme = t.schemes["strata_distribution"], t.schemes["common_hard_labels"]
    entropy = "primary-vote entropy" if dist == "primary" else f"entropy of the {dist} distribution"
    hard = "macro-F1 excludes X" if scheme == "consensus" else f"macro-F1 on the hard labels {scheme}"
    return (
        f"Entropy-stratified results (normalised {entropy}; n = utterances per stratum). "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}. JSD base 2, KLD in nats, "
        f"against the primary-vote distribution (X included); {hard}.{t.refs}"
    )


def own_caption(t: CaptionFacts) -> str:
    return (
        "Hard-label metrics under each variant's own scheme (its hard_labels: consensus = X excluded; "
        "consensus_x_other = X relabelled Other; guarded_argmax:<d> = the release's neutral-guarded "
        "argmax of the variant's target distribution d), as the paper release scored its rows; the main "
        f"table uses the common scheme {t.schemes['common_hard_labels']} instead. Macro-F1: all "
        f"{_number(t.classes.k)} classes; Macro-F1 (TP>0): the release's published rule, the mean F1 over the classes with a "
        "true positive; UAR: mean recall over the classes with support. "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}. Rows on different schemes are "
        f"not like-for-like, so no column is marked best.{t.refs}"
    )


def strata_own_caption(t: CaptionFacts) -> str:
    return (
        "Entropy strata of each distributional variant's own target distribution (normalised entropy, "
        f"ln / ln {t.classes.k}; the edges of evaluation.entropy_bins; n = utterances per stratum), scored on the "
        "variant's own hard-label scheme, as the release stratifies its rows. Variants with hard targets "
        f"have no own distribution and are not listed{', nor are the reference rows' if t.references else ''}. "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}."
    )


def significance_caption(t: CaptionFacts) -> str:
    return (
        f"Paired bootstrap of each variant minus {t.baseline} on shared resamples (seed-averaged); "
        f"{settings.ci_phrase('percentile', t.ci_level)} of the difference in brackets; p_Holm: two-sided bootstrap p-value, "
        f"Holm-adjusted across variants per split, stratum and metric; *: p_Holm < {1 - t.ci_level:g}. "
        "Negative ΔJSD/ΔKLD = closer to the human votes."
        + (" The reference rows of the other tables are never compared." if t.references else "")
    )


def ccc_caption(t: CaptionFacts) -> str:
    return (
        "Concordance correlation coefficient of the dimensional head against the mean annotator "
        f"rating (1-7), all utterances; mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}."
        f"{t.refs}"
    )


def other_caption(t: CaptionFacts) -> str:
    return (
        "Other class by entropy stratum: share of utterances whose argmax prediction is Other, mean "
        "predicted probability of Other, and the humans' mean primary-vote share of Other; all "
        f"utterances (X included); {_ci_phrase(t.evaluation, t.ci_method)}.{t.refs}"
    )


def label_caption(t: CaptionFacts) -> str:
    if t.classes.intended:
        return (
            "Label statistics: clips, actors and clips per sex of each split (the labels' modality); per "
            "rating modality (voice only, face only, audio-visual; every clip was rated in each): clips, "
            "responses, mean responses per clip, the share of responses naming the intended emotion, the "
            "share of untied clips whose plurality is the intended emotion, Fleiss' kappa (unequal raters "
            "per clip), the share of tied clips, and the mean and median normalised vote entropy."
        )
    return (
        "Label statistics per split: consensus class counts (X = no agreement), normalised primary-vote "
        "entropy histogram, Fleiss' kappa of the primary votes; Krippendorff's "
        "alpha (interval) of the arousal/valence/dominance ratings and annotators per utterance over all splits."
    )


def intended_caption(t: CaptionFacts) -> str:
    return (
        "The same predictions scored against two hard labels: perceived = the raters' consensus (the "
        f"main table's hard labels, scheme {t.schemes['common_hard_labels']}), intended = the emotion the actor was asked to express "
        "(every clip has one). Macro-F1 over all "
        f"{_number(t.classes.k)} classes; UAR: mean recall over the classes with support. "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}. Bold: best per column."
        f"{t.refs}"
    )


_NUMBERS = {6: "six", 9: "nine"}


def _number(n: int) -> str:
    """A class count in words where the captions always wrote it so (six, nine), else digits."""
    return _NUMBERS.get(n, str(n))
