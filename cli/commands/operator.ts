/** `devicestreams operator …` — console accounts, managed on the server from the hub's store. */
import { randomBytes } from 'node:crypto';
import type { Role } from '../../shared/console-api.js';
import { OperatorAccounts, ROLES } from '../../server/bff/operators.js';
import { CliError, parse } from '../args.js';
import { STORE_FLAGS, STORE_HELP, openCliStore } from '../store-flags.js';

const HELP = `
Usage: devicestreams operator <list | add NAME | set-password NAME | set-role NAME | delete NAME> [options]

Manages operator accounts of the console directly in the hub's store (run it where the hub runs;
for example when the admin password is lost). Admins can also do this in the console. A running
console ends the terminals of an account changed here within 2 s.

  list                 accounts and their roles
  add NAME             create an account (--role, default operator)
  set-password NAME    set a new password (ends the account's sessions)
  set-role NAME        change the role (--role)
  delete NAME          remove an account

Options:
${STORE_HELP}
  --role ROLE          admin (everything), operator (open terminals) or viewer (devices, history)
  --password-env VAR   read the password from this environment variable; without it a random
                       password is generated and printed once
  -h, --help           this help

Example:
  devicestreams operator set-password admin
`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    ...STORE_FLAGS,
    role: { type: 'string' },
    'password-env': { type: 'string' },
  }, HELP);
  const [action, name] = positionals;
  const role = values.role;
  if (role !== undefined && !ROLES.includes(role as Role)) throw new CliError('--role must be admin, operator or viewer', 2);
  const password = (): { value: string; generated: boolean } => {
    if (values['password-env'] !== undefined) {
      const v = process.env[values['password-env']];
      if (v === undefined || v.length < 8) throw new CliError(`environment variable ${values['password-env']} must hold a password of at least 8 characters`, 2);
      return { value: v, generated: false };
    }
    return { value: randomBytes(12).toString('base64url'), generated: true };
  };
  const store = await openCliStore(values);
  try {
    const operators = new OperatorAccounts(store.operators);
    const needName = (): string => {
      if (name === undefined) throw new CliError(`operator ${action ?? ''} needs a name`, 2);
      return name;
    };
    const announce = (who: string, p: { value: string; generated: boolean }): void => {
      process.stdout.write(p.generated ? `password for ${who}: ${p.value}\n` : `password for ${who} set\n`);
    };
    switch (action) {
      case 'list':
        for (const o of await operators.list()) process.stdout.write(`${o.name.padEnd(24)} ${o.role}\n`);
        return;
      case 'add': {
        const who = needName();
        if (!/^[A-Za-z0-9._@-]{1,64}$/.test(who)) throw new CliError('names use letters, digits and . _ @ -', 2);
        const p = password();
        if (!(await operators.create(who, p.value, (role ?? 'operator') as Role))) throw new CliError(`there is already an operator named ${who}`);
        process.stdout.write(`added ${who} (${role ?? 'operator'})\n`);
        announce(who, p);
        return;
      }
      case 'set-password': {
        const who = needName();
        const p = password();
        if (!(await operators.setPassword(who, p.value))) throw new CliError(`no operator named ${who}`);
        await store.sessions.deleteFor(who);
        announce(who, p);
        return;
      }
      case 'set-role': {
        const who = needName();
        if (role === undefined) throw new CliError('set-role needs --role', 2);
        if (!(await operators.setRole(who, role as Role))) throw new CliError(`no operator named ${who}`);
        process.stdout.write(`${who} is now ${role}\n`);
        return;
      }
      case 'delete': {
        const who = needName();
        if (!(await operators.delete(who))) throw new CliError(`no operator named ${who}`);
        process.stdout.write(`deleted ${who}\n`);
        return;
      }
      default:
        throw new CliError('use list, add, set-password, set-role or delete (see --help)', 2);
    }
  } finally {
    await store.close();
  }
}
