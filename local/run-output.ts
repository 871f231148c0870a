import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { LocalSparkEngine } from './engine/index.ts';

const OUTPUT_FILES: Readonly<Record<string, string>> = {
  'stdout.txt': 'text/plain; charset=utf-8',
  'stderr.txt': 'text/plain; charset=utf-8',
  'result.json': 'application/json',
};

/**
 * Local only: `GET /local/jobs/{jobId}/runs/{runId}/{stdout.txt|stderr.txt|result.json}` serves
 * a run's output, which the job's status links to (in AWS the links go to the Spark UI and S3).
 * Only the engine's runs (this one's, or an earlier one's on the same data directory) and the three
 * output names are served, never a path from the URL.
 */
export async function serveRunOutput(
  engine: LocalSparkEngine,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<boolean> {
  const match = /^\/local\/jobs\/([^/]+)\/runs\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (request.method !== 'GET' || !match) return false;
  const [, jobId, runId, file] = match;
  const contentType = file ? OUTPUT_FILES[file] : undefined;
  // Runs of an earlier runtime on the same --data are not in this engine's memory: the engine
  // finds their folders on disk, so their links keep working after a restart.
  const outputDir = jobId && runId && contentType ? await engine.outputDirOf(jobId, runId) : undefined;
  if (outputDir === undefined || !file || !contentType) {
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    return true;
  }
  const path = join(outputDir, file);
  const size = await stat(path).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) {
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    return true;
  }
  response.writeHead(200, { 'content-type': contentType, 'content-length': String(size) });
  // A file that goes away mid-read ends this answer, not the server.
  createReadStream(path)
    .on('error', () => response.destroy())
    .pipe(response);
  return true;
}
