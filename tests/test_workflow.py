"""The Snakemake workflow end to end on a tiny synthetic corpus, and what reruns.

One full run (module-scoped), then dry runs that check Snakemake's rerun
decisions: nothing changed -> nothing runs; a label setting changed -> labels
and downstream, not the corpus nor the cached features; a bootstrap setting ->
evaluation only; one variant's hyperparameter -> only that variant's chain (a
frozen head's too, never the features); an added seed -> only the new seed
trains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sertools import architecture, deps

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "workflow" / "config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.workflow


#: what a checkout holds besides the library (installed from ROOT/src): the fixture's run
#: directory is such a checkout, so that moving it is what moving a user's checkout is
CHECKOUT = ("Snakefile", "workflow", "config", "profiles", "environment.yml", "docs/paper_release")


def checkout(dest: Path) -> Path:
    """Copy the workflow part of the repository to ``dest`` (times kept, as git leaves them)."""
    for name in CHECKOUT:
        src, dst = ROOT / name, dest / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return dest


def snakemake(workdir: Path, *args: str, config: Path = CONFIG) -> subprocess.CompletedProcess:
    """Snakemake in ``workdir``, with the checkout's Snakefile if it is one, else the repository's."""
    snakefile = workdir / "Snakefile" if (workdir / "Snakefile").is_file() else ROOT / "Snakefile"
    cmd = [*SNAKEMAKE, "-s", str(snakefile), "-d", str(workdir), "--configfile", str(config)]
    cmd += ["--cores", "2", "--resources", "gpu=1", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir, check=False)


def job_counts(out: str) -> dict[str, int]:
    """Rule -> job count from a dry run's 'Job stats' table."""
    if "Nothing to be done" in out:
        return {}
    block = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {}
    for line in block.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) not in ("total", "all"):
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = checkout(tmp_path_factory.mktemp("workflow"))
    proc = snakemake(d)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return d


def test_outputs_and_accounting(run_dir: Path) -> None:
    labels = json.loads((run_dir / "results/labels/summary.json").read_text())
    for what in ("utterances", "annotations"):
        assert labels[f"{what}_kept"] + sum(labels[f"{what}_dropped"].values()) == labels[f"{what}_read"]
    assert labels["utterances_read"] == 60
    manifest = pd.read_parquet(run_dir / "results/manifest/manifest.parquet")
    assert len(manifest) == labels["utterances_kept"]
    for split in ("Train", "Development", "Test1", "Test2"):
        feats = json.loads((run_dir / f"results/features/egemaps/{split}.json").read_text())
        assert feats["rows_read"] == feats["rows_written"] == (manifest["split"] == split).sum()
        assert feats["shape"] == [1, 88] and len(feats["settings"]["feature_names"]) == 88
    for variant in ("hard_ce", "dist_primary_kl", "egemaps_kl"):
        run = run_dir / f"results/train/{variant}/seed0"
        for f in ("best.safetensors", "train_log.csv", "run.json", "config.yaml", "env.json"):
            assert (run / f).is_file(), f
        for split in ("Development", "Test1", "Test2"):
            pred = pd.read_parquet(run_dir / f"results/predictions/{variant}/seed0/{split}.parquet")
            assert (pred["split"] == split).all()
            assert len(pred) == (manifest["split"] == split).sum()
    main = pd.read_csv(run_dir / "results/tables/main.csv")
    assert (
        ",".join(main.columns)
        == "variant,model,split,metric,mean,sd_seeds,ci_low,ci_high,n_seeds,n_utterances"
    )
    assert {"macro_f1", "jsd_primary", "kld_primary", "jsd_true"} <= set(main["metric"])
    assert (run_dir / "results/figures/strata_jsd_primary.png").stat().st_size > 0


def test_nothing_changed_nothing_runs(run_dir: Path) -> None:
    proc = snakemake(run_dir, "-n")
    assert job_counts(proc.stdout) == {}, proc.stdout[-2000:]


