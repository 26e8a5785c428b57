"""A real single-node SLURM cluster on localhost, from Debian packages, for tests.

munged runs as user munge (shared: it only vouches for the user); slurmctld and slurmd run as
root with a minimal slurm.conf of their own, in a temporary folder with their state and logs,
named by $SLURM_CONF; the cluster's name and its two ports are free ones chosen at start.
Job steps cannot be given $SLURM_CONF (the SLURM executor plugin deletes every SLURM_*
variable inside jobs), so /etc/slurm/slurm.conf links to ours while the cluster runs, under a
lock that a second test run on the machine waits for. Accounting is off, so job status is
polled with squeue. Every daemon is stopped by the PID in its pid file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]


class ClusterUnavailable(Exception):
    pass


def install() -> None:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ClusterUnavailable("SLURM is not installed and cannot be (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env, timeout=300)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], capture_output=True,
                            text=True, env=env, timeout=600, check=False)
    if result.returncode != 0 or not shutil.which("slurmctld"):
        raise ClusterUnavailable(f"apt-get install {' '.join(PACKAGES)} failed: {result.stderr[-500:]}")


SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
LOCK = Path("/etc/slurm/.pgx-test-cluster.lock")


@dataclass
class Cluster:
    folder: Path
    conf: Path
    lock: int

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def stop(self) -> None:
        """Stop the daemons."""
        for name in ("slurmd.pid", "slurmctld.pid", "munged.pid"):
            pid_file = self.folder / name
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        time.sleep(1)
        if SYSTEM_CONF.is_symlink() and SYSTEM_CONF.resolve() == self.conf.resolve():
            SYSTEM_CONF.unlink()
        os.close(self.lock)  # releases the machine's test-cluster lock


def _real_memory_mb() -> int:
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    for token in out.split():
        if token.startswith("RealMemory="):
            return max(1024, int(token.split("=")[1]) - 1024)
    return 4096


def _machine_lock(wait: float = 600.0) -> int:
    """The machine's test-cluster lock, waiting for another test run to finish with it."""
    import fcntl

    LOCK.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.time() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.time() > deadline:
                os.close(descriptor)
                raise ClusterUnavailable("another test run kept the machine's SLURM test cluster busy") from None
            time.sleep(2)


def _free_ports(n: int) -> list[int]:
    """Ports nothing listens on now (the kernel's choice for port 0)."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(folder: Path) -> Cluster:
    install()
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(exist_ok=True)
    # munge: key, run directory, daemon as user munge.
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create"], check=True)
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    if subprocess.run(["munge", "-n"], capture_output=True, check=False).returncode != 0:
        # The test's own folder is private to root; munged's pid file needs a folder it can write.
        munge_dir = Path(tempfile.mkdtemp(prefix="pgx-munge-"))
        munge_dir.chmod(0o755)
        shutil.chown(munge_dir, "munge", "munge")
        result = subprocess.run(["runuser", "-u", "munge", "--", "munged", "--pid-file",
                                 str(munge_dir / "munged.pid"), "--force"], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ClusterUnavailable(f"munged did not start: {result.stderr.strip()}")
        (folder / "munged.pid").write_text((munge_dir / "munged.pid").read_text())
    lock = _machine_lock()
    if SYSTEM_CONF.exists() and "ClusterName=pgxtest" not in SYSTEM_CONF.read_text():
        os.close(lock)
        raise ClusterUnavailable(f"{SYSTEM_CONF} belongs to another cluster; not touching it")
    conf = folder / "slurm.conf"
    controller_port, node_port = _free_ports(2)
    conf.write_text("\n".join([
        f"ClusterName=pgxtest{os.getpid()}", "SlurmctldHost=localhost", "SlurmUser=root", "AuthType=auth/munge",
        f"SlurmctldPort={controller_port}", f"SlurmdPort={node_port}",
        f"StateSaveLocation={folder}/state", f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldLogFile={folder}/log/slurmctld.log", f"SlurmdLogFile={folder}/log/slurmd.log",
        f"SlurmctldPidFile={folder}/slurmctld.pid", f"SlurmdPidFile={folder}/slurmd.pid",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        "ReturnToService=2", "MpiDefault=none", "SchedulerType=sched/backfill",
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_real_memory_mb()} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
    ]) + "\n")
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        SYSTEM_CONF.unlink()
    SYSTEM_CONF.symlink_to(conf)
    cluster = Cluster(folder, conf, lock)
    env = cluster.env
    subprocess.run(["slurmctld"], check=True, env=env, capture_output=True)
    subprocess.run(["slurmd", "-N", "localhost"], check=True, env=env, capture_output=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env, check=False)
        if state.stdout.strip() in ("idle", "mixed", "allocated"):
            return cluster
        time.sleep(0.5)
    cluster.stop()
    raise ClusterUnavailable(f"SLURM node never became idle: {state.stdout} {state.stderr}")
