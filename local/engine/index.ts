export {
  LocalEngineError,
  type LocalEngineErrorCode,
  LocalSparkEngine,
  type LocalSparkEngineOptions,
} from './engine.ts';
export { JAR_NEEDS_SPARK } from './plan.ts';
export {
  isTerminal,
  type LocalJobType,
  type LocalPreview,
  type LocalRun,
  type LocalRunRequest,
  type LocalRunState,
} from './types.ts';
export { toJsonSafe } from './values.ts';
