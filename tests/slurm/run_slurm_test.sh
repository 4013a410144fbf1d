#!/usr/bin/env bash
# run_slurm_test.sh - run the workflow through a real SLURM cluster and compare it with a local run.
#
#   bash tests/slurm/run_slurm_test.sh
#
# Steps:
#   1. Dry-run with the user-facing profile (profiles/slurm) to check that it parses.
#   2. Start the single-node cluster of tests/slurm/cluster.sh (`up`; needs root +
#      apt) unless one is already up. Only a cluster this script started is stopped
#      on exit (`down`, which also puts the machine's SLURM files back).
#   3. Run the workflow through sbatch in a fresh directory:
#        snakemake -s <repo>/Snakefile -d <tmp>/slurm --configfile <config>
#                  --profile profiles/slurm --profile tests/slurm/profile
#      under `timeout --foreground -s INT` (SIGINT makes Snakemake scancel its jobs).
#   4. Check that every job went through sbatch and finished COMPLETED, that each
#      GPU rule asked for --gpus=1 and saw CUDA_VISIBLE_DEVICES inside its job,
#      and that every job ran the venv's python.
#   5. Run the same config locally (--cores 2 --resources gpu=1) in <tmp>/local.
#   6. Compare results/ and resources/ of the two runs (compare_outputs.py).
#   7. Train one model as two DDP ranks with `srun --ntasks=2` (Gloo on CPU) and check
#      it matches one process with twice the gradient accumulation (SKIP_DDP=1 skips).
# Prints PASS, FAIL or SKIP as the last line. Exit status: 0 pass, 1 fail, 77 skipped
# (no cluster, and no root to start one).
#
# Environment knobs:
#   TEST_CONFIG         config file (default tests/slurm/config.yaml)
#   TEST_TARGETS        Snakemake targets (default: the workflow's default target),
#                       e.g. "results/manifest/manifest.parquet" for the data stages only
#   SLURM_TEST_TIMEOUT  seconds allowed for the SLURM run (default 1200)
#   KEEP_TMP=1          keep the working directories (they are always kept on failure)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/../.." && pwd))
CLUSTER="$HERE/cluster.sh"   # the one-node cluster this test starts when none is up
VENV_BIN=${VENV_BIN:-$REPO/.venv/bin}
CONFIG=${TEST_CONFIG:-$HERE/config.yaml}
TIMEOUT=${SLURM_TEST_TIMEOUT:-1200}
read -r -a TARGETS <<< "${TEST_TARGETS:-}"
GPU_RULES=(train predict)   # rules declaring gpu=1: each must reach sbatch as --gpus=1

# Jobs run `python -m snakemake` with the submitting python, and sbatch --export=ALL
# passes this PATH on, so any `python` a rule calls is the venv's as well.
export PATH="$VENV_BIN:$PATH"

