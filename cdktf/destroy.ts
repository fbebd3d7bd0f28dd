// `npm run destroy [-- cdktf destroy flags]`: removes the deployment but what outlives it. The data bucket, which
// `prevent_destroy` protects (so a plain `cdktf destroy` refuses), and Google's service agents' own roles leave
// Terraform's state first and stay in the project. `TRENDCAST_IMPORT_BUCKET=1 npm run deploy` takes the bucket back;
// with TRENDCAST_DESTROY_DATA=1 (deployed first: Terraform reads force_destroy from its state) the bucket goes too.
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { configFrom } from './config.ts';

const DATA_BUCKET = 'google_storage_bucket.bucket';
const AGENT_ROLES = 'google_project_iam_member.agent-role-';

/** The addresses, of those in the state, that `destroy` leaves in the project. */
export function keptOnDestroy(inState: string[], destroyData: boolean): string[] {
  return inState.filter((a) => a.startsWith(AGENT_ROLES) || (a === DATA_BUCKET && !destroyData));
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}): number {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  return result.status ?? 1;
}

function main(): number {
  const config = configFrom(process.env);
  const cdktfDir = import.meta.dirname;
  const stackDir = join(cdktfDir, 'cdktf.out/stacks/trendcast');
  // No state yet (nothing deployed from this checkout): nothing to keep, cdktf destroy says so itself.
  const listed = spawnSync('terraform', ['state', 'list'], { cwd: stackDir, encoding: 'utf8' });
  const inState = listed.status === 0 ? listed.stdout.split('\n').filter(Boolean) : [];
  const kept = keptOnDestroy(inState, config.destroyData);
  if (kept.length > 0) {
    console.log(`kept in the project, out of Terraform's state: ${kept.join(', ')}`);
    const code = run('terraform', ['state', 'rm', ...kept], { cwd: stackDir });
    if (code !== 0) return code;
  }
  return run('npx', ['cdktf', 'destroy', ...process.argv.slice(2)], { cwd: cdktfDir });
}

if (process.argv[1] === import.meta.filename) process.exit(main());
