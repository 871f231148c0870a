import { type UsageReportDeps, usageReport } from '#core/use-cases/usage-report.ts';
import { type HttpDeps, httpHandler, json, principalOf } from './http.ts';

/** GET /api/v1/spark/usage → usage and cost totals by owner, pool or tag (core/use-cases/usage-report.ts). */
export function createGetUsageHandler(deps: HttpDeps & UsageReportDeps) {
  return httpHandler(deps, async (event) => {
    const query = event.queryStringParameters ?? {};
    const report = await usageReport(deps, principalOf(event), {
      ...(query.from !== undefined && { from: query.from }),
      ...(query.to !== undefined && { to: query.to }),
      ...(query.groupBy !== undefined && { groupBy: query.groupBy }),
      ...(query.scope !== undefined && { scope: query.scope }),
    });
    return json(200, report);
  });
}
