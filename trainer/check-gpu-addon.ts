// Run by the GPU image's build (trainer/Dockerfile) right after `npm install @tensorflow/tfjs-node-gpu`: its install
// script downloads libtensorflow and the prebuilt addon and, when the addon's download fails, silently compiles it
// from source instead. Either way the build must fail loudly, naming what did not arrive and the URL it comes from.
// Written with erasable types only: the image runs it with plain `node` (Node 24 strips the types).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIBTENSORFLOW_URL =
  'https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz';

/** What is missing or wrong in an installed @tensorflow/tfjs-node-gpu folder (empty when it is ready to load). */
export function gpuAddonProblems(packageDir: string, napiVersion = 8): string[] {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
    binary: { host: string; module_path: string; remote_path: string };
  };
  const fill = (template: string) =>
    template.replace('{napi_build_version}', String(napiVersion)).replace('{version}', pkg.version);
  const addonUrl = `${pkg.binary.host}/${fill(pkg.binary.remote_path).replace(/^\.\//, '')}GPU-linux-${pkg.version}.tar.gz`;
  const problems: string[] = [];
  if (!existsSync(join(packageDir, 'deps/lib/libtensorflow.so.2')))
    problems.push(`libtensorflow 2.9.1 (GPU) is missing: its download from ${LIBTENSORFLOW_URL} failed`);
  if (!existsSync(join(packageDir, fill(pkg.binary.module_path), 'tfjs_binding.node')))
    problems.push(`the prebuilt addon is missing: its download from ${addonUrl} failed`);
  else if (existsSync(join(packageDir, 'build')))
    problems.push(`the addon was compiled from source, not downloaded: its download from ${addonUrl} failed`);
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? 'node_modules/@tensorflow/tfjs-node-gpu';
  const problems = gpuAddonProblems(dir);
  for (const problem of problems) console.error(`error: @tensorflow/tfjs-node-gpu: ${problem}`);
  if (problems.length > 0) process.exit(1);
  console.log(`@tensorflow/tfjs-node-gpu: libtensorflow and the prebuilt addon are in place (${dir})`);
}
