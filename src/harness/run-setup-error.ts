/** The run could not start for a reason the user can fix (exit 2): unreachable target, unusable scenario. */
export class RunSetupError extends Error {
  override readonly name = 'RunSetupError';
}
