/** Tagged-template markup (htm bound to Preact): no JSX, so no compile step beyond the bundler's TypeScript. */
export { html } from 'htm/preact';
