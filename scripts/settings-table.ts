// Rewrites the README's settings table from the schema in shared/settings.ts (a test checks that they agree).
import { readFileSync, writeFileSync } from 'node:fs';
import { settingsTable } from '../shared/settings.ts';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const marked = /<!-- settings:start -->\n[\s\S]*?<!-- settings:end -->/;
if (!marked.test(readme))
  throw new Error('README.md has no <!-- settings:start --> ... <!-- settings:end --> section');
writeFileSync(
  file,
  readme.replace(marked, `<!-- settings:start -->\n${settingsTable()}\n<!-- settings:end -->`),
);
