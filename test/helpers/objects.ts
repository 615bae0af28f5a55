/**
 * The committed fixture objects of test/fixtures/, opened and loaded the way most kernel tests want them:
 * whole, or with only some programs loaded (to leave out those the kernel here cannot verify).
 *
 * @module
 */
import { BpfObject } from '../../src/runtime/object.js';

/** The directory of the committed fixture objects, with a trailing slash. */
export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

/**
 * Opens fixture `file` (a name under test/fixtures/, or an absolute path) and loads it. With `only`, just
 * the programs named there are loaded; the others get `autoload = false`. The caller closes the object.
 */
export function loadFixture(file: string, only?: readonly string[]): BpfObject {
  const obj = BpfObject.open(file.startsWith('/') ? file : `${FIXTURES}${file}`);
  if (only !== undefined) for (const p of obj.programs.values()) p.autoload = only.includes(p.name);
  obj.load();
  return obj;
}
