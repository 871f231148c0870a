"""Reports how far a Spark job has got to Libra, which shows it in the job's status.

Libra tells a job's driver where to report in the LIBRA_PROGRESS environment variable
(`table=<job table>,job=<job id>,region=<region>`, and locally `,endpoint=<url>`), and allows
the job execution role one DynamoDB call only: UpdateItem of the `progress` attribute of a job
record, with ReturnValues NONE. Each report is that one call (docs/progress.md has the shape).

Two ways to use it, from any PySpark driver:

    import libra_progress
    libra_progress.start()             # a daemon thread reads SparkContext.statusTracker()
    libra_progress.report(2, 5, 340, 800)   # or report figures of your own

Libra's SQL runner and its bootstrap for inline Python call start() themselves. Reporting never
fails or slows the job: reports go out from a daemon thread with short timeouts, a newer report
replaces one not yet sent, and every error is swallowed (the first is printed to stderr). Without
LIBRA_PROGRESS both calls do nothing.

Standard library only: requests are signed with SigV4 here; credentials come from botocore's
chain when botocore is installed (EMR images have it), else from AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
"""

import atexit
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ENV = "LIBRA_PROGRESS"
# How often the status tracker is read.
INTERVAL_SECONDS = 5.0
# Connect and read timeout of one report.
TIMEOUT_SECONDS = 2.0
# How long the interpreter's exit waits for the last report, and only while none has failed.
EXIT_WAIT_SECONDS = 1.0

_lock = threading.Lock()
_sender = None


def target_from_env(environ=None):
    """The table, job and region (and a local endpoint) LIBRA_PROGRESS names; None without it."""
    value = (environ if environ is not None else os.environ).get(ENV, "")
    fields = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep and key.strip():
            fields[key.strip()] = val.strip()
    if not (fields.get("table") and fields.get("job") and fields.get("region")):
        return None
    return fields


def progress_value(stages_done, stages_total, tasks_done, tasks_total, fraction=None, updated_at=None):
    """The stored `progress` map, checked: counts are whole numbers >= 0, fraction 0-1 or None."""
    counts = {
        "stagesDone": stages_done,
        "stagesTotal": stages_total,
        "tasksDone": tasks_done,
        "tasksTotal": tasks_total,
    }
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("libra_progress: %s must be a whole number >= 0, got %r" % (name, count))
    value = dict(counts)
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise ValueError("libra_progress: fraction must be a number from 0 to 1, got %r" % (fraction,))
        value["fraction"] = float(fraction)
    at = updated_at or datetime.datetime.now(datetime.timezone.utc)
    value["updatedAt"] = at.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (at.microsecond // 1000)
    return value


def update_item_request(target, progress):
    """The UpdateItem request body of one report: the `progress` attribute only, nothing returned."""
    attributes = {}
    for key, val in progress.items():
        attributes[key] = {"S": val} if isinstance(val, str) else {"N": repr(val) if isinstance(val, float) else str(val)}
    return {
        "TableName": target["table"],
        "Key": {"pk": {"S": "JOB#" + target["job"]}, "sk": {"S": "META"}},
        "UpdateExpression": "SET progress = :progress",
        "ExpressionAttributeValues": {":progress": {"M": attributes}},
        "ReturnValues": "NONE",
    }


def _credential_source(target):
    """A function giving (access key, secret key, token) for each report, or None without any."""
    if target.get("endpoint"):
        # Only the local runtime names an endpoint; its DynamoDB checks that a request is signed, not by whom.
        return lambda: ("local", "local", None)
    try:
        import botocore.session

        found = botocore.session.get_session().get_credentials()
        if found is not None:
            # Asked again for each report: the role's credentials are temporary, and botocore refreshes them.
            def frozen():
                current = found.get_frozen_credentials()
                return current.access_key, current.secret_key, current.token

            return frozen
    except Exception:
        pass
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        token = os.environ.get("AWS_SESSION_TOKEN")
        return lambda: (key, secret, token)
    return None


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signed_request(target, body, credentials, now=None):
    """A SigV4-signed DynamoDB UpdateItem request: (url, headers, payload)."""
    region = target["region"]
    url = target.get("endpoint") or "https://dynamodb.%s.amazonaws.com/" % region
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path or "/"
    payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
    at = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = at.strftime("%Y%m%dT%H%M%SZ"), at.strftime("%Y%m%d")
    access_key, secret_key, token = credentials
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "host": parsed.netloc,
        "x-amz-date": amz_date,
        "x-amz-target": "DynamoDB_20120810.UpdateItem",
    }
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            path,
            "",
            "".join("%s:%s\n" % (name, headers[name]) for name in names),
            ";".join(names),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = "%s/%s/dynamodb/aws4_request" % (day, region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), day)
    for part in (region, "dynamodb", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key,
        scope,
        ";".join(names),
        signature,
    )
    return url, headers, payload


