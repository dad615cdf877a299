#!/usr/bin/env bash
# stop.sh DIR - stop the private cluster that start.sh DIR started: cancel its jobs (so their
# slurmstepd exit), then stop the daemons recorded in DIR/pids, and only those (each pid is
# checked to still run the program recorded), together: SIGTERM, SIGKILL after 5 s; then any
# slurmstepd left with this cluster's SLURM_CONF.
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
DIR="${1:?usage: stop.sh DIR}"
PIDS="$DIR/pids"
export SLURM_CONF="$DIR/etc/slurm.conf"
[ -f "$PIDS" ] || exit 0
ours() { [ -n "${2:-}" ] && kill -0 "$2" 2>/dev/null && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ]; }
pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$PIDS"; }

if ours slurmctld "$(pid_of slurmctld)"; then
    jobs="$(timeout 5 squeue -h -o %A 2>/dev/null | tr '\n' ' ')"
    # shellcheck disable=SC2086
    [ -n "${jobs// /}" ] && timeout 10 scancel $jobs 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        [ -z "$(timeout 5 squeue -h -t PD,R,CG,S -o %A 2>/dev/null)" ] && break
        sleep 0.2
    done
fi
# all three at once (each takes 1-2 s to exit): SIGTERM, then SIGKILL what still runs after 5 s
for name in slurmd slurmctld munged; do
    pid="$(pid_of "$name")"
    ours "$name" "$pid" && kill -TERM "$pid" 2>/dev/null
done
for ((i = 0; i < 50; i++)); do
    left=0
    for name in slurmd slurmctld munged; do ours "$name" "$(pid_of "$name")" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
done
for name in slurmd slurmctld munged; do
    pid="$(pid_of "$name")"
    ours "$name" "$pid" && kill -KILL "$pid" 2>/dev/null
done
# a job's slurmstepd that outlived its slurmd (seen after a node was set DOWN under the job):
# ours only if it runs with this cluster's SLURM_CONF, which it inherits from slurmd
for proc in /proc/[0-9]*; do
    [ "$(cat "$proc/comm" 2>/dev/null)" = slurmstepd ] || continue
    tr '\0' '\n' < "$proc/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF" && kill -KILL "${proc#/proc/}" 2>/dev/null
done
rm -f "$PIDS"
