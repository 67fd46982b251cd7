/** Instance refresh statuses of a refresh that is still under way. */
export const ACTIVE_REFRESH: ReadonlySet<string> = new Set([
  'Pending',
  'InProgress',
  'Cancelling',
  'RollbackInProgress',
  'Baking',
]);
