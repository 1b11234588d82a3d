// The webhook configurations of a controller that runs as a host process of the test cluster (Kueue from
// up.sh, JobSet from bench:flare), from its own config/components/webhook/manifests.yaml (copied by
// build.sh): each webhook calls https://127.0.0.1:<port><path> with the test CA instead of an in-cluster
// Service; only the webhooks of what the process serves are kept (the pod webhooks and those of the API
// groups given: a webhook nobody serves with failurePolicy Fail would break every Job or Deployment); and
// the pod webhooks only see namespaces that carry the given label (so no other test's pods depend on it).
//
// Usage: node webhooks.mjs <manifests.yaml> <port> <ca.crt> <label-key>=<label-value> <name> <group>...
//   <name>: the configurations are <name>-mutating and <name>-validating
//   <group>: an API group whose webhooks to keep, e.g. kueue.x-k8s.io
// Prints a JSON List for kubectl apply -f -.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const { parseAllDocuments } = require('yaml');

const [manifests, port, caFile, label, name, ...groups] = process.argv.slice(2);
if (!manifests || !port || !caFile || !label?.includes('=') || !name || groups.length === 0) {
  console.error('usage: node webhooks.mjs <manifests.yaml> <port> <ca.crt> <label-key>=<label-value> <name> <group>...');
  process.exit(2);
}
const [labelKey, labelValue] = label.split('=');
const caBundle = readFileSync(caFile).toString('base64');
const isPod = (path) => path === '/mutate--v1-pod' || path === '/validate--v1-pod';
// controller-gen's paths: /mutate-<group with dots as dashes>-<version>-<kind>.
const served = (path) => isPod(path) || groups.some((g) => path.includes(`-${g.replaceAll('.', '-')}-`));

const items = [];
for (const doc of parseAllDocuments(readFileSync(manifests, 'utf8'))) {
  const cfg = doc.toJS();
  if (cfg === null || !/^(Mutating|Validating)WebhookConfiguration$/.test(cfg.kind)) continue;
  const webhooks = cfg.webhooks
    .filter((w) => served(w.clientConfig.service.path))
    .map((w) => {
      const path = w.clientConfig.service.path;
      return {
        ...w,
        clientConfig: { url: `https://127.0.0.1:${port}${path}`, caBundle },
        ...(isPod(path) ? { namespaceSelector: { matchLabels: { [labelKey]: labelValue } } } : {}),
        timeoutSeconds: 10,
      };
    });
  if (!webhooks.some((w) => !isPod(new URL(w.clientConfig.url).pathname))) {
    throw new Error(`${manifests}: ${cfg.kind} has no webhook for ${groups.join(', ')} (its layout changed?)`);
  }
  items.push({ apiVersion: cfg.apiVersion, kind: cfg.kind, metadata: { name: `${name}-${cfg.kind.startsWith('Mutating') ? 'mutating' : 'validating'}` }, webhooks });
}
if (items.length !== 2) throw new Error(`${manifests}: expected a mutating and a validating configuration, found ${items.length}`);
process.stdout.write(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
