/**
 * What an operator account's name and password may be: the console API checks them (server/bff),
 * and the console's forms check them first so a person reads what is wrong before anything is
 * sent (web/src/account-rules.ts). Browser-safe.
 */

export const OPERATOR_NAME_MAX = 64;
/** The characters of an account name. */
export const OPERATOR_NAME_PATTERN = /^[A-Za-z0-9._@-]+$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