def _variant_config(run_dir: Path, **changes) -> Path:
    cfg = yaml.safe_load(CONFIG.read_text())
    for dotted, value in changes.items():
        node = cfg
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path = run_dir / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_label_change_reruns_labels_not_corpus(run_dir: Path) -> None:
    cfg = _variant_config(run_dir, labels__secondary_weight=0.5)
    counts = job_counts(snakemake(run_dir, "-n", config=cfg).stdout)
    assert "synth_corpus" not in counts
    assert counts["labels"] == 1 and counts["manifest"] == 1 and counts["train"] == 2
    # features are a function of the audio: a label setting never recomputes them
    assert "features" not in counts and counts["train_head"] == 1


def test_rater_change_rebuilds_votes_not_features(run_dir: Path) -> None:
    """Raters change only the votes: the corpus and labels are rebuilt, the cached features are not."""
    cfg = _variant_config(run_dir, synthetic__raters={"noisy_share": 0.5, "other_when_unsure": 0.3})
    counts = job_counts(snakemake(run_dir, "-n", config=cfg).stdout)
    assert counts["synth_corpus"] == 1 and counts["labels"] == 1 and counts["train_head"] == 1
    assert "features" not in counts


def test_bootstrap_change_reruns_evaluation_only(run_dir: Path) -> None:
    cfg = _variant_config(run_dir, evaluation__bootstrap_resamples=60)
    counts = job_counts(snakemake(run_dir, "-n", config=cfg).stdout)
    assert set(counts) == {"metrics", "significance", "tables", "figures", "paper_comparison"}


def test_one_variant_hyperparameter_reruns_that_variant(run_dir: Path) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["variants"]["dist_primary_kl"]["train"] = {"lr_heads": 5.0e-4}
    path = run_dir / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(run_dir, "-n", config=path)
    counts = job_counts(proc.stdout)
    assert counts == {
        "train": 1,
        "predict": 1,
        "metrics": 1,
        "significance": 1,
        "tables": 1,
        "figures": 1,
        "paper_comparison": 1,
    }
    assert "results/train/dist_primary_kl/seed0/best.safetensors" in proc.stdout
    assert "results/train/hard_ce/" not in proc.stdout.split("Job stats", 1)[0]


def test_frozen_head_hyperparameter_reruns_that_head_not_the_features(run_dir: Path) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["variants"]["egemaps_kl"]["model"]["frozen"] = {"hidden": 32}
    path = run_dir / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    counts = job_counts(snakemake(run_dir, "-n", config=path).stdout)
    assert counts == {
        "train_head": 1,
        "predict_head": 1,
        "metrics": 1,
        "significance": 1,
        "tables": 1,
        "figures": 1,
        "paper_comparison": 1,
    }


def test_added_frozen_variant_reuses_the_features(run_dir: Path) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["variants"]["egemaps_ce"] = {
        "targets": "consensus",
        "loss": "ce",
        "model": {"mode": "frozen", "upstream": "egemaps"},
    }
    path = run_dir / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    counts = job_counts(snakemake(run_dir, "-n", config=path).stdout)
    assert "features" not in counts and counts["train_head"] == 1 and "train" not in counts


def test_added_seed_trains_only_the_new_seed(run_dir: Path) -> None:
    cfg = _variant_config(run_dir, seeds=[0, 1])
    proc = snakemake(run_dir, "-n", config=cfg)
    counts = job_counts(proc.stdout)
    assert counts["train"] == 2 and counts["predict"] == 2 and counts["train_head"] == 1
    assert "features" not in counts
    assert "seed0/best.safetensors" not in "".join(
        line for line in proc.stdout.splitlines() if line.strip().startswith("output:")
    )


def test_library_modules_shape_only_the_rules_that_import_them() -> None:
    """Each rule's code fingerprint covers the library files its stage module imports
    (sertools.deps): figures code -> figures only; labels code -> labels (then downstream);
    training code -> train only, never the evaluation."""
    users: dict[str, set[str]] = {}
    for rule, module in architecture.STAGES.items():
        if rule.startswith("study_"):
            continue
        for path in deps.files(module):
            users.setdefault(path.relative_to(deps.ROOT).with_suffix("").as_posix(), set()).add(rule)
    assert users["report/figures"] == {"figures"}
    assert users["report/tables"] == {"tables"}
    assert users["labels/distributions"] == {"labels"}
    assert users["corpus/synthetic/generate"] == {"synth_corpus"}
    assert users["training/loop"] == {"train", "train_head"}
    assert users["training/train"] == {"train", "train_head"}
    assert users["features/egemaps"] == {"features", "features_gpu"}
    assert users["features/store"] == {
        "features",
        "features_gpu",
        "train",
        "train_head",
        "predict",
        "predict_head",
    }
    assert users["evaluation/metrics"] == {"metrics"}
    assert "significance" in users["evaluation/significance"]
    assert not {"train", "predict", "metrics"} & users["evaluation/significance"]
    assert users["classes"] >= {"labels", "train", "metrics"}


