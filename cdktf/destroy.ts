// `npm run destroy [-- cdktf destroy flags]`: removes the deployment but the data bucket, which `prevent_destroy`
// protects (so a plain `cdktf destroy` refuses). Unless TRENDCAST_DESTROY_DATA=1 was deployed, the bucket first
// leaves Terraform's state, and stays in the project with every object; `TRENDCAST_IMPORT_BUCKET=1 npm run deploy`
// takes it back.
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { configFrom } from './config.ts';

const CDKTF_DIR = import.meta.dirname;
const STACK_DIR = join(CDKTF_DIR, 'cdktf.out/stacks/trendcast');
const KEPT = 'google_storage_bucket.bucket';

function run(command: string, args: string[], options: SpawnSyncOptions = {}): number {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  return result.status ?? 1;
}

const config = configFrom(process.env);
if (!config.destroyData) {
  const listed = spawnSync('terraform', ['state', 'list', KEPT], { cwd: STACK_DIR, encoding: 'utf8' });
  if (listed.status === 0 && listed.stdout.trim() === KEPT) {
    console.log(`keeping the data bucket ${config.bucket}: it leaves Terraform's state, not the project`);
    const code = run('terraform', ['state', 'rm', KEPT], { cwd: STACK_DIR });
    if (code !== 0) process.exit(code);
  }
}
process.exit(run('npx', ['cdktf', 'destroy', ...process.argv.slice(2)], { cwd: CDKTF_DIR }));
