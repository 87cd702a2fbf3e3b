#!/usr/bin/env bash
# A single-node Slurm cluster under one folder, for the test of `safequant sweep --slurm`:
#   cluster.sh start DIR   munged (as the munge user), slurmctld and slurmd, with every key,
#                          socket, state, spool, pid and log file in DIR; prints SLURM_CONF's value
#                          once the node is idle. Exit 77 (the test skips) when the daemons are not
#                          installed or cannot start here, with the reason on stderr.
#   cluster.sh stop DIR    stops them by the pids in DIR.
# Slurm 22.05 and MUNGE 0.5 as Debian 12 packages them (slurm-wlm, munge).
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)

stop() {
  for pidfile in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munge/munged.pid; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

skip() { echo "cluster.sh: $*" >&2; stop; exit 77; }

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }

for prog in munged slurmctld slurmd sinfo sbatch; do
  command -v "$prog" >/dev/null || [ -x "/usr/sbin/$prog" ] || skip "$prog is not installed (packaging/install-deps.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" -eq 0 ] || skip "starting slurmd and munged as another user needs root"
id munge >/dev/null 2>&1 || skip "no munge user (the munge package makes it)"
host=$(hostname -s)

# MUNGE: a fresh key, its socket and files in DIR/munge, owned by the munge user as munged requires.
chmod 755 "$dir"
mkdir -p "$dir/munge"
head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chown -R munge:munge "$dir/munge"
chmod 755 "$dir/munge"  # munged wants its socket's folder searchable by all; the key stays its own
chmod 400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"
su -s /bin/sh munge -c "/usr/sbin/munged --key-file='$dir/munge/munge.key' --socket='$socket' \
  --pid-file='$dir/munge/munged.pid' --log-file='$dir/munge/munged.log' --seed-file='$dir/munge/munged.seed'" \
  || skip "munged did not start: $(tail -3 "$dir/munge/munged.log" 2>/dev/null)"

# Ports of their own, so that a Slurm already on this machine is not disturbed.
base=$((20000 + ($$ % 2000) * 2))
mkdir -p "$dir/state" "$dir/spool"
cat > "$dir/slurm.conf" <<CONF
ClusterName=safequant-test
SlurmctldHost=$host
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -c -f "$SLURM_CONF" || skip "slurmctld did not start: $(tail -3 "$dir/slurmctld.log" 2>/dev/null)"
/usr/sbin/slurmd -f "$SLURM_CONF" || skip "slurmd did not start: $(tail -3 "$dir/slurmd.log" 2>/dev/null)"
for _ in $(seq 60); do
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then echo "$SLURM_CONF"; exit 0; fi
  sleep 0.5
done
skip "the node did not come up within 30 s: $(tail -3 "$dir/slurmctld.log" 2>/dev/null) $(tail -3 "$dir/slurmd.log" 2>/dev/null)"
