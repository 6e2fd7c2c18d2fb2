#!/usr/bin/env node
// Regenerates docs/configuration.md from the config schema (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { configurationDoc } from '../dist/src/config/template.js';

writeFileSync('docs/configuration.md', configurationDoc());
console.log('wrote docs/configuration.md');
