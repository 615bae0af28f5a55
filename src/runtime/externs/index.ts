/**
 * Externs: `__kconfig` values and `__ksym` symbols and kfuncs, resolved against the running kernel at load.
 *
 * @module
 */
export { collectExterns, type ExternSpec } from './collect.js';
export {
  type KconfigLayout,
  type KconfigValueKind,
  type KconfigVar,
  kconfigLayout,
  kconfigValueKind,
  parseKconfig,
  writeKconfigValue,
} from './kconfig.js';
export { describeKfuncPoison, KFUNC_POISON_BASE, patchExtern } from './patch.js';
export { type ExternContext, type ExternValue, type ResolvedExterns, resolveExterns } from './resolve.js';
