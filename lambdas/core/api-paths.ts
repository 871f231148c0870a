/** The API's paths, kept apart from the schemas so a handler can name them without loading zod. */
export const API_PREFIX = '/api/v1';
export const JOBS_PATH = `${API_PREFIX}/spark/jobs`;
export const SUBMIT_PATH = `${JOBS_PATH}/submit`;
export const POOLS_PATH = `${API_PREFIX}/spark/pools`;
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;
export const USAGE_PATH = `${API_PREFIX}/spark/usage`;
