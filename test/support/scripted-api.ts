import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProgressBody, StatusViewBody } from '#core/api-schemas.ts';
import type { JobStatus } from '#core/job-states.ts';
import { CONSOLE_DIST, serveConsole } from '../../local/console-files.ts';
import { checkAnswer } from './contract.ts';
import { SMALL_RESOURCES } from './job-record.ts';

/**
 * A stand-in for the API that plays one job through steps the test chooses, for what the runtime
 * does not report yet (a run's progress), so that the CLI and the console can be shown answers
 * carrying it. Every answer it gives is checked against docs/openapi.json first (an answer the
 * contract would refuse is a 500 and fails the test), so it can only say what the API may say.
 * It serves a submit (of that job), the job's status, its history, the list of jobs (that one
 * job), the pools, and the console's files at `/`.
 */

export interface ScriptStep {
  readonly status: JobStatus;
  /** Seconds after the submit at which the job reached this status (for a new status). */
  readonly at: number;
  readonly progress?: Omit<ProgressBody, 'updatedAt'> & { readonly at: number };
}

/**
 * A job that waits, runs reporting no progress, then reports some: from nothing to a fraction
 * (reported twice with the same values), then counts without a fraction, and ends SUCCEEDED with
 * its last report kept. The steps `PROGRESS_STEP` names are the ones the tests look at.
 */
export const PROGRESS_SCRIPT: readonly ScriptStep[] = [
  { status: 'QUEUED', at: 0 },
  { status: 'SCHEDULED', at: 1 },
  { status: 'RUNNING', at: 2 },
  {
    status: 'RUNNING',
    at: 2,
    progress: { stagesDone: 0, stagesTotal: 3, tasksDone: 0, tasksTotal: 10, fraction: 0, at: 3 },
  },
  // Reported again with the same values: nothing new to say.
  {
    status: 'RUNNING',
    at: 2,
    progress: { stagesDone: 0, stagesTotal: 3, tasksDone: 0, tasksTotal: 10, fraction: 0, at: 4 },
  },
  {
    status: 'RUNNING',
    at: 2,
    progress: { stagesDone: 1, stagesTotal: 3, tasksDone: 4, tasksTotal: 10, fraction: 0.4, at: 5 },
  },
  // The driver cannot know the share done: the counts alone.
  {
    status: 'RUNNING',
    at: 2,
    progress: { stagesDone: 2, stagesTotal: 3, tasksDone: 7, tasksTotal: 10, at: 6 },
  },
  {
    status: 'SUCCEEDED',
    at: 8,
    progress: { stagesDone: 3, stagesTotal: 3, tasksDone: 10, tasksTotal: 10, fraction: 1, at: 8 },
  },
];

/** The steps of PROGRESS_SCRIPT by what they show. */
export const PROGRESS_STEP = { noProgress: 2, fraction: 5, countsOnly: 6, succeeded: 7 } as const;

export interface ScriptedApi {
  readonly url: string;
  readonly jobId: string;
  /** The step served now, from 0. */
  readonly step: number;
  /** Serves the next step. */
  advance(): void;
  /** Status reads of the job served at the current step. */
  readsAtStep(): number;
  /** Answers that broke the contract (the server answered them 500). */
  readonly violations: string[];
  close(): Promise<void>;
}

export const SCRIPTED_JOB_ID = 'job-7d9e2f10-3c4b-4a5d-9e8f-0a1b2c3d4e5f';

/** The ISO time `seconds` after the job's submit. */
type Clock = (seconds: number) => string;

