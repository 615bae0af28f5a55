/**
 * Identifier safety for generated code. Names in an eBPF object (maps, programs, variables, types, members,
 * enumerators, sections) come from untrusted input; none is ever pasted into code as is.
 *
 * The rule, applied the same way to every name in one scope (a module, a class, an object type):
 *
 * 1. Sanitise: every character outside `[A-Za-z0-9_]` becomes `_`; a leading digit gets a `_` prefix; an
 *    empty name becomes `_`.
 * 2. If the result is a reserved word (JavaScript, strict mode, TypeScript type names), an `Object.prototype`
 *    key (`__proto__`, `constructor`, `toString`...) or a name the scope reserves for generated code, append
 *    `_`.
 * 3. Names that needed no change (steps 1 and 2 left them alone) keep them and win over altered ones (of
 *    two equal unchanged names, the first entity keeps it). The others are then placed in code-unit order
 *    of their originals; one that collides with a name already taken gets `_2`, `_3`... (the first free).
 *
 * So `class` becomes `class_`, `my-map` becomes `my_map`, `0day` becomes `_0day`, and if the object has both
 * `a.b` and `a-b`, `a-b` becomes `a_b` and `a.b` becomes `a_b_2` (`-` sorts before `.`). The result depends
 * only on the set of names in the scope, not on their order. The original name is kept for kernel lookups
 * and only ever emitted through {@link stringLiteral}.
 *
 * @module
 */

/** Words that cannot be a binding name in strict-mode ES modules, or that TypeScript reserves as type names. */
const RESERVED_WORDS: ReadonlySet<string> = new Set([
  // ECMAScript reserved words
  'await',
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'yield',
  // strict-mode reserved words and restricted names
  'implements',
  'interface',
  'let',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'arguments',
  'eval',
  // TypeScript: names that cannot name an interface or a type alias
  'any',
  'unknown',
  'never',
  'number',
  'bigint',
  'boolean',
  'string',
  'symbol',
  'object',
  'undefined',
  'NaN',
  'Infinity',
]);

/** Keys of `Object.prototype` (and `constructor`/`prototype`), unsafe as own properties of plain objects. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
]);

/** True when `name` is a reserved word or a prototype key (step 2 of the rule). */
export function isReservedName(name: string): boolean {
  return RESERVED_WORDS.has(name) || PROTOTYPE_KEYS.has(name);
}

/** Steps 1 and 2 of the rule for one name, ignoring collisions. */
export function sanitizeName(original: string, reserved: ReadonlySet<string> = new Set()): string {
  let name = original.replace(/[^A-Za-z0-9_]/g, '_');
  if (name === '') name = '_';
  if (/^[0-9]/.test(name)) name = `_${name}`;
  if (isReservedName(name) || reserved.has(name)) name = `${name}_`;
  return name;
}

/** One scope's mapping from original names to safe identifiers. */
export interface NameTable {
  /** The safe identifier of `original`; throws when `original` was not part of the scope. */
  get(original: string): string;
  /** Every `[original, safe]` pair, in code-unit order of the originals. */
  entries(): readonly (readonly [string, string])[];
}

/**
 * Assigns safe, unique identifiers to the entities of one scope (see the module documentation for the rule).
 * Entities are told apart by `key`, so two entities with the same original name (possible in hostile input)
 * still get different identifiers; ties between equal originals are broken by their order in `entities`.
 *
 * @param entities `[key, original name]` of every entity of the scope
 * @param reserved identifiers the scope already uses for generated code (they count as reserved words)
 */
export function assignKeyed<K>(
  entities: readonly (readonly [K, string])[],
  reserved: Iterable<string> = [],
): Map<K, string> {
  const reservedSet = new Set(reserved);
  const order = entities.map((e, i) => ({ key: e[0], original: e[1], i }));
  order.sort((a, b) => compareCodeUnits(a.original, b.original) || a.i - b.i);
  const taken = new Set(reservedSet);
  const result = new Map<K, string>();
  const altered: { key: K; safe: string }[] = [];
  for (const { key, original } of order) {
    const safe = sanitizeName(original, reservedSet);
    if (safe === original && !taken.has(safe)) {
      result.set(key, safe);
      taken.add(safe);
    } else {
      altered.push({ key, safe });
    }
  }
  for (const { key, safe } of altered) {
    let name = safe;
    for (let n = 2; taken.has(name); n++) name = `${safe}_${n}`;
    result.set(key, name);
    taken.add(name);
  }
  return result;
}

/**
 * Assigns safe, unique identifiers to every name of one scope; a name given twice is one entity.
 *
 * @param originals the names of the scope
 * @param reserved identifiers the scope already uses for generated code (they count as reserved words)
 */
export function assignNames(originals: Iterable<string>, reserved: Iterable<string> = []): NameTable {
  const unique = [...new Set(originals)].sort(compareCodeUnits);
  const result = assignKeyed(
    unique.map((o) => [o, o] as const),
    reserved,
  );
  const entries = unique.map((o) => [o, result.get(o) as string] as const);
  return {
    get(original) {
      const safe = result.get(original);
      if (safe === undefined) throw new Error(`internal: name ${stringLiteral(original)} was not assigned`);
      return safe;
    },
    entries: () => entries,
  };
}

/**
 * Names derived from names already assigned in the same scope by appending `suffix` (a struct's view class
 * from its interface name), made unique by the same rule. Every name already taken in the scope counts as
 * reserved, so a derived name never displaces one: with both `event` and `eventView` declared, the view of
 * `event` is `eventView_`.
 *
 * @param assigned key → name already assigned in the scope, for the entities to derive names for
 * @param suffix appended to each name
 * @param taken every identifier of the scope (its reserved names and all the names assigned in it)
 */
export function assignDerived<K>(
  assigned: ReadonlyMap<K, string>,
  suffix: string,
  taken: Iterable<string>,
): Map<K, string> {
  return assignKeyed(
    [...assigned].map(([key, name]) => [key, `${name}${suffix}`] as const),
    taken,
  );
}

/** Compares by UTF-16 code units, independent of locale (the default sort order, made explicit). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A single-quoted TypeScript string literal with exactly the value `s`: JSON escaping (control characters,
 * backslashes, lone surrogates) plus `'`, U+2028 and U+2029, so the literal is safe on any line of code.
 */
export function stringLiteral(s: string): string {
  const body = JSON.stringify(s)
    .slice(1, -1)
    .replace(/\\.|'|\u2028|\u2029/g, (m) => {
      if (m === '\\"') return '"';
      if (m === "'") return "\\'";
      if (m === '\u2028') return '\\u2028';
      if (m === '\u2029') return '\\u2029';
      return m;
    });
  return `'${body}'`;
}

/**
 * Text safe to place inside a `/** ... *\/` comment, on one line, in a Markdown code span: characters
 * outside printable ASCII become `\u{XXXX}`, and `*\/`, backticks, `@` and backslashes are escaped so they
 * can neither end the comment, end the code span nor start a TSDoc tag.
 */
export function commentText(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (cp < 0x20 || cp > 0x7e) out += `\\u{${cp.toString(16).toUpperCase().padStart(4, '0')}}`;
    else if (ch === '\\' || ch === '`' || ch === '@') out += `\\${ch}`;
    else if (ch === '/' && out.endsWith('*')) out += '\\/';
    else out += ch;
  }
  return out;
}
