/**
 * zod as the service uses it: the `zod/mini` build, with zod's English messages.
 *
 * Every runtime schema is built with zod/mini (`z.optional(s)`, `s.check(z.minLength(1))`)
 * rather than zod's classic API (`s.optional().min(1)`): the classic build attaches each of its
 * methods to every schema instance, and loading it and building the service's schemas was the
 * largest part of a function's module init after the AWS SDK itself (docs/benchmarks.md, Cold
 * start). zod/mini loads no locale, so its messages would all read "Invalid input": English is
 * configured here, once, for every schema that imports zod from this module.
 */
import * as z from 'zod/mini';
import { en } from 'zod/locales';

z.config(en());

export * from 'zod/mini';
