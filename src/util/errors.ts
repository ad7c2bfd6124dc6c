// One error type for everything a user can get wrong. The message names the input (file, key
// path, repository, package) and the problem; the CLI prints `error: <message>` and exits non-zero.
export class KilnError extends Error {
  override name = 'KilnError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
