"""The pure Slurm rules: native dependencies or why not, the sbatch argv, Slurm's states in ours,
the poll interval (core/slurmrules.py, slurmstates.py, slurmpoll.py; the commands' output parsers
in engine/executors/slurmcmd.py)."""

from __future__ import annotations

import pytest

from jupyter_jobflow.core.depspec import parse
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.model import Job, JobState
from jupyter_jobflow.core.slurmpoll import PollPolicy
from jupyter_jobflow.core.slurmrules import (
    Held,
    Native,
    Parent,
    mount_type,
    native_dependency,
    sbatch_argv,
    shared_state_warning,
    slurm_time,
)
from jupyter_jobflow.core.slurmstates import failed_parents, outcome, split_exit, split_wait_status
from jupyter_jobflow.engine.executors.slurmcmd import parse_sacct, parse_sbatch, parse_scontrol, parse_squeue

NOW = 1_000_000.0
ON_SLURM = {1: Parent(5001), 2: Parent(5002), 3: Parent(5003, ended_at=NOW - 100)}


def native(text, parents=ON_SLURM, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("min_job_age", 3600)
    return native_dependency(parse(text), parents, **kw)


# -- (a) native dependencies ----------------------------------------------------------------------
@pytest.mark.parametrize("ours, slurms", [
    ("afterok:1", "afterok:5001"),
    ("afterok:1:2", "afterok:5001:5002"),
    ("afterok:1,afternotok:2", "afterok:5001,afternotok:5002"),
    ("afterany:1?afternotok:2", "afterany:5001?afternotok:5002"),
    ("after:1+10m", "after:5001+10"),
    ("after:1+2h", "after:5001+120"),
    ("singleton", "singleton"),
    ("singleton,afterok:3", "singleton,afterok:5003"),
])
def test_a_dependency_all_on_slurm_becomes_slurms_own_string(ours, slurms):
    assert native(ours) == Native(slurms, True)


def test_auto_cancel_is_kill_on_invalid_dep_and_no_auto_cancel_says_no_explicitly():
    assert native("afterok:1").argv() == ["--dependency=afterok:5001", "--kill-on-invalid-dep=yes"]
    # explicit "no": a site's kill_invalid_depend must not cancel a --no-auto-cancel job
    assert native("afterok:1", auto_cancel=False).argv() == ["--dependency=afterok:5001", "--kill-on-invalid-dep=no"]
    assert native_dependency(None, {}, now=NOW, min_job_age=300).argv() == []


@pytest.mark.parametrize("ours, why", [
    ("afterok:1+10m", "Slurm keeps a delay on 'after' only"),
    ("afternotok:1+1", "Slurm keeps a delay on 'after' only"),
    ("afterany:1+30s", "Slurm keeps a delay on 'after' only"),
    ("after:1+90s", "whole minutes"),
    ("afterok:1,afterok:9", "job 9 is not on Slurm"),
    ("afterok:4", "job 4 is not on Slurm"),
    ("aftercorr:1", "cannot pair"),
])
def test_what_slurm_cannot_keep_is_held_with_the_reason(ours, why):
    parents = {**ON_SLURM, 4: Parent(None)}
    held = native(ours, parents)
    assert isinstance(held, Held) and why in held.why


def test_a_parent_older_than_min_job_age_is_not_named_to_slurm():
    parents = {1: Parent(5001, ended_at=NOW - 3590)}
    held = native("afterany:1", parents)
    assert isinstance(held, Held) and "MinJobAge 3600 s" in held.why
    assert native("afterany:1", {1: Parent(5001, ended_at=NOW - 600)}) == Native("afterany:5001")


def test_a_parent_that_may_be_retried_and_singleton_beside_local_namesakes_are_held():
    assert "retried" in native("afterok:1", {1: Parent(5001, may_retry=True)}).why
    assert isinstance(native("singleton", namesakes_elsewhere=True), Held)


def test_a_parent_being_stopped_or_cancelled_by_a_user_is_never_named_to_slurm():
    # Slurm reads a user cancel as a failure (afternotok fires); ours does not: we judge those
    assert "being stopped" in native("afternotok:1?afterok:2", {1: Parent(5001, stopping=True), 2: Parent(5002)}).why
    assert "cancelled by a user" in native("afternotok:1?afterok:2",
                                           {1: Parent(5001, ended_at=0.0, user_cancelled=True), 2: Parent(5002)}).why


# -- (b) the sbatch argv ------------------------------------------------------------------------
JOB = Job(id=42, name="train", command=("python", "t.py"), cwd="/work/p", gpus=2, time_limit=5400)


def test_sbatch_argv_carries_name_time_gpus_cwd_log_passthrough_and_dependency():
    argv = sbatch_argv(JOB, "/state/42.sbatch", log_path="/state/logs/42-1.log",
                       slurm={"partition": "gpu", "mem": "4G", "cpus-per-task": "8"},
                       dependency=Native("afterok:5001"))
    assert argv[:2] == ["sbatch", "--parsable"] and argv[-1] == "/state/42.sbatch"
    for word in ("--job-name=train", "--output=/state/logs/42-1.log", "--chdir=/work/p", "--time=01:30:00",
                 "--gres=gpu:2", "--partition=gpu", "--mem=4G", "--cpus-per-task=8",
                 "--dependency=afterok:5001", "--kill-on-invalid-dep=yes", "--no-requeue"):
        assert word in argv


def test_slurm_time_rounds_up_to_whole_minutes():
    assert [slurm_time(s) for s in (None, 1, 60, 61, 5400, 86400 + 59)] == \
        [None, "00:01:00", "00:01:00", "00:02:00", "01:30:00", "1-00:01:00"]


def test_gpus_given_once_typed_gres_wins_and_device_numbers_are_refused():
    argv = sbatch_argv(JOB, "s", log_path="l", slurm={"gres": "gpu:a100:2"})
    assert "--gres=gpu:a100:2" in argv and "--gres=gpu:2" not in argv
    with pytest.raises(InvalidSpec, match="give the count once"):
        sbatch_argv(JOB, "s", log_path="l", slurm={"gpus": "3"})
    with pytest.raises(InvalidSpec, match="ask for a count"):
        sbatch_argv(JOB.evolve(gpu_ids=(0, 2)), "s", log_path="l")
    with pytest.raises(InvalidSpec, match="not passed to Slurm"):
        sbatch_argv(JOB, "s", log_path="l", slurm={"wrap": "rm -rf /"})
    with pytest.raises(InvalidSpec, match="one value on one line"):
        sbatch_argv(JOB, "s", log_path="l", slurm={"partition": "a\n#SBATCH --x"})


# -- (c) Slurm's states in ours -----------------------------------------------------------------
@pytest.mark.parametrize("state, reason, code, sig, ours, why", [
    ("PENDING", "Priority", None, None, JobState.QUEUED, "Slurm:Priority"),
    ("PENDING", "Dependency", None, None, JobState.QUEUED, "Dependency"),
    ("PENDING", "JobHeldUser", None, None, JobState.HOLD, "JobHeldUser"),
    ("RUNNING", "None", None, None, JobState.RUNNING, "None"),
    ("COMPLETING", "", 0, None, JobState.RUNNING, "None"),
    ("COMPLETED", "", 0, None, JobState.FINISHED, "None"),
    ("FAILED", "NonZeroExitCode", 2, None, JobState.FAILED, "ExitCode:2"),
    ("FAILED", "", None, 9, JobState.FAILED, "Signal:9"),
    ("CANCELLED by 0", "", None, 15, JobState.CANCELLED, "Cancelled"),
    ("TIMEOUT", "TimeLimit", None, None, JobState.TIMEOUT, "TimeLimit:00:01:00"),
    ("OUT_OF_MEMORY", "", 0, None, JobState.FAILED, "OutOfMemory"),
    ("NODE_FAIL", "", None, None, JobState.FAILED, "NodeFail"),
    ("PREEMPTED", "", None, None, JobState.FAILED, "Preempted"),
    ("BOOT_FAIL", "", None, None, JobState.FAILED, "BootFail"),
    ("DEADLINE", "", None, None, JobState.FAILED, "Deadline"),
    ("REQUEUED", "", None, None, JobState.QUEUED, "Slurm:REQUEUED"),
])
def test_slurm_states_map_to_ours_with_reasons(state, reason, code, sig, ours, why):
    got = outcome(state, reason=reason, exit_code=code, signal=sig, time_limit="1:00")
    assert got.state is ours and str(got.reason) == why


def test_a_dependant_slurm_cancelled_names_the_failed_parent_and_unknown_states_are_none():
    dep = "afterok:5000(failed),afterany:5001(unfulfilled)"
    assert failed_parents(dep) == [5000]
    got = outcome("CANCELLED", reason="DependencyNeverSatisfied", dependency=dep)
    assert got.state is JobState.CANCELLED and got.reason.args == {"job": 5000}
    assert outcome("PENDING", reason="DependencyNeverSatisfied", dependency=dep).state is JobState.QUEUED
    assert outcome("SOMETHING_NEW") is None


def test_exit_codes_from_sacct_and_squeue():
    assert split_exit("2:0") == (2, None) and split_exit("0:9") == (None, 9) and split_exit("") == (None, None)
    assert split_wait_status(768) == (3, None) and split_wait_status("15") == (None, 15)
    assert split_wait_status(0) == (0, None)


# -- the commands' output -----------------------------------------------------------------------
def test_parsers_of_sbatch_squeue_sacct_scontrol():
    assert parse_sbatch("5000\n") == 5000 and parse_sbatch("5001;jobflowtest\n") == 5001
    rows = parse_squeue("5000|FAILED|NonZeroExitCode|768|1:00|2026-01-01T10:00:00|2026-01-01T10:00:05|vm|\n"
                        "5002|RUNNING|None|0|UNLIMITED|2026-01-01T10:00:00|N/A|vm|\n5003_1|PENDING|x|0|||||\n")
    assert set(rows) == {5000, 5002} and rows[5000].exit_code == 3 and rows[5002].exit_code is None
    assert rows[5000].outcome.state is JobState.FAILED and str(rows[5000].outcome.reason) == "ExitCode:3"
    acct = parse_sacct("5000|FAILED|3:0|2026-01-01T10:00:00|2026-01-01T10:00:05\n5000.batch|FAILED|3:0||\n")
    assert list(acct) == [5000] and acct[5000].exit_code == 3
    show = parse_scontrol("JobId=5001 JobName=my job JobState=PENDING Reason=Dependency "
                          "Dependency=afterok:5000(unfulfilled) Command=/a b/c.sh\n")
    assert show["JobName"] == "my job" and show["Reason"] == "Dependency" and show["Command"] == "/a b/c.sh"


# -- (d) the poll interval ----------------------------------------------------------------------
def test_poll_backs_off_while_nothing_changes_and_tightens_on_change_watchers_and_time_limits():
    policy = PollPolicy()
    waits, wait = [], None
    for _ in range(8):
        wait = policy.next_wait(wait, changed=False, now=NOW)
        waits.append(wait)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert policy.next_wait(30, changed=True, now=NOW) == 1
    assert policy.next_wait(30, changed=False, now=NOW, watched=True) == 2
    assert policy.next_wait(30, changed=False, now=NOW, ends=[NOW + 5, NOW - 3]) == 5  # lands on the limit
    assert policy.next_wait(30, changed=False, now=NOW, ends=[NOW + 0.2]) == 1  # never faster than fastest


def test_an_idle_hour_costs_about_130_polls_whatever_the_number_of_jobs():
    policy, t, wait, polls = PollPolicy(), 0.0, None, 0
    while t < 3600:
        wait = policy.next_wait(wait, changed=False, now=t)
        t += wait
        polls += 1
    assert polls <= 3600 / 30 + 6


def test_a_bad_poll_policy_is_one_line():
    with pytest.raises(InvalidSpec, match="fastest"):
        PollPolicy(fastest=60, slowest=30)


# -- (e) the state directory the compute nodes must share -----------------------------------------
MOUNTS = """overlay / overlay rw 0 0
tmpfs /tmp tmpfs rw 0 0
nas:/export/home /home nfs4 rw 0 0
/dev/sdb1 /home/local ext4 rw 0 0
/dev/sdc1 /data\\040x xfs rw 0 0
"""


def test_the_state_directorys_filesystem_is_the_longest_mount_above_it():
    assert mount_type("/home/ana/.jobflow", MOUNTS) == "nfs4"
    assert mount_type("/home/local/x", MOUNTS) == "ext4"
    assert mount_type("/home/localx", MOUNTS) == "nfs4"  # a prefix of the name is not a mount above it
    assert mount_type("/data x/s", MOUNTS) == "xfs"
    assert mount_type("/tmp", MOUNTS) == "tmpfs" and mount_type("/srv", MOUNTS) == "overlay"


def test_a_local_state_directory_on_a_cluster_of_other_nodes_is_one_line_naming_the_fix():
    def warn(fstype, nodes, declared=False):
        return shared_state_warning("/tmp/s", fstype=fstype, nodes=set(nodes), here={"head", "localhost"},
                                    declared=declared)

    said = warn("tmpfs", ["n1", "n2"])
    assert "\n" not in said and "/tmp/s" in said and "tmpfs" in said and "JOBFLOW_SHARED_STATE=1" in said
    assert warn("ext4", ["n1"])  # one node, but not this machine
    assert warn("nfs4", ["n1", "n2"]) is None and warn("lustre", ["n1"]) is None
    assert warn("tmpfs", ["head"]) is None  # a single-node cluster on this machine shares everything
    assert warn("tmpfs", ["n1", "n2"], declared=True) is None
