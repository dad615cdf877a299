from jupyter_jobflow.core.model import Job, JobState, RetryPolicy
from jupyter_jobflow.core.retry import classify, retry_wait, should_retry


def test_retry_wait_backoff_with_cap():  # §1.17 item 27
    policy = RetryPolicy(retries=5, delay=10, backoff=2, max_delay=60)
    assert [retry_wait(policy, k) for k in range(1, 6)] == [10, 20, 40, 60, 60]


def test_retry_wait_constant_delay():
    assert [retry_wait(RetryPolicy(retries=3, delay=5), k) for k in (1, 2, 3)] == [5, 5, 5]


def test_retry_wait_exponential_floors_at_one_second():
    assert retry_wait(RetryPolicy(retries=1, delay=0.1, backoff=2), 1) == 1


def test_classify_outcomes():
    assert classify(exit_code=0, signal=None, stopping=None).state is JobState.FINISHED
    failed = classify(exit_code=3, signal=None, stopping=None)
    assert (failed.kind, failed.state, str(failed.reason)) == ("failure", JobState.FAILED, "ExitCode:3")
    assert str(classify(exit_code=None, signal=9, stopping=None).reason) == "Signal:SIGKILL"
    assert classify(exit_code=None, signal=None, stopping=None, lost=True).kind == "error"
    assert classify(exit_code=143, signal=None, stopping="cancel").state is JobState.CANCELLED
    assert classify(exit_code=143, signal=None, stopping="timeout", time_limit=60).state is JobState.TIMEOUT


def _job(**kw):
    return Job(id=1, name="j", command=("x",), **kw)


def test_should_retry_respects_count_and_retry_on():
    failure = classify(exit_code=1, signal=None, stopping=None)
    timeout = classify(exit_code=None, signal=None, stopping="timeout", time_limit=1)
    cancel = classify(exit_code=None, signal=None, stopping="cancel")
    job = _job(retry=RetryPolicy(retries=2))
    assert should_retry(job, failure)
    assert not should_retry(job.evolve(retry_count=2), failure)
    assert not should_retry(job, timeout)  # timeout is opt-in (§1.9)
    assert should_retry(_job(retry=RetryPolicy(retries=1, retry_on=frozenset({"timeout"}))), timeout)
    assert not should_retry(_job(retry=RetryPolicy(retries=1, retry_on=frozenset({"always"}))), cancel)  # Y3
