/** Identifier safety: hostile names become stable, predictable, unique identifiers; literals stay literal. */
import { describe, expect, it } from 'vitest';
import {
  assignKeyed,
  assignNames,
  commentText,
  isReservedName,
  sanitizeName,
  stringLiteral,
} from '../src/gen/names.js';

const HOSTILE = [
  'class',
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'await',
  'yield',
  'let',
  'static',
  'enum',
  'arguments',
  'eval',
  'undefined',
  'string',
  '',
  '0day',
  'my-map',
  'my.map',
  'my map',
  'my_map',
  'a*/b',
  'ünï',
  '$x',
  'x\u2028y',
];

function isIdentifier(name: string): boolean {
  try {
    new Function(`'use strict'; let ${name} = 1; return ${name};`);
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
  } catch {
    return false;
  }
}

describe('sanitizeName', () => {
  it('follows the documented rule', () => {
    expect(sanitizeName('class')).toBe('class_');
    expect(sanitizeName('__proto__')).toBe('__proto___');
    expect(sanitizeName('my-map')).toBe('my_map');
    expect(sanitizeName('0day')).toBe('_0day');
    expect(sanitizeName('')).toBe('_');
    expect(sanitizeName('ok_name')).toBe('ok_name');
    expect(sanitizeName('Codec', new Set(['Codec']))).toBe('Codec_');
    expect(isReservedName('constructor')).toBe(true);
    expect(isReservedName('type')).toBe(false);
  });
});

describe('assignNames', () => {
  it('gives every hostile name a unique strict-mode identifier that is no prototype key', () => {
    const table = assignNames(HOSTILE);
    const safe = HOSTILE.map((n) => table.get(n));
    expect(new Set(safe).size).toBe(HOSTILE.length);
    for (const s of safe) {
      expect(isIdentifier(s), s).toBe(true);
      expect(s in Object.prototype, s).toBe(false);
      expect(isReservedName(s), s).toBe(false);
    }
  });

  it('lets unchanged names win and numbers the rest in code-unit order', () => {
    const table = assignNames(['my.map', 'my-map', 'my_map', 'my map']);
    expect(table.get('my_map')).toBe('my_map');
    // ' ' < '-' < '.' in code-unit order
    expect(table.get('my map')).toBe('my_map_2');
    expect(table.get('my-map')).toBe('my_map_3');
    expect(table.get('my.map')).toBe('my_map_4');
    expect(assignNames(['class', 'class_']).get('class')).toBe('class__2');
  });

  it('is stable: independent of input order and repeatable', () => {
    const a = assignNames(HOSTILE).entries();
    const shuffled = [...HOSTILE].reverse();
    expect(assignNames(shuffled).entries()).toEqual(a);
    expect(assignNames([...HOSTILE, ...HOSTILE]).entries()).toEqual(a);
  });

  it('avoids reserved generated names and throws for names it was not given', () => {
    const table = assignNames(['view', 'x'], ['view']);
    expect(table.get('view')).toBe('view_');
    expect(() => table.get('nope')).toThrow(/was not assigned/);
  });

  it('keeps distinct entities with equal names apart (assignKeyed)', () => {
    const m = assignKeyed([
      [1, 'dup'],
      [2, 'dup'],
      [3, 'dup_2'],
    ]);
    expect([m.get(1), m.get(2), m.get(3)]).toEqual(['dup', 'dup_3', 'dup_2']);
  });
});

describe('literals and comments', () => {
  it('stringLiteral evaluates back to the original, on one line', () => {
    for (const s of [
      ...HOSTILE,
      "it's",
      'q"q',
      'back\\slash',
      '\n\r\t\0',
      '\ud800',
      `\${x}\``,
      '</script>',
    ]) {
      const lit = stringLiteral(s);
      expect(lit).not.toMatch(/[\n\r\u2028\u2029]/);
      expect(new Function(`return ${lit};`)()).toBe(s);
    }
  });

  it('commentText cannot end a comment, a code span or start a tag', () => {
    const text = commentText('a */ b `c` @internal \\ \n\u2028 é');
    expect(text).not.toContain('*/');
    expect(text).not.toMatch(/[\n\r\u2028\u2029]/);
    expect(text).not.toMatch(/(^|[^\\])[`@]/);
    expect(text).toBe('a *\\/ b \\`c\\` \\@internal \\\\ \\u{000A}\\u{2028} \\u{00E9}');
    expect(() => new Function(`/** ${commentText('*/ throw 1; /*')} */ return 1;`)).not.toThrow();
  });
});
