import type { ConditionType, Reason, Condition } from '@kubeburst/api';

/**
 * metav1.Condition semantics: lastTransitionTime moves only when `status` changes; reason, message and
 * observedGeneration follow the latest observation. Returns true when the condition changed at all.
 */
export function setCondition(
  conditions: Condition[],
  type: ConditionType,
  status: 'True' | 'False' | 'Unknown',
  reason: Reason,
  message: string,
  generation: number,
  now: string,
): boolean {
  const i = conditions.findIndex((c) => c.type === type);
  const old = i >= 0 ? conditions[i] : undefined;
  const next: Condition = {
    type,
    status,
    observedGeneration: generation,
    lastTransitionTime: old !== undefined && old.status === status ? old.lastTransitionTime : now,
    reason,
    message: message.slice(0, 32768),
  };
  if (old !== undefined && old.status === next.status && old.reason === next.reason && old.message === next.message && old.observedGeneration === generation) return false;
  if (i >= 0) conditions[i] = next;
  else conditions.push(next);
  return true;
}

export function getCondition(conditions: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
