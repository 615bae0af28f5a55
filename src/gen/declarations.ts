/**
 * Emits the TypeScript declarations of a {@link TypePlan}: for each struct or union an interface, its
 * in-place view class (`eventView`, see {@link emitView}) and its codec const of the same name as the
 * interface (`event` is both the type and the `Codec<event>`), for each enum a const object of its
 * enumerators and a type alias, and for each requested typedef an alias of both.
 *
 * @module
 */
import type { BtfType } from '../btf/types.js';
import type { CodecEmitter } from './codecs.js';
import { docLines } from './codecs.js';
import { assignKeyed, commentText } from './names.js';
import {
  cDeclaration,
  type Field,
  fieldsOf,
  fieldTsType,
  shapeOf,
  type TypePlan,
  tsTypeOf,
} from './types.js';

/** `C: \`decl\`` for TSDoc, escaped. */
export function cDoc(decl: string): string {
  return `C: \`${commentText(decl)}\``;
}

/** Lines declaring every type of the plan, blocks separated by blank lines. */
export function emitDeclarations(emitter: CodecEmitter): string[] {
  const { plan } = emitter;
  const blocks: string[][] = [];
  for (const id of plan.decls) {
    const t = plan.btf.typeById(id);
    const name = plan.names.get(id) as string;
    if (t.kind === 'enum' || t.kind === 'enum64') blocks.push(emitEnum(t, name));
    else if (t.kind === 'struct' || t.kind === 'union') blocks.push(emitAggregate(emitter, t, name));
  }
  for (const a of plan.aliases) {
    const cDecl = cDeclaration(plan.btf, a.target, a.cName);
    blocks.push([
      ...docLines([`${cDoc(`typedef ${cDecl}`)}`], ''),
      `export type ${a.name} = ${tsTypeOf(plan, a.target)};`,
      ...docLines([`Codec of \`${commentText(a.cName)}\`.`], ''),
      `export const ${a.name}: Codec<${a.name}> = ${emitter.codecExpr(a.target, '')};`,
    ]);
  }
  return blocks.flatMap((b, i) => (i === 0 ? b : ['', ...b]));
}

function cTypeName(t: BtfType): string {
  return `${t.kind === 'enum64' ? 'enum' : t.kind} ${t.name}`;
}

function emitEnum(t: BtfType & { kind: 'enum' | 'enum64' }, name: string): string[] {
  const big = t.kind === 'enum64' || t.size === 8;
  const names = assignKeyed(t.values.map((v, i) => [i, v.name] as const));
  const lines = [
    ...docLines([`${cDoc(t.name === '' ? 'enum' : cTypeName(t))}: its enumerators.`], ''),
    `export const ${name} = {`,
  ];
  t.values.forEach((v, i) => {
    const value = big ? `${BigInt(v.value)}n` : String(v.value);
    const renamed = names.get(i) === v.name ? [] : docLines([cDoc(v.name)], '  ');
    lines.push(...renamed, `  ${names.get(i)}: ${value},`);
  });
  lines.push(
    '} as const;',
    ...docLines(
      [`A value of ${cDoc(cTypeName(t))} (C enums are open: any ${big ? 'bigint' : 'number'}).`],
      '',
    ),
    `export type ${name} = ${big ? 'bigint' : 'number'};`,
  );
  return lines;
}

function fieldDoc(plan: TypePlan, f: Field): string {
  const decl = cDeclaration(plan.btf, f.type, f.cName, f.bitfieldSize);
  const where =
    f.bitfieldSize > 0
      ? `bit offset ${f.bitOffset}`
      : `offset ${f.bitOffset / 8}${f.inUnion ? ' (in a union)' : ''}`;
  return `${cDoc(decl)}, ${where}`;
}

