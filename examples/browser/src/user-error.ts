/** A problem with what the person gave (files, data, settings): its message is shown as is. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