/** The job as GET /jobs/{jobId} says it at `step`: its timestamps from the steps so far. */
function statusAt(steps: readonly ScriptStep[], index: number, iso: Clock): StatusViewBody {
  const step = steps[index] as ScriptStep;
  const reached = (status: JobStatus) => steps.slice(0, index + 1).find((s) => s.status === status);
  const started = reached('RUNNING');
  const ended = (['SUCCEEDED', 'FAILED', 'TIMEOUT'] as const).map(reached).find(Boolean);
  const progress = step.progress;
  return {
    jobId: SCRIPTED_JOB_ID,
    status: step.status as StatusViewBody['status'],
    name: 'scripted',
    pool: 'default',
    backend: 'emr-serverless',
    priority: 5,
    tags: {},
    attempts: started ? 1 : 0,
    submittedAt: iso(0),
    queuedAt: iso(0),
    ...(reached('SCHEDULED') && { scheduledAt: iso(reached('SCHEDULED')?.at ?? 0) }),
    ...(started && { startedAt: iso(started.at) }),
    ...(ended && { completedAt: iso(ended.at) }),
    ...(progress && {
      progress: {
        stagesDone: progress.stagesDone,
        stagesTotal: progress.stagesTotal,
        tasksDone: progress.tasksDone,
        tasksTotal: progress.tasksTotal,
        ...(progress.fraction !== undefined && { fraction: progress.fraction }),
        updatedAt: iso(progress.at),
      },
    }),
    resources: SMALL_RESOURCES,
  };
}

/** The history at `step`: one move per status reached, oldest first. */
function eventsAt(steps: readonly ScriptStep[], index: number, iso: Clock) {
  const events: { jobId: string; at: string; type: 'STATUS'; status: string; from?: string }[] = [];
  let previous: JobStatus | undefined;
  for (const step of steps.slice(0, index + 1)) {
    if (step.status === previous) continue;
    events.push({
      jobId: SCRIPTED_JOB_ID,
      at: iso(step.at),
      type: 'STATUS',
      status: step.status,
      ...(previous !== undefined && { from: previous }),
    });
    previous = step.status;
  }
  return { jobId: SCRIPTED_JOB_ID, events };
}

const POOLS = {
  pools: [
    {
      name: 'default',
      limits: { cpuCores: 64, memoryGb: 256, maxConcurrentJobs: 10, maxQueueSize: 100, maxWaitMinutes: 60 },
      used: { cpuCores: 2, memoryGb: 2.75 },
      running: 1,
      waiting: 0,
      backfill: false,
      backends: ['emr-serverless'],
      you: { weight: 1, running: 1 },
    },
  ],
};

export async function startScriptedApi(steps: readonly ScriptStep[]): Promise<ScriptedApi> {
  let step = 0;
  let reads = 0;
  // Submitted when the script starts (to the second), so that times read as they would live.
  const submittedAt = Math.floor(Date.now() / 1000) * 1000;
  const iso: Clock = (seconds) => new Date(submittedAt + seconds * 1000).toISOString();
  const violations: string[] = [];
  const jobPath = `/api/v1/spark/jobs/${SCRIPTED_JOB_ID}`;
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const answer = (body: unknown, status = 200, extra: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      const headers = { 'content-type': 'application/json', ...extra };
      try {
        checkAnswer({ method: request.method ?? 'GET', path: url.pathname, status, headers, body: text });
      } catch (error) {
        violations.push((error as Error).message);
        response.writeHead(500, { 'content-type': 'text/plain' }).end((error as Error).message);
        return;
      }
      response.writeHead(status, headers).end(text);
    };
    if (request.method === 'POST' && url.pathname === '/api/v1/spark/jobs/submit') {
      // Whatever is submitted becomes the scripted job, as it stands.
      request.resume();
      const { jobId, status, submittedAt } = statusAt(steps, step, iso);
      answer({ jobId, status, submittedAt }, 202, { location: jobPath });
    } else if (request.method === 'GET' && url.pathname === jobPath) {
      reads++;
      answer(statusAt(steps, step, iso));
    } else if (request.method === 'GET' && url.pathname === `${jobPath}/events`) {
      answer(eventsAt(steps, step, iso));
    } else if (request.method === 'GET' && url.pathname === '/api/v1/spark/jobs') {
      const { resources: _resources, ...line } = statusAt(steps, step, iso);
      answer({ jobs: [{ ...line, updatedAt: iso(steps[step]?.progress?.at ?? steps[step]?.at ?? 0) }] });
    } else if (request.method === 'GET' && url.pathname === '/api/v1/spark/pools') {
      answer(POOLS);
    } else {
      void serveConsole(CONSOLE_DIST, request, response, url).then((served) => {
        if (!served)
          response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    jobId: SCRIPTED_JOB_ID,
    get step() {
      return step;
    },
    advance() {
      if (step >= steps.length - 1) throw new Error('the script has no more steps');
      step++;
      reads = 0;
    },
    readsAtStep: () => reads,
    violations,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
