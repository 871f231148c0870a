/**
 * The AWS default credential chain reads files, processes and the instance metadata service: none
 * of it exists in a browser, where IAM-mode deployments are reached through a signing proxy.
 */
export function defaultProvider(): never {
  throw new Error('AWS credentials are not available in the browser: use a signing proxy');
}
