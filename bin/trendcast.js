#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so a checkout works after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