class _Sender(threading.Thread):
    """Sends the newest report, one at a time; a report not yet sent is replaced by a newer one."""

    def __init__(self, target):
        super().__init__(name="libra-progress", daemon=True)
        self.target = target
        self.pending = None
        self.sent = None
        self.failed = False
        self.busy = False
        self.wake = threading.Condition()
        self.credentials = None

    def offer(self, progress):
        with self.wake:
            self.pending = progress
            self.wake.notify()

    def run(self):
        while True:
            with self.wake:
                while self.pending is None:
                    self.wake.wait()
                progress, self.pending = self.pending, None
                self.busy = True
            try:
                self._send(progress)
                self.sent = progress
            except Exception as error:
                if not self.failed:
                    print("libra_progress: a report was not sent (the job goes on): %s" % error, file=sys.stderr)
                self.failed = True
            finally:
                with self.wake:
                    self.busy = False
                    self.wake.notify_all()

    def _send(self, progress):
        if self.credentials is None:
            self.credentials = _credential_source(self.target)
            if self.credentials is None:
                raise RuntimeError("no AWS credentials found")
        body = update_item_request(self.target, progress)
        url, headers, payload = signed_request(self.target, body, self.credentials())
        request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()

    def drain(self, seconds):
        """Waits up to `seconds` for what is pending to go out; not at all once a report failed."""
        deadline = time.monotonic() + seconds
        with self.wake:
            while (self.pending is not None or self.busy) and not self.failed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.wake.wait(left)


def _get_sender():
    global _sender
    with _lock:
        if _sender is None:
            target = target_from_env()
            if target is None:
                return None
            _sender = _Sender(target)
            _sender.start()
            atexit.register(_sender.drain, EXIT_WAIT_SECONDS)
        return _sender


def report(stages_done, stages_total, tasks_done, tasks_total, fraction=None):
    """Reports progress of one's own; returns at once. Invalid figures raise ValueError."""
    value = progress_value(stages_done, stages_total, tasks_done, tasks_total, fraction)
    sender = _get_sender()
    if sender is not None:
        sender.offer(value)
    return sender is not None


class StageCounter:
    """
    Stages and tasks of every Spark job the driver has run so far, from its status tracker.

    The tracker shows the active jobs and stages and keeps a finished job's stages for a while;
    a stage once seen is remembered here, so `stagesTotal` and `tasksTotal` only grow. A stage
    counts done once it is no longer active with all its tasks done, or once its job ended
    (a stage Spark skipped counts done with its tasks). `fraction` is tasks done of tasks known
    so far: a job that starts more Spark jobs later can see it fall back.
    """

    def __init__(self):
        self.job_stages = {}
        self.ended_jobs = set()
        self.stages = {}

    def update(self, tracker):
        job_ids = set(tracker.getActiveJobsIds() or [])
        job_ids.update(tracker.getJobIdsForGroup(None) or [])
        for job_id in job_ids:
            info = tracker.getJobInfo(job_id)
            if info is not None:
                self.job_stages[job_id] = list(info.stageIds)
                if info.status in ("SUCCEEDED", "FAILED"):
                    self.ended_jobs.add(job_id)
        active = set(tracker.getActiveStageIds() or [])
        for stage_ids in self.job_stages.values():
            for stage_id in stage_ids:
                stage = tracker.getStageInfo(stage_id)
                if stage is not None:
                    self.stages[stage_id] = (stage.numTasks, stage.numCompletedTasks)
        ended_stages = {s for job_id in self.ended_jobs for s in self.job_stages.get(job_id, [])}
        stages_total = stages_done = tasks_total = tasks_done = 0
        for stage_ids in self.job_stages.values():
            for stage_id in stage_ids:
                stages_total += 1
                total, completed = self.stages.get(stage_id, (0, 0))
                done = stage_id in ended_stages or (stage_id not in active and total > 0 and completed >= total)
                tasks_total += total
                tasks_done += total if done else min(completed, total)
                stages_done += 1 if done else 0
        fraction = tasks_done / tasks_total if tasks_total > 0 else None
        return stages_done, stages_total, tasks_done, tasks_total, fraction


class SparkReporter(threading.Thread):
    """Reads the active SparkContext's status tracker every few seconds and reports what changed."""

    def __init__(self, interval, spark_context=None):
        super().__init__(name="libra-progress-tracker", daemon=True)
        self.interval = interval
        self.spark_context = spark_context
        self.counter = StageCounter()
        self.last = None
        self.stopped = threading.Event()

    def _context(self):
        if self.spark_context is not None:
            return self.spark_context
        try:
            from pyspark import SparkContext

            return SparkContext._active_spark_context
        except Exception:
            return None

    def poll(self):
        """Reads the tracker once and reports if anything changed; never raises."""
        try:
            context = self._context()
            if context is None:
                return
            figures = self.counter.update(context.statusTracker())
            if figures != self.last:
                self.last = figures
                report(*figures)
        except Exception:
            pass

    def run(self):
        while not self.stopped.wait(self.interval):
            self.poll()

    def finish(self):
        """One last reading while the context is still up, then the wait for it to go out (bounded)."""
        self.stopped.set()
        self.poll()
        if _sender is not None:
            _sender.drain(EXIT_WAIT_SECONDS)


_reporter = None


def start(interval=INTERVAL_SECONDS, spark_context=None):
    """
    Starts reporting from the status tracker of `spark_context` or, without one, of whichever
    SparkContext is active (it may be created later). Returns the reporter, or None when
    LIBRA_PROGRESS is not set. SparkContext.stop() is wrapped to report a last time first.
    """
    global _reporter
    if _get_sender() is None:
        return None
    with _lock:
        if _reporter is None:
            _reporter = SparkReporter(interval, spark_context)
            _reporter.start()
            _wrap_spark_stop(_reporter)
    return _reporter


def _wrap_spark_stop(reporter):
    try:
        from pyspark import SparkContext
    except Exception:
        return
    original = SparkContext.stop
    if getattr(original, "_libra_progress", False):
        return

    def stop(self, *args, **kwargs):
        try:
            reporter.finish()
        except Exception:
            pass
        return original(self, *args, **kwargs)

    stop._libra_progress = True
    SparkContext.stop = stop
