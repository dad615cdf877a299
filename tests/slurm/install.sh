#!/usr/bin/env bash
# install.sh - install Debian's Slurm (slurmctld, slurmd, the client commands) and munge, for the
# private test cluster (start.sh). Root only; a no-op when they are there already. The packages'
# own services are kept from starting: the test cluster runs its own daemons, nothing system-wide.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
need=0
for b in munged mungekey slurmctld slurmd sbatch squeue sacct scontrol scancel sinfo; do
    command -v "$b" >/dev/null 2>&1 || need=1
done
[ "$need" = 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "slurm/install.sh: Slurm is not installed and this is not root on Debian: cannot install it" >&2
    exit 1
fi
made=0
if [ ! -e /usr/sbin/policy-rc.d ]; then   # invoke-rc.d asks this file whether to start services: no
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made=1
fi
pkgs=(slurmctld slurmd slurm-client munge)
get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${pkgs[@]}"; }
rc=0
{ get || { apt-get -o DPkg::Lock::Timeout=300 update -qq && get; }; } >&2 || rc=$?
[ "$made" = 1 ] && rm -f /usr/sbin/policy-rc.d
exit "$rc"
