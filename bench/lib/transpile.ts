/**
 * Turning generated TypeScript into JavaScript Node runs without a loader, with ts-morph's bundled
 * compiler (the `tsc` of TypeScript 7 has no compiler API). Generated files go to bench/out or a temporary
 * directory, never next to the sources, so the project's typecheck never sees them.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { ts } from 'ts-morph';

/** Writes `code` (one TypeScript module) to `file` as an ES module, imports of `from` replaced by `to`. */
export function writeTranspiled(code: string, file: string, from: string, to: string): void {
  const js = ts.transpileModule(code, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  }).outputText;
  writeFileSync(file, js.replaceAll(`'${from}'`, JSON.stringify(to)));
}
