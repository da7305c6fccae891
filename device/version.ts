/** This release's version (package.json's), which the agent names in its hello as `devicestreams-agent/VERSION`. */
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