def test_every_rule_input_is_relative_to_the_working_directory(run_dir: Path) -> None:
    """No absolute path among the inputs (a moved checkout would look like new input)."""
    out = snakemake(run_dir, "-n", "-F").stdout
    inputs = [line.strip() for line in out.splitlines() if line.strip().startswith("input:")]
    assert inputs
    for line in inputs:
        for path in line.removeprefix("input:").split(","):
            assert not path.strip().startswith("/"), line


@pytest.mark.parametrize(
    ("module", "expected"), [("report/figures", {"figures": 1}), ("report/tables", {"tables": 1})]
)
def test_editing_a_module_reruns_only_its_rules(run_dir: Path, module: str, expected: dict[str, int]) -> None:
    """A change to what the plotting (or table) code does: only figures (or tables) rerun."""
    path = ROOT / "src" / "sertools" / f"{module}.py"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n_AN_EDIT = 1\n")
        proc = snakemake(run_dir, "-n")
    finally:
        path.write_bytes(original)
    assert job_counts(proc.stdout) == expected, proc.stdout[-2000:]


def test_docstring_comment_and_layout_edits_rerun_nothing(run_dir: Path) -> None:
    """Edits that cannot change a result (docstrings, comments, formatting) plan no job, not
    even training: the code fingerprint is of the syntax tree without them."""
    edited = {
        ROOT / "src/sertools/labels/distributions.py": lambda s: s.replace('"""', '"""Edited. ', 1),
        ROOT / "src/sertools/training/loop.py": lambda s: s + "\n# a comment at the end\n",
        ROOT / "src/sertools/classes.py": lambda s: s.replace("\n\n\n", "\n\n\n\n", 1),
    }
    originals = {path: path.read_bytes() for path in edited}
    try:
        for path, edit in edited.items():
            new = edit(path.read_text())
            assert new != path.read_text()
            path.write_text(new)
        proc = snakemake(run_dir, "-n")
    finally:
        for path, data in originals.items():
            path.write_bytes(data)
    assert "Nothing to be done" in proc.stdout, proc.stdout[-2000:]


def test_moved_checkout_plans_nothing(run_dir: Path, tmp_path: Path) -> None:
    """A checkout copied elsewhere with its results and their times (cp -a, rsync -a) plans no job."""
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved, symlinks=True)
    proc = snakemake(moved, "-n")
    assert "Nothing to be done" in proc.stdout, proc.stdout[-2000:]


def test_runs_in_their_own_directories_live_side_by_side(run_dir: Path, tmp_path: Path) -> None:
    """A second run with another setting, in its own working directory, plans its whole chain and
    leaves the first complete run untouched."""
    other = _variant_config(run_dir, labels__min_annotators=2)
    second = checkout(tmp_path / "second")
    counts = job_counts(snakemake(second, "-n", config=other).stdout)
    assert counts["labels"] == 1 and counts["train"] >= 1
    assert "Nothing to be done" in snakemake(run_dir, "-n").stdout


