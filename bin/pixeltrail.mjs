#!/usr/bin/env -S node --max-semi-space-size=64
// The flag lets V8's young generation grow to 64 MiB a semispace (Node 20 stops at 16), so
// the short-lived objects of each request are collected in fewer scavenges: a pixel hit
// cost 1.5-3 µs less CPU, a single-event POST 2-4 µs less (bench/RESULTS.md, issue 22,
// ninth round), for up to 96 MiB more memory under load. `npm start` runs this file, and the
// bench starts pixeltrail with the flags of its first line.
import '../dist/cli.js';
