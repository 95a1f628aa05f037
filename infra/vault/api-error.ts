/** The error every part of the Vault dev server throws for Vault's `{"errors":[...]}` answer. */

/** A failure Vault answers with `{"errors":[...]}` and this status. */
export class VaultApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; ') || `status ${status}`);
  }
}

/** A 400 with one message, as Vault answers bad input. */
export const badRequest = (message: string) => new VaultApiError(400, [message]);
