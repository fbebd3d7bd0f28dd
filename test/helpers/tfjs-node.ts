import { messageOf } from '../../shared/errors.ts';
import { readSettings } from '../../shared/settings.ts';
import { selectBackend } from '../../trainer/backend.ts';

/**
 * For the tfjs-node test file: why it is skipped here, printed as one line naming the command that builds tfjs-node;
 * with TRENDCAST_REQUIRE_TFJS_NODE=1 (CI, after that command) a tfjs-node that does not load is an error instead.
 * Loads it in the calling process (the backend is then `tensorflow`).
 */
export async function tfjsNodeSkipReason(): Promise<string | undefined> {
  try {
    await selectBackend('node');
    return undefined;
  } catch (error) {
    const why = messageOf(error).split('\n')[0];
    const missing = `@tensorflow/tfjs-node does not load (build it: npm run build:tfjs-node): ${why}`;
    if (readSettings().TRENDCAST_REQUIRE_TFJS_NODE)
      throw new Error(`TRENDCAST_REQUIRE_TFJS_NODE=1 but the tfjs-node tests cannot run: ${missing}`);
    console.warn(`skipping the tfjs-node tests: ${missing}`);
    return missing;
  }
}
