import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/processes.ts';

/**
 * The Python side of progress, run with the machine's python3: the bootstrap starts the caller's
 * code as python3 would (same __main__, arguments and exit code), a reporter pointed at an
 * endpoint that refuses every connection changes neither the exit code nor the time taken, the
 * request it signs is the one botocore's own SigV4 signer makes, and the stage counter's figures
 * from a status tracker. PySpark is not installed here: the counter is given an object with the
 * status tracker's methods and the shapes PySpark's SparkJobInfo and SparkStageInfo have.
 */

const RUNNERS = fileURLToPath(new URL('../../runners/', import.meta.url));
const BOOTSTRAP = join(RUNNERS, 'libra_bootstrap.py');

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function python(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Ran {
  const { LIBRA_PROGRESS: _unset, ...inherited } = process.env;
  const started = performance.now();
  const result = spawnSync('python3', args, {
    env: { ...inherited, PYTHONDONTWRITEBYTECODE: '1', ...env },
    encoding: 'utf8',
    timeout: 30_000,
    ...(cwd !== undefined && { cwd }),
  });
  if (result.error) throw new Error(`python3 could not run: ${result.error.message}`);
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: performance.now() - started,
  };
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'libra-progress-py-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SHOW_ITSELF = `
import sys, os, __main__
def here(): pass
print(__name__, sys.argv[1:], os.path.basename(sys.argv[0]), os.path.basename(__file__))
print("main module is this one:", __main__.here is here, "path[0] is its folder:", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
`;

describe('libra_bootstrap.py', () => {
  it('runs the code as python3 would: __main__, arguments, sys.path, exit code', async () => {
    // Prepare
    const script = join(dir, 'show.py');
    await writeFile(script, `${SHOW_ITSELF}\nsys.exit(int(sys.argv[1]))\n`);

    // Act
    const direct = python([script, '3', 'two words', '--flag']);
    const viaPath = python([BOOTSTRAP, script, '3', 'two words', '--flag']);
    const viaUrl = python([BOOTSTRAP, pathToFileURL(script).href, '3', 'two words', '--flag']);

    // Assess
    expect(direct.stdout).toContain("__main__ ['3', 'two words', '--flag'] show.py show.py");
    expect(direct.stdout).toContain('main module is this one: True path[0] is its folder: True');
    for (const ran of [viaPath, viaUrl]) {
      expect(ran.code).toBe(3);
      expect(ran.stdout).toBe(direct.stdout);
    }
  });

  it('ends as python3 does on an uncaught exception and on sys.exit with a message', async () => {
    // Prepare
    const raises = join(dir, 'raises.py');
    await writeFile(raises, 'raise ValueError("bad input 42")\n');
    const says = join(dir, 'says.py');
    await writeFile(says, 'import sys\nsys.exit("cannot go on")\n');

    // Act
    const [raisedDirect, raisedBoot] = [python([raises]), python([BOOTSTRAP, raises])];
    const [saidDirect, saidBoot] = [python([says]), python([BOOTSTRAP, says])];

    // Assess
    expect(raisedBoot.code).toBe(raisedDirect.code);
    expect(raisedBoot.code).toBe(1);
    expect(raisedBoot.stderr.trim().split('\n').at(-1)).toBe('ValueError: bad input 42');
    expect(saidBoot.code).toBe(saidDirect.code);
    expect(saidBoot.stderr).toBe(saidDirect.stderr);
  });

  it('refuses a code URI it cannot read, saying so', () => {
    // Act
    const ran = python([BOOTSTRAP, 'https://example.invalid/code.py']);

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain('cannot read the code at https://example.invalid/code.py');
  });
});

describe('libra_progress.py', () => {
  it('changes neither the exit code nor the time taken when its endpoint refuses every report', async () => {
    // Prepare: a job that reports fifty times as it goes and ends with code 4.
    const job = join(dir, 'reports.py');
    await writeFile(
      job,
      [
        'import sys, time, libra_progress',
        'libra_progress.start(interval=0.05)',
        'for i in range(50):',
        '    libra_progress.report(i, 50, i * 10, 500, i / 50)',
        '    time.sleep(0.01)',
        'sys.exit(4)',
      ].join('\n'),
    );
    const port = await freePort();
    const unreachable = {
      LIBRA_PROGRESS: `table=jobs,job=job-1,region=us-east-1,endpoint=http://127.0.0.1:${port}`,
    };

    // Act: twice each, interleaved, so a slow moment of the machine falls on both sides alike.
    const quiet = [python([BOOTSTRAP, job]), python([BOOTSTRAP, job])];
    const failing = [python([BOOTSTRAP, job], unreachable), python([BOOTSTRAP, job], unreachable)];

    // Assess
    for (const ran of [...quiet, ...failing]) expect(ran.code).toBe(4);
    const fastest = (runs: Ran[]) => Math.min(...runs.map((ran) => ran.ms));
    expect(fastest(failing) - fastest(quiet)).toBeLessThan(300);
    // It said once that reports were not sent, and went on.
    expect(failing[0]?.stderr.match(/a report was not sent/g)).toHaveLength(1);
    expect(quiet[0]?.stderr).toBe('');
  });

  it("signs its UpdateItem as botocore's SigV4 signer does, the progress attribute only, nothing returned", () => {
    // Act
    const ran = python(
      [
        '-c',
        `
import datetime, json, libra_progress
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
target = {"table": "libra-jobs", "job": "job-7", "region": "eu-west-1"}
at = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
body = libra_progress.update_item_request(target, libra_progress.progress_value(1, 3, 10, 40, 0.25, at))
url, headers, payload = libra_progress.signed_request(target, body, ("AKIDEXAMPLE", "secret", "token"), now=at)
request = AWSRequest(method="POST", url=url, data=payload, headers={k: v for k, v in headers.items() if k not in ("authorization", "x-amz-date", "x-amz-security-token")})
import botocore.auth
botocore.auth.get_current_datetime = lambda: at.replace(tzinfo=None)
SigV4Auth(Credentials("AKIDEXAMPLE", "secret", "token"), "dynamodb", "eu-west-1").add_auth(request)
print(json.dumps({"ours": headers["authorization"], "botocore": request.headers["Authorization"], "url": url, "body": json.loads(payload)}))
`,
      ],
      {},
      RUNNERS,
    );

    // Assess
    expect(ran.stderr).toBe('');
    const out = JSON.parse(ran.stdout);
    expect(out.ours).toBe(out.botocore);
    expect(out.url).toBe('https://dynamodb.eu-west-1.amazonaws.com/');
    expect(out.body).toEqual({
      TableName: 'libra-jobs',
      Key: { pk: { S: 'JOB#job-7' }, sk: { S: 'META' } },
      UpdateExpression: 'SET progress = :progress',
      ExpressionAttributeValues: {
        ':progress': {
          M: {
            stagesDone: { N: '1' },
            stagesTotal: { N: '3' },
            tasksDone: { N: '10' },
            tasksTotal: { N: '40' },
            fraction: { N: '0.25' },
            updatedAt: { S: '2026-01-02T03:04:05.000Z' },
          },
        },
      },
      ReturnValues: 'NONE',
    });
  });

  it('refuses figures that are not whole counts or a fraction from 0 to 1, with a clear error', () => {
    // Act
    const ran = python(
      [
        '-c',
        `
import libra_progress
for args in [(1, 2, -1, 4), (1, 2, 3, 4, 1.5), (1.5, 2, 3, 4)]:
    try:
        libra_progress.report(*args)
    except ValueError as error:
        print(error)
`,
      ],
      {},
      RUNNERS,
    );

    // Assess
    expect(ran.stdout.trim().split('\n')).toEqual([
      'libra_progress: tasksDone must be a whole number >= 0, got -1',
      'libra_progress: fraction must be a number from 0 to 1, got 1.5',
      'libra_progress: stagesDone must be a whole number >= 0, got 1.5',
    ]);
  });

  it("counts stages and tasks from the status tracker: active, done, skipped, and a job's later stages", () => {
    // Prepare: the tracker as PySpark's StatusTracker answers, over three readings.
    const ran = python(
      [
        '-c',
        `
from collections import namedtuple
import libra_progress
Job = namedtuple("SparkJobInfo", "jobId stageIds status")
Stage = namedtuple("SparkStageInfo", "stageId currentAttemptId name numTasks numActiveTasks numCompletedTasks numFailedTasks")
class Tracker:
    def __init__(self, jobs, stages, active):
        self.jobs, self.stages, self.active = jobs, stages, active
    def getActiveJobsIds(self): return [j.jobId for j in self.jobs.values() if j.status == "RUNNING"]
    def getJobIdsForGroup(self, group=None): return list(self.jobs)
    def getJobInfo(self, job_id): return self.jobs.get(job_id)
    def getStageInfo(self, stage_id): return self.stages.get(stage_id)
    def getActiveStageIds(self): return self.active
counter = libra_progress.StageCounter()
# Job 0 runs stage 0 (10 tasks, 4 done); stage 1 waits for it.
print(counter.update(Tracker({0: Job(0, [0, 1], "RUNNING")}, {0: Stage(0, 0, "a", 10, 2, 4, 0), 1: Stage(1, 0, "b", 6, 0, 0, 0)}, [0])))
# Stage 0 done, stage 1 half done.
print(counter.update(Tracker({0: Job(0, [0, 1], "RUNNING")}, {0: Stage(0, 0, "a", 10, 0, 10, 0), 1: Stage(1, 0, "b", 6, 3, 3, 0)}, [1])))
# Job 0 succeeded; job 1 reuses stage 0's shuffle (stage 2 skipped) and runs stage 3.
print(counter.update(Tracker({0: Job(0, [0, 1], "SUCCEEDED"), 1: Job(1, [2, 3], "RUNNING")}, {0: Stage(0, 0, "a", 10, 0, 10, 0), 1: Stage(1, 0, "b", 6, 0, 6, 0), 2: Stage(2, 0, "c", 10, 0, 0, 0), 3: Stage(3, 0, "d", 4, 4, 0, 0)}, [3])))
`,
      ],
      {},
      RUNNERS,
    );

    // Assess: (stagesDone, stagesTotal, tasksDone, tasksTotal, fraction)
    expect(ran.stderr).toBe('');
    expect(ran.stdout.trim().split('\n')).toEqual([
      '(0, 2, 4, 16, 0.25)',
      '(1, 2, 13, 16, 0.8125)',
      '(2, 4, 16, 30, 0.5333333333333333)',
    ]);
  });
});
