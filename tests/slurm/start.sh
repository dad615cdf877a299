#!/usr/bin/env bash
# start.sh - a private single-node Slurm cluster for the tests: munged, slurmctld and slurmd as
# root, everything (config, state, logs, munge key and socket, fake GPU devices) under one DIR,
# nothing in /etc touched, so several can run side by side. Installs Slurm first where it may
# (install.sh). Prints `export SLURM_CONF=...` on stdout; progress and errors go to stderr.
#
#   eval "$(tests/slurm/start.sh /tmp/my-slurm)"  ...  tests/slurm/stop.sh /tmp/my-slurm
#
# Environment: JOBFLOW_SLURM_CTLD_PORT, JOBFLOW_SLURM_SLURMD_PORT (default: two free ports),
# JOBFLOW_SLURM_GPUS (fake GPUs as GRES, default 2), JOBFLOW_SLURM_CPUS (default 8: more job slots
# than a small CI machine has cores; the jobs are tests, not work), JOBFLOW_SLURM_MIN_JOB_AGE
# (seconds an ended job stays known, default 3600), JOBFLOW_SLURM_TIMEOUT (default 60),
# JOBFLOW_SLURM_FIRST_JOB_ID (default 5000), JOBFLOW_SLURM_MEMORY=cgroup (enforce --mem with cgroup
# v1's memory controller, so a job over it ends OUT_OF_MEMORY; where no writable one is mounted the
# cluster starts without, says so on stderr, and `scontrol show config` shows TaskPlugin=task/none).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:?usage: start.sh DIR}"
GPUS="${JOBFLOW_SLURM_GPUS:-2}"
CPUS="${JOBFLOW_SLURM_CPUS:-8}"
MIN_JOB_AGE="${JOBFLOW_SLURM_MIN_JOB_AGE:-3600}"
TIMEOUT="${JOBFLOW_SLURM_TIMEOUT:-60}"
FIRST_JOB_ID="${JOBFLOW_SLURM_FIRST_JOB_ID:-5000}"
MEMORY="${JOBFLOW_SLURM_MEMORY:-}"

say() { echo "slurm/start.sh: $*" >&2; }
fail() { say "$*"; [ "${STARTED:-0}" = 1 ] && "$HERE/stop.sh" "$DIR" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (munged and slurmd run as root here)"
"$HERE/install.sh" || fail "Slurm is not installed and could not be installed"

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
CONF="$DIR/etc/slurm.conf"
PIDS="$DIR/pids"
NODE="$(hostname -s)"
# same name and same program: a recorded pid that was reused by something else is not ours
ours() { [ -n "${2:-}" ] && kill -0 "$2" 2>/dev/null && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ]; }

if [ -f "$PIDS" ]; then
    up=1
    while read -r name pid; do ours "$name" "$pid" || up=0; done < "$PIDS"
    if [ "$up" = 1 ] && SLURM_CONF="$CONF" timeout 5 sinfo -h >/dev/null 2>&1; then
        printf 'export SLURM_CONF=%q\n' "$CONF"; exit 0
    fi
    "$HERE/stop.sh" "$DIR" >&2 || true
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT="${JOBFLOW_SLURM_CTLD_PORT:-$(free_port)}"
SLURMD_PORT="${JOBFLOW_SLURM_SLURMD_PORT:-$(free_port)}"
[ "$CTLD_PORT" != "$SLURMD_PORT" ] || SLURMD_PORT="$(free_port)"