def test_real_corpus_root_that_is_not_msp_podcast_is_refused(tmp_path: Path) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    path = tmp_path / "real.yaml"
    for root, message in (("nowhere", "is not a directory"), ("empty", "MSP-Podcast release")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        cfg["corpus"] = {"source": "msp_podcast", "root": str(tmp_path / root)}
        path.write_text(yaml.safe_dump(cfg))
        proc = snakemake(tmp_path, "-n", config=path)
        assert proc.returncode != 0
        text = proc.stdout + proc.stderr
        assert "preflight (sertools check) failed" in text and message in text, text[-2000:]


# Outputs that legitimately differ between two runs of the same workflow on the same
# machine (timings, paths, dates); everything else under results/ must be byte-identical.
# Documented in results/README.md ("Determinism").
VOLATILE = (
    re.compile(r"^benchmarks/"),  # Snakemake's per-job time and memory
    re.compile(r"^train/[^/]+/seed\d+/(run\.json|env\.json|train_log\.csv)$"),  # seconds, dates
    re.compile(r"^train/[^/]+/seed\d+/best\.safetensors$"),  # compared by content below
    re.compile(r"^train/[^/]+/seed\d+/resume/last\.safetensors$"),  # holds the log rows' seconds
    re.compile(r"^features/[^/]+/[^/]+\.json$"),  # the features job's seconds
)


def _files(results: Path) -> dict[str, Path]:
    return {str(p.relative_to(results)): p for p in results.rglob("*") if p.is_file()}


def test_second_run_is_byte_identical(run_dir: Path, tmp_path: Path) -> None:
    from sertools.training.runtime import checkpoint

    proc = snakemake(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    a, b = _files(run_dir / "results"), _files(tmp_path / "results")
    a = {k: v for k, v in a.items() if not k.startswith("audio_cache")}
    assert set(a) == set(b)
    compared = 0
    for rel, path in sorted(a.items()):
        if any(rx.search(rel) for rx in VOLATILE):
            continue
        assert path.read_bytes() == b[rel].read_bytes(), rel
        compared += 1
    assert any(k.startswith("predictions/") for k in a) and any(k.startswith("tables/") for k in a)
    assert compared >= 30
    for rel in (k for k in a if k.endswith("best.safetensors")):
        ca, cb = checkpoint.load(a[rel]), checkpoint.load(b[rel])
        assert ca.meta == cb.meta, rel
        assert (
            all(ca.tensors[k].equal(cb.tensors[k]) for k in ca.tensors)
            and ca.tensors.keys() == cb.tensors.keys()
        )
    for rel in (k for k in a if k.endswith("train_log.csv")):
        la, lb = pd.read_csv(a[rel]), pd.read_csv(b[rel])
        pd.testing.assert_frame_equal(la.drop(columns="seconds"), lb.drop(columns="seconds"))


_KILL_ON_RENAME = """
import os, signal, sys
import sertools.io
def die(*a, **k):  # the data is written to the temporary file; die before it takes the final name
    os.kill(os.getpid(), signal.SIGKILL)
sertools.io.os.replace = die
sys.argv = sys.argv[1:]
exec(sys.argv[0])
"""

_STAGES = {
    "predict": (
        "from sertools.evaluation import predict; import yaml; cfg = yaml.safe_load(open('results/train/hard_ce/seed0/config.yaml'));"
        "predict.predict('results/train/hard_ce/seed0/best.safetensors', 'results/labels/labels.parquet',"
        " 'results/manifest/manifest.parquet', ['Test1'], ['OUT/Test1.parquet'], cfg)",
        ["Test1.parquet"],
    ),
    "metrics": (
        "from sertools import config; from sertools.evaluation import metrics, metrics_doc;"
        " cfg = config.resolve({'evaluation': {'bootstrap_resamples': 20}});"
        "metrics_doc.write('OUT/hard_ce.json', metrics.variant_metrics("
        "{'Test1': ['results/predictions/hard_ce/seed0/Test1.parquet']},"
        " 'results/labels/labels.parquet', cfg['evaluation']))",
        ["hard_ce.json"],
    ),
    "figures": (
        "import json; from sertools import config; from sertools.evaluation import metrics_doc;"
        " from sertools.report import figures; cfg = config.resolve({});"
        "figures.build_figures({v: metrics_doc.read(f'results/metrics/{v}.json') for v in ('hard_ce', 'dist_primary_kl')},"
        " json.load(open('results/labels/summary.json')), cfg['evaluation'], 'OUT')",
        None,
    ),
}


@pytest.mark.parametrize("stage", sorted(_STAGES))
def test_job_killed_mid_write_leaves_no_output(run_dir: Path, tmp_path: Path, stage: str) -> None:
    """A writer killed with its data in a temporary file: the output name never appears."""
    code, names = _STAGES[stage]
    code = code.replace("OUT", str(tmp_path / "out"))
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_ON_RENAME, code], cwd=run_dir, env=env, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    left = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert left and all(p.name.startswith(".") and ".tmp" in p.name for p in left), left
    done = subprocess.run([sys.executable, "-c", code], cwd=run_dir, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    made = {p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert made >= set(names or []) and made