function emitAggregate(
  emitter: CodecEmitter,
  t: BtfType & { kind: 'struct' | 'union' },
  name: string,
): string[] {
  const { plan } = emitter;
  const fields = fieldsOf(plan.btf, t.id);
  const size = t.size;
  const cName = t.name === '' ? `${t.kind} (anonymous)` : cTypeName(t);
  const union = t.kind === 'union';
  const lines = [...docLines([`${cDoc(cName)}: ${size} bytes.`], ''), `export interface ${name} {`];
  for (const f of fields) {
    lines.push(...docLines([fieldDoc(plan, f)], '  '), `  ${f.name}: ${fieldTsType(plan, f)};`);
  }
  lines.push('}', '');
  const view = emitView(emitter, t, name, fields);
  if (view.length > 0) lines.push(...view, '');
  const viewName = emitter.viewName(t.id);
  const decode = emitter.decodeFields(fields, 'offset', 0, '    ');
  const encode = emitter.encodeFields(fields, 'value', 'offset', 0);
  if (union) emitter.use('UnionCodec');
  const codecType = union ? `UnionCodec<${name}>` : `Codec<${name}>`;
  const valueType = union ? `Partial<${name}>` : name;
  // An aggregate without members reads and writes nothing: its parameters are marked unused, so that the
  // module also compiles under noUnusedParameters.
  const unused = fields.length === 0 ? '_' : '';
  lines.push(
    ...docLines(
      [
        union
          ? `Codec of ${cDoc(cName)}: encode writes the members present, in declaration order.`
          : `Codec of ${cDoc(cName)}.`,
      ],
      '',
    ),
    `export const ${name}: ${codecType} = {`,
    `  size: ${size},`,
    `  decode(${unused}view: DataView, ${unused}offset: number): ${name} {`,
    `    return ${decode};`,
    '  },',
    `  encode(${unused}value: ${valueType}, ${unused}view: DataView, ${unused}offset: number): void {`,
    ...encode.map((l) => `    ${l}`),
    '  },',
    ...(view.length > 0
      ? [`  inPlace: { create: (view, offset) => new ${viewName}(view, offset), point: ${viewName}.point },`]
      : []),
    '};',
  );
  return lines;
}

/**
 * The in-place view class of a struct or union: `class eventView implements event`, whose getters read
 * each field from the bytes the view points at with the codec's own code for that field. A field of a named
 * struct or union type returns a nested view, created on first read and re-aimed on later ones; arrays,
 * strings and anonymous aggregates are decoded (copied) on each read. The state lives in private fields and
 * re-aiming is a static method, so no C member name can collide with them. No lines when no field reads the
 * bytes (an aggregate without members): the codec then has no `inPlace`.
 */
function emitView(
  emitter: CodecEmitter,
  t: BtfType & { kind: 'struct' | 'union' },
  name: string,
  fields: readonly Field[],
): string[] {
  const { plan } = emitter;
  const viewName = emitter.viewName(t.id) as string;
  const cName = t.name === '' ? `${t.kind} (anonymous)` : cTypeName(t);
  const nested: string[] = [];
  const getters: string[] = [];
  for (const f of fields) {
    const type = fieldTsType(plan, f);
    getters.push('', ...docLines([fieldDoc(plan, f)], '  '), `  get ${f.name}(): ${type} {`);
    const s = f.bitfieldSize === 0 ? shapeOf(plan.btf, f.type) : undefined;
    const inner = s?.kind === 'composite' ? emitter.viewName(s.id) : undefined;
    if (inner !== undefined) {
      const cache = `#${f.name}View`;
      const at = f.bitOffset === 0 ? 'this.#offset' : `this.#offset + ${f.bitOffset / 8}`;
      nested.push(`  ${cache}: ${inner} | undefined;`);
      getters.push(
        `    if (this.${cache} === undefined) this.${cache} = new ${inner}(this.#view, ${at});`,
        `    else ${inner}.point(this.${cache}, this.#view, ${at});`,
        `    return this.${cache};`,
      );
    } else {
      getters.push(`    return ${emitter.decodeFieldFrom('this.#view', f, 'this.#offset', '    ')};`);
    }
    getters.push('  }');
  }
  if (!getters.some((l) => l.includes('this.#view'))) return [];
  return [
    ...docLines(
      [
        `Zero-copy view of ${cDoc(cName)}: its getters read each field from the bytes the view points at,`,
        'when called. Valid only while those bytes are: ring and perf buffers re-aim the one view they hand out',
        'at each record, so after the callback it reads another record (`decode` makes a copy to keep). Its',
        'fields are read-only getters of the prototype: spreading it or `JSON.stringify` sees none.',
      ],
      '',
    ),
    `export class ${viewName} implements ${name} {`,
    '  #view: DataView;',
    '  #offset: number;',
    ...nested,
    '',
    `  /** A view of the \`${commentText(cName)}\` stored at \`offset\` of \`view\`. */`,
    '  constructor(view: DataView, offset: number) {',
    '    this.#view = view;',
    '    this.#offset = offset;',
    '  }',
    '',
    `  /** Re-aims \`record\` at the \`${commentText(cName)}\` stored at \`offset\` of \`view\`. */`,
    `  static point(record: ${viewName}, view: DataView, offset: number): void {`,
    '    record.#view = view;',
    '    record.#offset = offset;',
    '  }',
    ...getters,
    '}',
  ];
}
