/**
 * Essential names: a local type may be written `struct task_struct___old` to describe one flavor of a kernel
 * type; everything from the last `___` that sits between two non-underscore characters is ignored when it
 * is matched against the target.
 *
 * @module
 */

/** Length of `name` without its `___flavor` suffix (the whole length when it has none). */
function essentialLength(name: string): number {
  // Scan from the end so `a___b___c` keeps `a___b`; the separator needs a non-`_` on both sides.
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 0x5f &&
      name.charCodeAt(i + 1) === 0x5f &&
      name.charCodeAt(i + 2) === 0x5f &&
      name.charCodeAt(i + 3) === 0x5f &&
      name.charCodeAt(i + 4) !== 0x5f
    ) {
      return i + 1;
    }
  }
  return name.length;
}

/** `name` without its `___flavor` suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialLength(name));
}