# munged refuses a socket directory others cannot reach or may write: DIR and its parents 0755
chmod 0755 "$DIR"
mkdir -p "$DIR"/{etc,log,run,state,spool,munge,dev}
chmod 0755 "$DIR/munge"
rm -rf "${DIR:?}"/state/* "${DIR:?}"/spool/* "${DIR:?}"/log/*
[ -s "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key"
chmod 0600 "$DIR/munge/munge.key"

GRES=""
: > "$DIR/etc/gres.conf"
if [ "$GPUS" -gt 0 ]; then
    # stand-ins for /dev/nvidiaN: character devices (/dev/null's numbers), which slurmd needs to
    # set CUDA_VISIBLE_DEVICES; a plain file (no mknod in some containers) still counts as a GPU
    for ((i = 0; i < GPUS; i++)); do
        [ -c "$DIR/dev/nvidia$i" ] || mknod "$DIR/dev/nvidia$i" c 1 3 2>/dev/null || : > "$DIR/dev/nvidia$i"
    done
    echo "NodeName=$NODE Name=gpu File=$DIR/dev/nvidia[0-$((GPUS - 1))]" > "$DIR/etc/gres.conf"
    GRES="Gres=gpu:$GPUS"
fi

# memory enforcement (opt-in): Slurm's task/cgroup on cgroup v1's memory controller, where it is
# mounted and writable; memory becomes a consumable resource (100 MB a CPU unless --mem says)
PROCTRACK=proctrack/linuxproc TASK=task/none SELECT=CR_Core DEFMEM=""
rm -f "$DIR/etc/cgroup.conf"
if [ "$MEMORY" = cgroup ]; then
    probe="/sys/fs/cgroup/memory/jobflow-probe-$$"  # and proctrack/cgroup needs the freezer
    if [ -w /sys/fs/cgroup/freezer ] && mkdir "$probe" 2>/dev/null \
        && echo 104857600 > "$probe/memory.limit_in_bytes" 2>/dev/null; then
        PROCTRACK=proctrack/cgroup TASK=task/cgroup SELECT=CR_Core_Memory DEFMEM="DefMemPerCPU=100"
        printf '%s\n' CgroupPlugin=cgroup/v1 CgroupMountpoint=/sys/fs/cgroup IgnoreSystemd=yes ConstrainRAMSpace=yes \
            ConstrainSwapSpace=yes AllowedSwapSpace=0 ConstrainCores=no ConstrainDevices=no > "$DIR/etc/cgroup.conf"
    else
        say "no memory enforcement: no writable cgroup v1 memory controller at /sys/fs/cgroup/memory"
    fi
    rmdir "$probe" 2>/dev/null || true
fi

cat > "$CONF" <<CONF
# written by tests/slurm/start.sh: a private single-node test cluster
ClusterName=jobflowtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket.2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups unless JOBFLOW_SLURM_MEMORY=cgroup (containers rarely delegate a cgroup tree); no
# slurmdbd: an ended job stays known to squeue/scontrol for MinJobAge seconds, and one line per
# ended job goes to the jobcomp file, which \`sacct -c\` reads
ProctrackType=$PROCTRACK
TaskPlugin=$TASK
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MinJobAge=$MIN_JOB_AGE
# Slurm's job ids start far from ours, so a test cannot pass by mixing them up
FirstJobId=$FIRST_JOB_ID
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=2
# a dependant starts within about a second of its parent's end (the defaults take ~3 s)
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1,bf_interval=1,bf_continue,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=$SELECT
$DEFMEM
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=1024 $GRES State=UNKNOWN
# preemption, for the tests that need it: a job in \`urgent\` cancels (PREEMPTED) what runs in
# \`debug\` (the default, where jobs never preempt each other) when the node has no room for it
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=10
CONF
export SLURM_CONF="$CONF"

pid_from() {  # pid_from NAME PIDFILE: wait (5 s) for the daemon's pid file and check the pid
    for ((i = 0; i < 50; i++)); do
        if [ -s "$2" ] && ours "$1" "$(cat "$2")"; then cat "$2"; return 0; fi
        sleep 0.1
    done
    return 1
}
rm -f "$DIR"/run/*.pid "$PIDS"
STARTED=1
munged --socket="$DIR/munge/munge.socket.2" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed" </dev/null >>"$DIR/log/munged.out" 2>&1 \
    || fail "munged did not start: $(tail -2 "$DIR/log/munged.log" 2>/dev/null)"
echo "munged $(pid_from munged "$DIR/run/munged.pid" || fail 'munged did not start')" >> "$PIDS"
slurmctld -f "$CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 || fail "slurmctld did not start: $(tail -2 "$DIR/log/slurmctld.log")"
echo "slurmctld $(pid_from slurmctld "$DIR/run/slurmctld.pid" || fail "slurmctld did not start: $(tail -2 "$DIR/log/slurmctld.log")")" >> "$PIDS"
slurmd -f "$CONF" -N "$NODE" </dev/null >>"$DIR/log/slurmd.out" 2>&1 || fail "slurmd did not start: $(tail -2 "$DIR/log/slurmd.log")"
echo "slurmd $(pid_from slurmd "$DIR/run/slurmd.pid" || fail "slurmd did not start: $(tail -2 "$DIR/log/slurmd.log")")" >> "$PIDS"

state=""
end=$((SECONDS + TIMEOUT))
while [ "$SECONDS" -lt "$end" ]; do
    while read -r name pid; do ours "$name" "$pid" || fail "$name exited: $(tail -2 "$DIR/log/$name.log" 2>/dev/null)"; done < "$PIDS"
    state="$(timeout 5 sinfo -h -N -n "$NODE" -o %T 2>/dev/null || true)"
    case "$state" in idle*|mixed*|allocated*) break ;; esac
    sleep 0.2
done
case "$state" in
    idle*|mixed*|allocated*) say "node $NODE $state; ports $CTLD_PORT/$SLURMD_PORT; logs in $DIR/log" ;;
    *) fail "node $NODE is not idle after ${TIMEOUT}s (state '$state'); see $DIR/log" ;;
esac
printf 'export SLURM_CONF=%q\n' "$CONF"
