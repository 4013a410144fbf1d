#!/usr/bin/env bash
# cluster.sh - a one-node SLURM cluster on this machine, for `make test-slurm`.
#
#   bash tests/slurm/cluster.sh up       install what is missing, configure, start, wait for the node
#   bash tests/slurm/cluster.sh down     stop what `up` started and put the machine's SLURM files back
#   bash tests/slurm/cluster.sh status   the node as SLURM sees it, and the daemons `up` started
#
# Needs root and a Debian/Ubuntu apt (packages: slurmctld, slurmd, slurm-client, munge).
# The cluster: one node named after this host, every CPU, 80 % of the memory, partition
# "debug", accounting off (sacct does not answer; the test profile asks squeue), and
# FAKE_GPUS (default 1) GPUs that exist for the scheduler only: each is a character device
# behaving like /dev/null, so a job asking --gpus=1 is placed and gets CUDA_VISIBLE_DEVICES,
# but no CUDA device exists. Jobs stay visible to squeue for MIN_JOB_AGE seconds (300).
#
# `down` matters beyond tidiness: a slurm.conf whose controller is gone makes every
# `scontrol` call wait about 10 s for it, and Snakemake's SLURM executor plugin calls
# `scontrol show config` each time snakemake starts. So `up` keeps any slurm.conf and
# gres.conf it replaces under $STATE/saved/, and `down` removes its own and restores them.
set -euo pipefail

FAKE_GPUS=${FAKE_GPUS:-1}
MIN_JOB_AGE=${MIN_JOB_AGE:-300}
STATE=${CLUSTER_STATE:-/run/sertools-test-slurm}   # pid files, saved configuration
ETC=${CLUSTER_ETC:-/etc/slurm}   # both overridable for tests/test_slurm_scripts.py
SPOOL=/var/spool/sertools-test-slurm   # its own: slurmctld refuses state saved by another cluster
LOGS=/var/log/sertools-test-slurm
MARK="# written by sertools tests/slurm/cluster.sh"
HOST=$(hostname -s)

note() { echo "[cluster] $*" >&2; }
die() { note "error: $*"; exit 1; }

running() {   # running <pid file>: the process it names is alive
  [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

ensure_packages() {
  local missing=() p
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  note "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

save_and_write() {   # save_and_write <file>: keep a foreign file under $STATE/saved, then write stdin to it
  local target=$1 saved=$STATE/saved/$(basename "$1")
  if [[ -f $target ]] && ! head -1 "$target" | grep -qF "$MARK" && [[ ! -e $saved ]]; then
    cp -p "$target" "$saved"
  fi
  cat > "$target.tmp.$$"
  mv "$target.tmp.$$" "$target"
}

configure() {
  mkdir -p "$STATE/saved" "$ETC" "$SPOOL/ctld" "$SPOOL/d" "$LOGS" /run/munge
  getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >> /etc/hosts
  [[ -s /etc/munge/munge.key ]] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key /run/munge
  chmod 0400 /etc/munge/munge.key

  local cpus mem_mib gres="" i
  cpus=$(nproc)
  mem_mib=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
  ((FAKE_GPUS > 0)) && gres="Gres=gpu:$FAKE_GPUS"
  save_and_write "$ETC/slurm.conf" <<CONF
$MARK
ClusterName=sertools-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# plain process tracking: cgroups are not available in every container
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=5
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mib $gres State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
  # slurmd ignores a GPU without a device file, so each fake GPU gets one (major 1,
  # minor 3: the same device as /dev/null)
  for ((i = 0; i < FAKE_GPUS; i++)); do
    [[ -e /dev/sertools-fakegpu$i ]] || mknod -m 666 "/dev/sertools-fakegpu$i" c 1 3
  done
  if ((FAKE_GPUS > 0)); then
    printf '%s\nNodeName=%s Name=gpu File=/dev/sertools-fakegpu[0-%d]\n' "$MARK" "$HOST" $((FAKE_GPUS - 1)) \
      | save_and_write "$ETC/gres.conf"
  else
    printf '%s\n' "$MARK" | save_and_write "$ETC/gres.conf"
  fi
}

start_munge() {
  if ! running "$STATE/munged.pid"; then
    note "starting munged"
    runuser -u munge -- /usr/sbin/munged
    local _
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$STATE/munged.pid"
  fi
  munge -n | unmunge >/dev/null || die "munge cannot encode and decode a credential"
}

node_state() { sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -1; }

up() {
  [[ $(id -u) == 0 ]] || die "needs root (it installs packages and starts daemons)"
  ensure_packages
  configure
  start_munge
  if running "$STATE/slurmctld.pid"; then
    scontrol reconfigure
  else
    note "starting slurmctld"
    /usr/sbin/slurmctld -c || die "slurmctld did not start; see $LOGS/slurmctld.log"
  fi
  if ! running "$STATE/slurmd.pid"; then
    note "starting slurmd"
    /usr/sbin/slurmd || die "slurmd did not start; see $LOGS/slurmd.log"
  fi
  local state="" _
  for _ in $(seq 120); do
    state=$(node_state)
    case $state in
      idle* | mixed* | allocated*) note "node $HOST is $state"; return 0 ;;
      down* | drain*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.5
  done
  die "node $HOST did not become ready (last state '$state'); see $LOGS/"
}

stop_daemon() {   # stop_daemon <name>: TERM, wait up to 10 s, then KILL
  local file=$STATE/$1.pid pid _
  running "$file" || { rm -f "$file"; return 0; }
  pid=$(cat "$file")
  note "stopping $1 ($pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

down() {
  if running "$STATE/slurmctld.pid"; then
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
  fi
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
  local name
  for name in slurm.conf gres.conf; do
    if [[ -f $ETC/$name ]] && head -1 "$ETC/$name" | grep -qF "$MARK"; then
      rm -f "$ETC/$name"
    fi
    if [[ -e $STATE/saved/$name ]]; then
      mv "$STATE/saved/$name" "$ETC/$name"
      note "restored the machine's $ETC/$name"
    fi
  done
}

status() {
  sinfo -N -o '%N %T %c %m %G' 2>/dev/null || note "no controller answers"
  local name
  for name in munged slurmctld slurmd; do
    if running "$STATE/$name.pid"; then echo "$name $(cat "$STATE/$name.pid") running"; else echo "$name not running"; fi
  done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
