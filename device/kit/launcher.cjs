#!/usr/bin/env node
// The device kit's command. Written in the oldest JavaScript any Node still runs, so that an old
// Node says what it needs instead of failing on syntax it does not know inside the bundle.
'use strict';
// The oldest Node the kit is tested on; scripts/build-device.js fills it in.
var MIN = '__MIN_NODE__'.split('.').map(Number);
var have = process.versions.node.split('.').map(Number);
if (have[0] < MIN[0] || (have[0] === MIN[0] && have[1] < MIN[1])) {
  process.stderr.write('devicestreams-device needs Node.js ' + MIN.join('.') + ' or newer; this is ' + process.version +
    ' (' + process.execPath + '). Install a newer Node.js (https://nodejs.org, or your distribution\'s nodejs package) and run it again.\n');
  process.exit(3);
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle is CommonJS, loaded only once the version is known to be good
require('../lib/devicestreams-device.cjs').main(process.argv.slice(2));
