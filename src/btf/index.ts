/**
 * BTF and BTF.ext: parse, edit, write, layout queries and the running kernel's BTF.
 *
 * @module
 */
export { createBtf } from './create.js';
export type { BtfCoreRelo, BtfCoreReloKind, BtfExt, BtfExtSection, BtfFuncInfo, BtfLineInfo } from './ext.js';
export { BtfCoreReloKinds, parseBtfExt } from './ext.js';
export { KERNEL_BTF_DIR, loadKernelBtf, loadModuleBtf, readBtfFile } from './kernel.js';
export type { ParseBtfOptions } from './parse.js';
export { BTF_MAGIC, parseBtf } from './parse.js';
export type {
  Btf,
  BtfArray,
  BtfComposite,
  BtfConst,
  BtfDatasec,
  BtfDeclTag,
  BtfEnum,
  BtfEnum64,
  BtfEnum64Value,
  BtfEnumValue,
  BtfFloat,
  BtfFunc,
  BtfFuncLinkage,
  BtfFuncProto,
  BtfFwd,
  BtfInt,
  BtfKindName,
  BtfMember,
  BtfMemberLayout,
  BtfParam,
  BtfPtr,
  BtfQualifier,
  BtfRestrict,
  BtfStrings,
  BtfStruct,
  BtfType,
  BtfTypedef,
  BtfTypeOfKind,
  BtfTypeTag,
  BtfUnion,
  BtfVar,
  BtfVarLinkage,
  BtfVarSecinfo,
  BtfVoid,
  BtfVolatile,
} from './types.js';
export { BtfKind, BtfLinkage } from './types.js';
export { writeBtf } from './write.js';
