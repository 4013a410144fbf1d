"""The scripts behind ``make test-slurm`` (tests/slurm/): they parse, they need nothing outside the
repository, and the cluster's ``down`` leaves the machine's SLURM files as it found them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SLURM = REPO / "tests" / "slurm"
MARK = "# written by sertools tests/slurm/cluster.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.mark.parametrize("script", ["cluster.sh", "run_slurm_test.sh"])
def test_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(SLURM / script)], check=True)


def test_the_slurm_test_uses_only_files_of_this_repository() -> None:
    for path in [*SLURM.rglob("*"), REPO / "Makefile"]:
        if path.is_file():
            assert "../shared" not in path.read_text(), path
    assert 'CLUSTER="$HERE/cluster.sh"' in (SLURM / "run_slurm_test.sh").read_text()


def _down(etc: Path, state: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "CLUSTER_ETC": str(etc), "CLUSTER_STATE": str(state)}
    return subprocess.run(
        ["bash", str(SLURM / "cluster.sh"), "down"], env=env, capture_output=True, text=True, check=True
    )


def test_down_removes_its_own_files_and_restores_the_machines(tmp_path: Path) -> None:
    etc, state = tmp_path / "etc", tmp_path / "state"
    (state / "saved").mkdir(parents=True)
    etc.mkdir()
    (etc / "slurm.conf").write_text(f"{MARK}\nClusterName=sertools-test\n")
    (etc / "gres.conf").write_text(f"{MARK}\n")
    (state / "saved" / "slurm.conf").write_text("ClusterName=the-sites-own\n")
    out = _down(etc, state)
    assert (etc / "slurm.conf").read_text() == "ClusterName=the-sites-own\n"
    assert not (etc / "gres.conf").exists()
    assert not (state / "saved" / "slurm.conf").exists()
    assert "restored" in out.stderr


def test_down_leaves_a_foreign_configuration_alone(tmp_path: Path) -> None:
    etc, state = tmp_path / "etc", tmp_path / "state"
    etc.mkdir()
    (etc / "slurm.conf").write_text("ClusterName=the-sites-own\n")
    _down(etc, state)
    assert (etc / "slurm.conf").read_text() == "ClusterName=the-sites-own\n"


def test_an_unknown_action_is_a_usage_error() -> None:
    done = subprocess.run(["bash", str(SLURM / "cluster.sh"), "start"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
