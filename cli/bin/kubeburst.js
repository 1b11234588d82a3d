#!/usr/bin/env node
// The `kubeburst` bin. A committed file, so that npm links it at install time even before `npm run build`
// has produced dist/ (npm skips a bin whose target is missing); the command itself is dist/main.js.
import '../dist/main.js';
