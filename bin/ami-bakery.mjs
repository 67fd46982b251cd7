#!/usr/bin/env node
/* global process */
// The CLI runs from its TypeScript source through tsx (a dependency), like the scripts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main();
