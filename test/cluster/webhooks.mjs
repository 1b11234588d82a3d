// Kueue's webhook configurations (its own config/components/webhook/manifests.yaml, copied by build.sh) for
// a Kueue that runs as a host process of the test cluster (up.sh): each webhook calls
// https://127.0.0.1:<port><path> with the test CA instead of an in-cluster Service, only the webhooks of
// what this Kueue serves are kept (the pod integration and Kueue's own kinds: a webhook nobody serves with
// failurePolicy Fail would break every Job or Deployment), and the pod webhooks only see namespaces that
// carry the label Kueue's managedJobsNamespaceSelector selects.
//
// Usage: node kueue-webhooks.mjs <manifests.yaml> <port> <ca.crt> <label-key>=<label-value>  → JSON List
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const { parseAllDocuments } = require('yaml');

const [manifests, port, caFile, label] = process.argv.slice(2);
if (!manifests || !port || !caFile || !label?.includes('=')) {
  console.error('usage: node kueue-webhooks.mjs <manifests.yaml> <port> <ca.crt> <label-key>=<label-value>');
  process.exit(2);
}
const [labelKey, labelValue] = label.split('=');
const caBundle = readFileSync(caFile).toString('base64');
const served = (path) => path === '/mutate--v1-pod' || path === '/validate--v1-pod' || path.includes('-kueue-x-k8s-io-');

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
        ...(path.endsWith('-v1-pod') ? { namespaceSelector: { matchLabels: { [labelKey]: labelValue } } } : {}),
        timeoutSeconds: 10,
      };
    });
  if (!webhooks.some((w) => w.clientConfig.url.endsWith('/mutate--v1-pod') || w.clientConfig.url.endsWith('/validate--v1-pod'))) {
    throw new Error(`${manifests}: ${cfg.kind} has no pod webhook (Kueue's layout changed?)`);
  }
  items.push({ apiVersion: cfg.apiVersion, kind: cfg.kind, metadata: { name: `kueue-${cfg.kind.startsWith('Mutating') ? 'mutating' : 'validating'}` }, webhooks });
}
if (items.length !== 2) throw new Error(`${manifests}: expected a mutating and a validating configuration, found ${items.length}`);
process.stdout.write(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
