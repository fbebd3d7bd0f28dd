// The `filter` of ListCustomJobs, as Vertex AI documents it (AIP-160): `display_name` (=, !=, `:` with `*`
// wildcards), `state` (=, !=), `create_time` (=, !=, <, <=, >, >= against an RFC 3339 time) and `labels.<key>`
// (=, !=, `:` with a value or `*` for "has the key"), joined by AND, OR (which binds tighter than AND, as in AIP-160),
// NOT and parentheses. Anything else is refused with a FilterError, which the server answers 400 INVALID_ARGUMENT,
// so a filter string the real service would refuse or misread is caught here too.

export const JOB_STATES = [
  'JOB_STATE_UNSPECIFIED',
  'JOB_STATE_QUEUED',
  'JOB_STATE_PENDING',
  'JOB_STATE_RUNNING',
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLING',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_PAUSED',
  'JOB_STATE_EXPIRED',
  'JOB_STATE_UPDATING',
  'JOB_STATE_PARTIALLY_SUCCEEDED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** What a filter sees of a job. */
export interface FilterableJob {
  displayName: string;
  state: JobState;
  labels: Record<string, string>;
  /** Milliseconds since the epoch. */
  createTime: number;
}

export class FilterError extends Error {}

type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=' | ':';
type Node =
  | { kind: 'and' | 'or'; terms: Node[] }
  | { kind: 'not'; term: Node }
  | { kind: 'compare'; field: string; op: Operator; value: string };

interface Token {
  type: 'word' | 'string' | 'op' | '(' | ')';
  text: string;
  at: number;
}

const OPERATORS: Operator[] = ['<=', '>=', '!=', '=', '<', '>', ':'];

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ type: c, text: c, at: i++ });
    } else if (c === '"') {
      const start = i++;
      let text = '';
      while (i < filter.length && filter[i] !== '"') {
        if (filter[i] === '\\' && i + 1 < filter.length) i++;
        text += filter[i++];
      }
      if (i >= filter.length) throw new FilterError(`unterminated string starting at position ${start}`);
      i++;
      tokens.push({ type: 'string', text, at: start });
    } else {
      const op = OPERATORS.find((o) => filter.startsWith(o, i));
      if (op) {
        tokens.push({ type: 'op', text: op, at: i });
        i += op.length;
        continue;
      }
      const word = /^[A-Za-z0-9_.*\-+]+/.exec(filter.slice(i));
      if (!word) throw new FilterError(`unexpected character "${c}" at position ${i}`);
      tokens.push({ type: 'word', text: word[0], at: i });
      i += word[0].length;
    }
  }
  return tokens;
}

/** What each field allows, as ListCustomJobsRequest.filter documents it. */
const FIELD_OPERATORS: Record<string, Operator[]> = {
  display_name: ['=', '!=', ':'],
  state: ['=', '!='],
  create_time: ['=', '!=', '<', '<=', '>', '>='],
  labels: ['=', '!=', ':'],
};

const LABEL_FIELD = /^labels\.([a-z][a-z0-9_-]{0,62})$/;

function parseTokens(tokens: Token[], source: string): Node {
  let pos = 0;
  const peek = () => tokens[pos];
  const where = (t: Token | undefined) => (t ? `at position ${t.at}` : 'at the end');
  const isKeyword = (t: Token | undefined, k: string) => t?.type === 'word' && t.text === k;

  // expression := sequence (AND sequence)*; a bare juxtaposition is an AND too (AIP-160).
  function expression(): Node {
    const terms = [disjunction()];
    while (pos < tokens.length && peek()?.type !== ')') {
      if (isKeyword(peek(), 'AND')) pos++;
      terms.push(disjunction());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'and', terms };
  }
  function disjunction(): Node {
    const terms = [unary()];
    while (isKeyword(peek(), 'OR')) {
      pos++;
      terms.push(unary());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'or', terms };
  }
  function unary(): Node {
    if (isKeyword(peek(), 'NOT')) {
      pos++;
      return { kind: 'not', term: unary() };
    }
    return primary();
  }
  function primary(): Node {
    const t = peek();
    if (t?.type === '(') {
      pos++;
      const inner = expression();
      if (peek()?.type !== ')') throw new FilterError(`missing ")" ${where(peek())}`);
      pos++;
      return inner;
    }
    if (t?.type !== 'word' || ['AND', 'OR', 'NOT'].includes(t.text))
      throw new FilterError(`expected a field name ${where(t)}`);
    pos++;
    return comparison(t);
  }
  function comparison(fieldToken: Token): Node {
    const field = fieldToken.text;
    const base = LABEL_FIELD.test(field) ? 'labels' : field;
    const allowed = FIELD_OPERATORS[base];
    if (!allowed) {
      throw new FilterError(
        `unsupported field "${field}" at position ${fieldToken.at}; ` +
          'supported: display_name, state, create_time, labels.<key>',
      );
    }
    const opToken = peek();
    if (opToken?.type !== 'op')
      throw new FilterError(`expected an operator after "${field}" ${where(opToken)}`);
    pos++;
    const op = opToken.text as Operator;
    if (!allowed.includes(op))
      throw new FilterError(`operator "${op}" is not supported for ${base} at position ${opToken.at}`);
    const valueToken = peek();
    if (valueToken?.type !== 'word' && valueToken?.type !== 'string')
      throw new FilterError(`expected a value after "${field}${op}" ${where(valueToken)}`);
    pos++;
    const value = valueToken.text;
    if (base === 'state' && !(JOB_STATES as readonly string[]).includes(value))
      throw new FilterError(`"${value}" is not a JobState (position ${valueToken.at})`);
    if (base === 'create_time' && Number.isNaN(Date.parse(value)))
      throw new FilterError(`"${value}" is not an RFC 3339 time (position ${valueToken.at})`);
    return { kind: 'compare', field, op, value };
  }

  if (tokens.length === 0) throw new FilterError('empty filter');
  const node = expression();
  if (pos < tokens.length)
    throw new FilterError(`unexpected "${tokens[pos]!.text}" at position ${tokens[pos]!.at} in ${source}`);
  return node;
}

/** `*` matches any run of characters; the whole value must match. */
const globMatch = (pattern: string, value: string) =>
  new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's').test(value);
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function evaluate(node: Node, job: FilterableJob): boolean {
  switch (node.kind) {
    case 'and':
      return node.terms.every((t) => evaluate(t, job));
    case 'or':
      return node.terms.some((t) => evaluate(t, job));
    case 'not':
      return !evaluate(node.term, job);
    case 'compare':
      return compare(node, job);
  }
}

function compare(node: { field: string; op: Operator; value: string }, job: FilterableJob): boolean {
  const { field, op, value } = node;
  if (field === 'create_time') {
    const at = Date.parse(value);
    const t = job.createTime;
    return {
      '=': t === at,
      '!=': t !== at,
      '<': t < at,
      '<=': t <= at,
      '>': t > at,
      '>=': t >= at,
      ':': false,
    }[op];
  }
  const label = LABEL_FIELD.exec(field);
  const actual = label ? job.labels[label[1]!] : field === 'state' ? job.state : job.displayName;
  if (op === ':') return actual !== undefined && (value === '*' || globMatch(value, actual));
  return op === '=' ? actual === value : actual !== value;
}

/** Parses a ListCustomJobs filter; throws FilterError saying what and where when it is outside the grammar. */
export function parseFilter(filter: string): (job: FilterableJob) => boolean {
  const node = parseTokens(tokenize(filter), JSON.stringify(filter));
  return (job) => evaluate(node, job);
}
