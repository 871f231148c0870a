import { en } from 'zod/locales';
import { config } from 'zod/mini';

/**
 * The zod every schema of Libra is written with: `zod/mini`, the functional API of the same
 * package (`z.optional(s)`, `z._default(s, v)`, `s.check(z.minLength(1))`, `z.pipe(s,
 * z.transform(f))`). Its schemas carry no methods, so esbuild keeps only the parts a Lambda
 * uses; classic zod's method chains pulled in all of zod, in every bundle (docs/benchmarks.md,
 * "Measurements behind code choices").
 *
 * Classic zod registers its English messages when its first schema is made; zod/mini leaves
 * the locale to the application, and without one every issue reads "Invalid input". The API's
 * error messages and the configuration's are those English texts, so they are registered here,
 * as classic does: only when no locale is, so that an app embedding Libra keeps its own.
 */
if (!config().localeError) config(en());

// Import it as a namespace (`import * as z from '#core/zod.ts'`): esbuild then keeps only the
// members used. Re-exporting zod/mini's own `z` object instead would keep all of zod.
export * from 'zod/mini';
