/** Process entry: the `portico` command line. */
import { runCli } from './cli/index.ts';

await runCli(process.argv);
