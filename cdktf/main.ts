// `cdktf synth` / `cdktf deploy` entry: one stack, configured from the environment or cdktf context (README).
import { App } from 'cdktf';
import { configFrom, TrendcastStack } from './stack.ts';

const app = new App();
new TrendcastStack(
  app,
  'trendcast',
  configFrom(process.env, (key) => app.node.tryGetContext(key)),
);
app.synth();