say() { echo "[slurm-test] $*"; }
fail() { say "FAIL: $*"; echo "FAIL"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[[ -x $VENV_BIN/snakemake ]] || fail "no snakemake in $VENV_BIN (make venv)"
[[ -f $CONFIG ]] || fail "config $CONFIG not found"
CONFIG=$(realpath "$CONFIG")   # the runs below cd into their own directories
[[ -f $REPO/profiles/slurm/config.yaml ]] || fail "profiles/slurm/config.yaml not found under $REPO"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slurm-test.XXXXXX")
SLURM_DIR=$WORK/slurm
LOCAL_DIR=$WORK/local
mkdir -p "$SLURM_DIR" "$LOCAL_DIR"
STARTED_CLUSTER=0
RUN_ID=""
SLURM_LOG=$WORK/slurm_run.log
STATUS=1

cleanup() {
  local rc=$?
  # A SIGINT from timeout already made Snakemake cancel its jobs; this catches the
  # rest, e.g. when the test itself is interrupted mid-run.
  if [[ -z $RUN_ID && -f ${SLURM_LOG:-} ]]; then
    RUN_ID=$(sed -n 's/.*SLURM run ID: \([0-9A-Za-z_-]*\).*/\1/p' "$SLURM_LOG" | head -1)
  fi
  if [[ -n $RUN_ID ]] && command -v scancel >/dev/null; then scancel --name="$RUN_ID" 2>/dev/null || true; fi
  if ((STARTED_CLUSTER)); then
    say "stopping the cluster this test started"
    bash "$CLUSTER" down || true
  fi
  if ((STATUS == 0)) && [[ ${KEEP_TMP:-0} != 1 ]]; then rm -rf "$WORK"; else say "working directories kept: $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # turn signals into an exit so the EXIT trap cleans up

T0=$(now)
say "repo $REPO, config $CONFIG, targets: ${TARGETS[*]:-(default)}, work dir $WORK"

# --- 1. the user-facing profile parses and resolves every job's resources ----
# Targets go first everywhere: --configfile and --quiet would swallow them.
"$VENV_BIN/snakemake" "${TARGETS[@]}" -s "$REPO/Snakefile" -d "$WORK/dryrun" --configfile "$CONFIG" \
  --profile "$REPO/profiles/slurm" --dry-run > "$WORK/dryrun.log" 2>&1 \
  || { tail -20 "$WORK/dryrun.log"; fail "dry run with profiles/slurm failed (log $WORK/dryrun.log)"; }
say "profiles/slurm dry run: ok"

# --- 2. cluster ---------------------------------------------------------------
if command -v scontrol >/dev/null && scontrol ping >/dev/null 2>&1; then
  say "using the SLURM cluster that is already running (left running afterwards)"
else
  if [[ $EUID -ne 0 ]]; then
    say "SKIP: no SLURM controller is reachable and starting one needs root + apt"
    STATUS=0; trap - EXIT; rm -rf "$WORK"; echo "SKIP"; exit 77
  fi
  STARTED_CLUSTER=1
  t=$(now); bash "$CLUSTER" up || fail "tests/slurm/cluster.sh up failed"
  say "cluster started in $(elapsed "$t" "$(now)") s"
fi
sinfo -N -o '%N %T %c %m %G'

# --- 3. SLURM run ---------------------------------------------------------------
# --verbose makes the plugin log each sbatch call, which step 4 checks.
# SIGINT makes Snakemake scancel its jobs and exit. Without --foreground, timeout
# also signals its whole process group, and the second SIGINT interrupts
# Snakemake's own scancel (KeyboardInterrupt in cancel_slurm_jobs, seen here).
t=$(now)
rc=0
(cd "$SLURM_DIR" && timeout --foreground -s INT -k 60 "$TIMEOUT" "$VENV_BIN/snakemake" "${TARGETS[@]}" \
  -s "$REPO/Snakefile" -d "$SLURM_DIR" --configfile "$CONFIG" \
  --profile "$REPO/profiles/slurm" --profile "$HERE/profile" --verbose) \
  > "$SLURM_LOG" 2>&1 || rc=$?
SLURM_SECONDS=$(elapsed "$t" "$(now)")
RUN_ID=$(sed -n 's/.*SLURM run ID: \([0-9A-Za-z_-]*\).*/\1/p' "$SLURM_LOG" | head -1)
if ((rc != 0)); then
  grep -v '^\s*$' "$SLURM_LOG" | grep -iE 'error|exception|failed' | grep -v 'sacct: invalid option' | tail -20 || true
  ((rc == 124 || rc == 137)) && fail "SLURM run timed out after ${TIMEOUT} s (log $SLURM_LOG)"
  fail "SLURM run exited with $rc after $SLURM_SECONDS s (log $SLURM_LOG)"
fi
say "SLURM run finished in $SLURM_SECONDS s (run id ${RUN_ID:-?})"

# --- 4. did it really go through SLURM? ---------------------------------------
[[ -n $RUN_ID ]] || fail "no 'SLURM run ID' in the log: the slurm executor did not run"
# "Job 3 has been submitted with SLURM jobid 17 (log: /.../rule_train/.../17.log)."
mapfile -t SUBMITTED < <(sed -n 's/.*has been submitted with SLURM jobid \([0-9]*\) (log: \(.*\))\.$/\1 \2/p' "$SLURM_LOG")
((${#SUBMITTED[@]} > 0)) || fail "no job was submitted with sbatch"
# Every job in Snakemake's job table except the target rule `all` must be a SLURM job.
EXPECTED=$(awk '/^Job stats:/ {f=1} f && $1 == "total" {print $2; exit}' "$SLURM_LOG")
ALL_JOBS=$(awk '/^Job stats:/ {f=1} f && $1 == "all" {print $2; exit} f && $1 == "total" {exit}' "$SLURM_LOG")
EXPECTED=$((${EXPECTED:-0} - ${ALL_JOBS:-0}))
((${#SUBMITTED[@]} == EXPECTED)) \
  || fail "${#SUBMITTED[@]} jobs submitted with sbatch, but Snakemake planned $EXPECTED"
say "${#SUBMITTED[@]} of $EXPECTED jobs went through sbatch"

# squeue keeps finished jobs for MinJobAge seconds; any job still listed must be COMPLETED.
squeue --states=all --noheader --name="$RUN_ID" --format='%i|%k|%T' > "$WORK/squeue.txt" || true
say "squeue --states=all --name=$RUN_ID: $(wc -l < "$WORK/squeue.txt") jobs listed"
if grep -v '|COMPLETED$' "$WORK/squeue.txt" | grep -q .; then
  cat "$WORK/squeue.txt"; fail "a SLURM job did not end COMPLETED"
fi

is_gpu_rule() { local r; for r in "${GPU_RULES[@]}"; do [[ $1 == "$r" ]] && return 0; done; return 1; }
GPU_JOBS=0
for entry in "${SUBMITTED[@]}"; do
  jobid=${entry%% *}; log=${entry#* }
  rule=$(sed -n 's|.*/slurm_logs/rule_\([^/]*\)/.*|\1|p' <<< "$log")
  [[ -f $log ]] || fail "SLURM log $log of job $jobid ($rule) is missing"
  jobenv=$(grep -m1 '^job-env:' "$log" || true)
  [[ -n $jobenv ]] || fail "job $jobid ($rule): no 'job-env:' line from the precommand in $log"
  [[ $jobenv == *"SLURM_JOB_ID=$jobid "* ]] || fail "job $jobid ($rule) ran outside its SLURM job: $jobenv"
  [[ $jobenv == *"python=$VENV_BIN/python"* ]] || fail "job $jobid ($rule) does not find the venv's python first on PATH: $jobenv"
  # the sbatch call names the log file with %j where SLURM later put the job id
  call=$(grep -m1 -F -- "--output ${log%/*}/%j.log " "$SLURM_LOG" || true)
  [[ $call == *"sbatch call:"* ]] || fail "no sbatch call logged for job $jobid ($rule)"
  if is_gpu_rule "$rule"; then
    GPU_JOBS=$((GPU_JOBS + 1))
    [[ $call == *" --gpus=1"* ]] || fail "GPU rule $rule was not submitted with --gpus=1"
    [[ $jobenv == *"CUDA_VISIBLE_DEVICES=0"* ]] || fail "GPU job $jobid ($rule) got no GPU: $jobenv"
    tres=$(scontrol show job "$jobid" 2>/dev/null | grep -o 'TresPerJob=[^ ]*' || echo "TresPerJob=(job purged)")
    say "job $jobid $rule: --gpus=1, $tres, ${jobenv#job-env: }"
  else
    [[ $call != *"--gpus"* && $call != *"--gres"* ]] || fail "CPU rule $rule asked for a GPU: $call"
    say "job $jobid $rule: no GPU, ${jobenv#job-env: }"
  fi
done
((GPU_JOBS > 0)) || say "note: no GPU rule (${GPU_RULES[*]}) in this run, so the GPU request was not exercised"

# --- 5. local run ---------------------------------------------------------------
t=$(now)
rc=0
(cd "$LOCAL_DIR" && "$VENV_BIN/snakemake" "${TARGETS[@]}" -s "$REPO/Snakefile" -d "$LOCAL_DIR" \
  --configfile "$CONFIG" --cores 2 --resources gpu=1) > "$WORK/local_run.log" 2>&1 || rc=$?
LOCAL_SECONDS=$(elapsed "$t" "$(now)")
((rc == 0)) || { tail -20 "$WORK/local_run.log"; fail "local run exited with $rc (log $WORK/local_run.log)"; }
say "local run finished in $LOCAL_SECONDS s"

# --- 6. compare ---------------------------------------------------------------
rc=0
"$VENV_BIN/python" "$HERE/compare_outputs.py" "$SLURM_DIR" "$LOCAL_DIR" > "$WORK/compare.txt" 2>&1 || rc=$?
grep -v '^same ' "$WORK/compare.txt" || true
((rc == 0)) || fail "SLURM and local outputs differ (full list: $WORK/compare.txt)"

# --- 7. one training as two DDP ranks under srun --------------------------------
# Ranks and rendezvous come from srun's environment (SLURM_PROCID/NTASKS/JOB_NODELIST);
# two Gloo ranks with batch B must take the steps of one process with grad_accum x 2.
if [[ ${SKIP_DDP:-0} != 1 ]]; then
  t=$(now)
  "$VENV_BIN/python" - "$CONFIG" "$WORK" <<'PY' || fail "could not write the DDP configs"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cfg.setdefault("model", {})["head_dropout"] = 0.0  # rank-specific dropout masks would differ
cfg["model"].setdefault("tiny", {})["dropout"] = 0.0
for name, ga in (("ddp", 1), ("single", 2)):
    cfg.setdefault("train", {})["grad_accum"] = ga
    yaml.safe_dump(cfg, open(f"{sys.argv[2]}/{name}.yaml", "w"))
PY
  # run in the local run's directory: the manifest's audio paths are relative to it
  TRAIN_ARGS=(results/labels/labels.parquet results/manifest/manifest.parquet --variant hard_ce --seed 0 --threads 1)
  rc=0
  (cd "$LOCAL_DIR" && timeout -s INT 600 srun --ntasks=2 --cpus-per-task=1 --export=ALL \
    "$VENV_BIN/python" -m sertools.cli train "${TRAIN_ARGS[@]}" --out-dir "$WORK/ddp" --config "$WORK/ddp.yaml") \
    > "$WORK/ddp.log" 2>&1 || rc=$?
  ((rc == 0)) || { tail -30 "$WORK/ddp.log"; fail "srun --ntasks=2 training exited with $rc (log $WORK/ddp.log)"; }
  (cd "$LOCAL_DIR" && "$VENV_BIN/python" -m sertools.cli train "${TRAIN_ARGS[@]}" --out-dir "$WORK/single" \
    --config "$WORK/single.yaml") > "$WORK/single.log" 2>&1 \
    || { tail -30 "$WORK/single.log"; fail "single-process reference training failed"; }
  "$VENV_BIN/python" - "$WORK" <<'PY' || fail "DDP under srun does not match the single-process run"
import json, sys
from sertools.training.runtime import checkpoint
w = sys.argv[1]
assert json.load(open(f"{w}/ddp/run.json"))["world_size"] == 2, "run.json does not record 2 ranks"
a = checkpoint.load(f"{w}/ddp/best.safetensors").tensors
b = checkpoint.load(f"{w}/single/best.safetensors").tensors
assert a.keys() == b.keys()
floats = [k for k in a if a[k].is_floating_point()]
assert all(a[k].equal(b[k]) for k in a if k not in floats)
worst = max(float((a[k] - b[k]).abs().max()) for k in floats)
print(f"[slurm-test] DDP (2 ranks under srun) vs one process with grad_accum 2: max weight difference {worst:.2e}")
assert worst < 1e-4
PY
  say "DDP under srun: 2 ranks match one process with double accumulation ($(elapsed "$t" "$(now)") s)"
fi

STATUS=0
say "wall time: SLURM run $SLURM_SECONDS s, local run $LOCAL_SECONDS s, whole test $(elapsed "$T0" "$(now)") s"
echo "PASS"
