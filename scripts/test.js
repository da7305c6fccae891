#!/usr/bin/env node
// `npm test`: checks the system tools the tests need (installing them with apt as root when
// missing), then runs the type check, the lint, the unit and integration tests and the browser
// end-to-end tests.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const required = [
  { bin: ['/usr/sbin/sshd'], pkg: 'openssh-server', why: 'the SSH-through-a-stream test' },
  { bin: ['/usr/bin/ssh'], pkg: 'openssh-client', why: 'the SSH-through-a-stream test' },
  { bin: ['/usr/bin/ssh-keygen'], pkg: 'openssh-client', why: 'the SSH-through-a-stream test' },
  { bin: ['/usr/lib/postgresql/15/bin/postgres'], pkg: 'postgresql', why: 'the cluster store (PostgreSQL) tests' },
  { bin: ['/usr/sbin/nats-server', '/usr/bin/nats-server'], pkg: 'nats-server', why: 'the cluster bus (NATS) tests' },
  { bin: ['/usr/sbin/haproxy'], pkg: 'haproxy', why: 'the cluster tests behind a load balancer' },
  { bin: ['/usr/bin/tinyproxy'], pkg: 'tinyproxy', why: 'the agent-behind-an-HTTP-proxy tests' },
  { bin: ['/usr/bin/setpriv'], pkg: 'util-linux', why: 'running test servers as other accounts' },
];
if (existsSync('e2e/playwright.config.ts')) {
  required.push({ bin: ['/usr/bin/chromium'], pkg: 'chromium', why: 'the browser end-to-end tests' });
}

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

const missing = [...new Set(required.filter((r) => !r.bin.some((b) => existsSync(b))).map((r) => r.pkg))];
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error(`The tests need Debian packages that are missing: ${missing.join(' ')}.`);
    console.error(`Install them first:  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  console.log(`Installing missing packages: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update'], env) !== 0 || run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], env) !== 0) {
    console.error(`apt-get could not install ${missing.join(' ')}; install them by hand and run npm test again.`);
    process.exit(1);
  }
}

const steps = [
  ['type check', 'node_modules/.bin/tsc', ['-p', 'tsconfig.json']],
  ['type check (web)', 'node_modules/.bin/tsc', ['-p', 'web/tsconfig.json']],
  ['lint', 'node_modules/.bin/eslint', ['.']],
  ['unit and integration tests', 'node_modules/.bin/vitest', ['run']],
];
if (existsSync('e2e/playwright.config.ts')) {
  steps.push(['console build', 'node', ['scripts/build-web.js']]);
  steps.push(['browser end-to-end tests', 'node_modules/.bin/playwright', ['test', '-c', 'e2e/playwright.config.ts']]);
}
for (const [name, cmd, args] of steps) {
  console.log(`\n=== ${name} ===`);
  const status = run(cmd, args);
  if (status !== 0) {
    console.error(`\nnpm test: ${name} failed (exit ${status})`);
    process.exit(status);
  }
}
console.log('\nnpm test: all steps passed');
