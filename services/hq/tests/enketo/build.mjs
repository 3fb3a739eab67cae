// Bundles harness.js (enketo-core + enketo-transformer's web build) into dist/ for the
// Playwright tests in services/hq/tests (see ../enketo_harness.py). No theme: harness.css holds
// only the visibility rules that decide what a user can see and click.
import { build } from 'esbuild';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';

const here = new URL('.', import.meta.url);
const dist = new URL('dist/', here);

await mkdir(dist, { recursive: true });
await build({
    entryPoints: [new URL('harness.js', here).pathname],
    outfile: new URL('harness.bundle.js', dist).pathname,
    bundle: true,
    format: 'iife',
    platform: 'browser', // honours enketo-core's "browser" map (enketo/config, enketo/widgets, ...)
    target: 'chrome110',
    sourcemap: 'linked',
    logLevel: 'warning',
    // Only reached from a Node-only branch (survey.preprocess) of enketo-transformer's web build.
    external: ['libxslt'],
});
await copyFile(new URL('harness.css', here), new URL('harness.css', dist));
await writeFile(
    new URL('index.html', dist),
    `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Enketo harness</title><link rel="stylesheet" href="harness.css"></head>
<body>
<div class="main"><article class="paper" id="enketo-container"></article></div>
<script src="harness.bundle.js"></script>
</body>
</html>
`
);
console.log('built', dist.pathname);
