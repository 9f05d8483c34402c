/** Process entry: the `portico` command line. */
import { runCli } from './cli/index.ts';

// The AWS SDK warns on Node 20 about its own releases after January 2027; the versions locked in
// package-lock.json run on Node 20, and the warning would break "one clear line" on stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

await runCli(process.argv);
