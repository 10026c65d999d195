#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/test_slurm.py and for trying
# `python -m aebench -m hydra/launcher=slurm ...` without a real cluster.
#
#   bash scripts/slurm-local.sh start [--install]   # munged + slurmctld + slurmd; waits for idle
#   bash scripts/slurm-local.sh status              # sinfo; exit 0 when the node is idle
#   bash scripts/slurm-local.sh stop                # stops the daemons this script started
#
# Needs root (the daemons run as root) and Debian's slurm-wlm + munge. It installs nothing unless
# told to: `--install` or AEBENCH_SLURM_INSTALL=1, as root, runs
# `apt-get install -y --no-install-recommends slurm-wlm munge`.
# It writes /etc/slurm/slurm.conf and cgroup.conf marked as its own, and refuses to touch a
# slurm.conf it did not write (a machine of a real cluster). Start and stop are idempotent.
# Logs: /var/log/slurm/{slurmctld,slurmd}.log. Partition: $AEBENCH_SLURM_PARTITION (default: local).
set -uo pipefail

ETC=/etc/slurm
MARK="# written by aebench scripts/slurm-local.sh"
PARTITION=${AEBENCH_SLURM_PARTITION:-local}
WAIT_S=${AEBENCH_SLURM_WAIT_S:-60}
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

have() {  # the daemons live in /usr/sbin, which a user's PATH may lack
    command -v "$1" >/dev/null || [[ -x /usr/sbin/$1 ]]
}

alive() {  # pid file -> its process runs
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() {  # idle, mix, alloc, down*, drain, ... or empty when slurmctld does not answer
    sinfo -h -N -n "$(hostname -s)" -o %t 2>/dev/null | head -n1
}

install() {
    [[ $(id -u) == 0 ]] || die "--install needs root (apt-get install slurm-wlm munge)"
    command -v apt-get >/dev/null || die "no apt-get here: install SLURM (slurmctld, slurmd, munge) yourself"
    say "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -o Acquire::Retries=3 -o Acquire::http::Timeout=30 install -y --no-install-recommends slurm-wlm munge)
    if ! "${apt[@]}" >/tmp/aebench-slurm-apt.log 2>&1; then
        apt-get -o Acquire::Retries=3 -o Acquire::http::Timeout=30 update >>/tmp/aebench-slurm-apt.log 2>&1 || die "apt-get update failed (no network?); see /tmp/aebench-slurm-apt.log"
        "${apt[@]}" >>/tmp/aebench-slurm-apt.log 2>&1 \
            || die "apt-get install slurm-wlm munge failed; see /tmp/aebench-slurm-apt.log"
    fi
}

write_conf() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    # what slurmd sees, less a margin (a node with less memory than configured is drained)
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    if [[ -e $ETC/slurm.conf ]] && ! grep -qF "$MARK" "$ETC/slurm.conf"; then
        die "$ETC/slurm.conf exists and was not written by this script: not touching a real cluster's config"
    fi
    mkdir -p "$ETC" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat >"$ETC/slurm.conf.new" <<EOF
$MARK
ClusterName=aebench
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$ETC/slurm.conf.new" "$ETC/slurm.conf"
    printf '%s\nCgroupPlugin=autodetect\nIgnoreSystemd=yes\n' "$MARK" >"$ETC/cgroup.conf"
}

start() {
    local want_install=${AEBENCH_SLURM_INSTALL:-0}
    [[ ${1:-} == --install ]] && want_install=1
    if ! have slurmctld || ! have slurmd || ! have munged || ! have sbatch; then
        [[ $want_install == 1 ]] || die "SLURM is not installed (slurmctld, slurmd, munged, sbatch); run as root with --install, or: apt-get install slurm-wlm munge"
        install
    fi
    [[ $(id -u) == 0 ]] || die "start needs root: slurmctld and slurmd run as root here"
    write_conf

    if ! alive "$MUNGE_PID"; then
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge
        [[ -s /etc/munge/munge.key ]] || die "/etc/munge/munge.key is missing (the munge package creates it)"
        runuser -u munge -- /usr/sbin/munged || die "munged did not start; see /var/log/munge/munged.log"
    fi
    alive "$CTLD_PID" || /usr/sbin/slurmctld || die "slurmctld did not start; see /var/log/slurm/slurmctld.log"
    alive "$SLURMD_PID" || /usr/sbin/slurmd || die "slurmd did not start; see /var/log/slurm/slurmd.log"

    local state="" t=0
    while ((t < WAIT_S)); do
        state=$(node_state)
        case $state in
            idle|mix|alloc) say "node $(hostname -s) is $state in partition $PARTITION"; return 0 ;;
            down*|drain*|drng*) scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 ;;
        esac
        sleep 1; t=$((t + 1))
    done
    die "the node is not idle after ${WAIT_S}s (state: ${state:-no answer}); see /var/log/slurm/"
}

stop() {
    local name pidf
    for name in slurmd slurmctld munged; do
        case $name in
            slurmd) pidf=$SLURMD_PID ;; slurmctld) pidf=$CTLD_PID ;; munged) pidf=$MUNGE_PID ;;
        esac
        if alive "$pidf"; then
            local pid; pid=$(cat "$pidf")
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            say "stopped $name ($pid)"
        fi
    done
}

status() {
    local state; state=$(node_state)
    if [[ -z $state ]]; then say "not running (slurmctld does not answer)"; return 1; fi
    sinfo
    [[ $state == idle || $state == mix || $state == alloc ]]
}

case ${1:-} in
    start) shift; start "$@" ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start [--install] | stop | status" >&2; exit 2 ;;
esac
