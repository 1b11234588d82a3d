/**
 * The NATS subjects of a burst, apart from the transport (which loads the `nats` client): the operator
 * grants a burst's user exactly these without loading it.
 *
 *   kb.<burst>.<pack>   pack `pack` subscribes here; every other pack publishes its frames to it
 *   kb.<burst>.>        all of them: what a burst's user may publish and subscribe to (nats-users.ts)
 *
 * `<burst>` is the burst id with every character a subject token cannot hold (`.`, `*`, `>`, spaces…)
 * replaced by `_`. Two ids that differ only there share subjects: burst ids kubeburst makes never do
 * (`<uid prefix>-a<attempt>`, `local-<hex>`).
 * @module
 */
/** A burst id as one subject token. */
const token = (burstId: string): string => burstId.replace(/[^A-Za-z0-9_-]/g, '_');

/** The subject pack `pack` of the burst listens on. */
export function natsSubject(burstId: string, pack: number): string {
  return `kb.${token(burstId)}.${pack}`;
}

/** Every subject of the burst, as one NATS wildcard. */
export function natsBurstSubjects(burstId: string): string {
  return `kb.${token(burstId)}.>`;
}
