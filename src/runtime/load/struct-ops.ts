/**
 * struct_ops maps at load: the kernel struct a map fills is found in kernel BTF (vmlinux, else a module's)
 * together with its value type `struct bpf_struct_ops_<name>`, whose `data` member holds the struct. Each
 * member the object sets is matched to the kernel's by name: data is copied to the kernel's offset, and a
 * function pointer gets the FD of its program, which is loaded with `attach_btf_id` = the struct's type id
 * and `expected_attach_type` = the member's index in the kernel's struct (the verifier checks the program
 * against that member's prototype).
 *
 * @module
 */
import { kernelModulesWithBtf, loadKernelBtf, loadModuleBtf } from '../../btf/kernel.js';
import type { Btf } from '../../btf/types.js';
import { BpfError, FeatureMissingError } from '../../errors.js';
import type { BpfMap } from '../map.js';
import type { MapSpec, StructOpsSpec } from '../spec.js';
import { mapCreate } from '../sys/map.js';

/** Prefix of the kernel's value type of a struct_ops: `struct bpf_struct_ops_<name>`. */
const VALUE_PREFIX = 'bpf_struct_ops_';
/** `ENOTSUPP` (kernel-internal 524): the arch cannot build the BPF trampolines struct_ops run through. */
const ENOTSUPP = 524;

/** Where a struct_ops type lives in the kernel's BTF. */
export interface KernelStructOps {
  readonly btf: Btf;
  /** `'vmlinux'` or the module's name. */
  readonly btfName: string;
  /** Type id of `struct <name>`. */
  readonly typeId: number;
  /** Type id of `struct bpf_struct_ops_<name>`. */
  readonly valueTypeId: number;
}

/** A program slot of a struct_ops value. */
export interface StructOpsSlot {
  readonly program: string;
  readonly member: string;
  /** Index of the member in the kernel's struct: the program's `expected_attach_type`. */
  readonly memberIndex: number;
  /** Byte offset of the slot within the value. */
  readonly offset: number;
}

/** How one struct_ops map is created and filled. */
export interface StructOpsPlan {
  readonly map: string;
  readonly spec: StructOpsSpec;
  readonly kernel: KernelStructOps;
  /** FD of the module's BTF object (owned by the caller), or -1 for vmlinux. */
  readonly btfObjFd: number;
  /** Size of the kernel's value type: the map's value size. */
  readonly valueSize: number;
  /** The value with every data member in place; program slots are filled once programs are loaded. */
  readonly value: Uint8Array;
  readonly slots: readonly StructOpsSlot[];
}

/**
 * Finds `struct <name>` and `struct bpf_struct_ops_<name>` in vmlinux BTF, else in the BTF of a loaded
 * module.
 *
 * @throws FeatureMissingError (`ESRCH`) when the kernel has no such struct_ops type
 */
export function findKernelStructOps(name: string, map: string): KernelStructOps {
  const inBtf = (btf: Btf, btfName: string, own: boolean): KernelStructOps | undefined => {
    const pick = (n: string) => btf.findAllByName(n, 'struct').find((t) => !own || t.id >= btf.firstId);
    const type = pick(name);
    const value = pick(VALUE_PREFIX + name);
    return type !== undefined && value !== undefined
      ? { btf, btfName, typeId: type.id, valueTypeId: value.id }
      : undefined;
  };
  const vmlinux = loadKernelBtf();
  const found = inBtf(vmlinux, 'vmlinux', false);
  if (found !== undefined) return found;
  for (const module of kernelModulesWithBtf()) {
    let btf: Btf;
    try {
      btf = loadModuleBtf(module);
    } catch {
      // A module unloaded meanwhile, or BTF we cannot read: it cannot hold the type.
      continue;
    }
    const inModule = inBtf(btf, module, true);
    if (inModule !== undefined) return inModule;
  }
  const plain = vmlinux.findByName(name, 'struct') !== undefined;
  throw new FeatureMissingError(
    plain
      ? `struct_ops map '${map}': the kernel has struct ${name} but not as a struct_ops type (no struct ${VALUE_PREFIX}${name} in its BTF): the subsystem that registers it from BPF is not built in, or not loaded`
      : `struct_ops map '${map}': the kernel has no struct_ops type ${name} (no struct ${name} and ${VALUE_PREFIX}${name} in vmlinux or module BTF); struct_ops need CONFIG_BPF_JIT, and each type its subsystem (tcp_congestion_ops: CONFIG_BPF_SYSCALL with INET; sched_ext_ops: CONFIG_SCHED_CLASS_EXT)`,
    { code: 'ESRCH', command: 'struct_ops', feature: `struct_ops ${name}` },
  );
}

/**
 * Checks every member `spec` sets against the kernel's struct and lays out the value: data copied to the
 * kernel's offsets, program slots recorded.
 *
 * @throws FeatureMissingError when a member set here is not in the kernel's struct; BpfError (`EINVAL`)
 *   when a member's size or kind disagrees with the kernel's
 */
export function planStructOps(
  map: string,
  spec: StructOpsSpec,
  kernel: KernelStructOps,
  btfObjFd: number,
): StructOpsPlan {
  const { btf } = kernel;
  const where = `struct_ops map '${map}' (struct ${spec.localType})`;
  const valueSize = btf.sizeOf(kernel.valueTypeId);
  const dataMember = btf.memberLayout(kernel.valueTypeId).find((m) => m.name === 'data');
  if (dataMember === undefined || btf.resolveId(dataMember.type) !== kernel.typeId) {
    throw new BpfError(
      `${where}: the kernel's ${VALUE_PREFIX}${spec.kernelType} has no 'data' member of struct ${spec.kernelType}`,
      {
        code: 'EINVAL',
        command: 'struct_ops',
      },
    );
  }
  const dataOffset = dataMember.bitOffset / 8;
  const kernelMembers = btf.memberLayout(kernel.typeId);
  const value = new Uint8Array(valueSize);
  const slots: StructOpsSlot[] = [];
  const invalid = (why: string): BpfError =>
    new BpfError(`${where}: ${why}`, { code: 'EINVAL', command: 'struct_ops' });
  for (const m of spec.members) {
    const bytes = spec.data.subarray(m.offset, m.offset + m.size);
    const set = m.program !== undefined || bytes.some((b) => b !== 0);
    const index = kernelMembers.findIndex((k) => k.name === m.name);
    if (index < 0) {
      if (!set) continue;
      throw new FeatureMissingError(
        `${where}: member '${m.name}' is set, but the kernel's struct ${spec.kernelType} has no such member (a newer kernel's, or misspelt); leave it unset to load on this kernel`,
        { code: 'ESRCH', command: 'struct_ops', feature: `struct_ops ${spec.kernelType}.${m.name}` },
      );
    }
    const k = kernelMembers[index];
    const kernelType = btf.resolve(k.type);
    const kernelFunc = kernelType.kind === 'ptr' && btf.resolve(kernelType.type).kind === 'func_proto';
    const offset = dataOffset + k.bitOffset / 8;
    if (m.program !== undefined) {
      if (!kernelFunc)
        throw invalid(
          `member '${m.name}' points to program '${m.program}', but in the kernel it is not a function pointer`,
        );
      slots.push({ program: m.program, member: m.name, memberIndex: index, offset });
      continue;
    }
    if (!set) continue;
    if (m.funcPtr || kernelFunc) {
      throw invalid(
        `member '${m.name}' holds data where ${m.funcPtr ? 'the object' : 'the kernel'} has a function pointer; set function pointers only to struct_ops programs`,
      );
    }
    if (m.bitfield || k.bitfieldSize !== 0 || k.bitOffset % 8 !== 0) {
      throw invalid(
        `member '${m.name}' is a bitfield (here or in the kernel), which struct_ops values cannot set`,
      );
    }
    const size = btf.sizeOf(k.type);
    if (size !== m.size)
      throw invalid(`member '${m.name}' is ${m.size} bytes here but ${size} in the kernel`);
    value.set(bytes, offset);
  }
  return { map, spec, kernel, btfObjFd, valueSize, value, slots };
}

/** What creating a struct_ops map needs from the object. */
export interface StructOpsMapContext {
  /** The object's BTF (the kernel requires one with the vmlinux value type). */
  readonly btfFd: number;
  readonly tokenFd: number;
  /** Whether the kernel takes map names. */
  readonly names: boolean;
  /** A sentence explaining an EPERM under a token, or ''. */
  readonly explain: (err: BpfError) => string;
}

/** `BPF_MAP_CREATE` of a struct_ops map: one element, key 0, the kernel's value type. Returns the FD. */
export function createStructOpsMap(spec: MapSpec, plan: StructOpsPlan, ctx: StructOpsMapContext): number {
  try {
    return mapCreate({
      type: spec.type,
      keySize: 4,
      valueSize: plan.valueSize,
      maxEntries: 1,
      flags: spec.flags,
      name: ctx.names ? spec.kernelName : '',
      btfFd: ctx.btfFd,
      btfVmlinuxValueTypeId: plan.kernel.valueTypeId,
      valueTypeBtfObjFd: plan.btfObjFd >= 0 ? plan.btfObjFd : undefined,
      tokenFd: ctx.tokenFd,
    });
  } catch (err) {
    if (err instanceof BpfError) {
      err.message = `cannot create struct_ops map '${spec.name}' (struct ${plan.spec.kernelType} from ${plan.kernel.btfName} BTF): ${err.message}${ctx.explain(err)}`;
    }
    throw err;
  }
}

/** The value of `plan` with the FD of each slot's program in place (the kernel reads them as integers). */
export function structOpsValue(plan: StructOpsPlan, programFd: (name: string) => number): Uint8Array {
  const value = plan.value.slice();
  const view = new DataView(value.buffer);
  for (const s of plan.slots) view.setBigUint64(s.offset, BigInt(programFd(s.program)), true);
  return value;
}

/**
 * The error to throw for a failed registration step of a struct_ops map (`BPF_MAP_UPDATE_ELEM`,
 * `BPF_LINK_CREATE`, `BPF_LINK_UPDATE`): what the kernel's errno means for struct_ops. `step` says what
 * failed (`'register'`, `'write the value of'`).
 */
export function registerError(
  err: BpfError,
  step: string,
  map: string,
  kernelType: string,
  link: boolean,
): BpfError {
  const where = `cannot ${step} struct_ops map '${map}' (struct ${kernelType})`;
  if (err.errno === ENOTSUPP) {
    return new FeatureMissingError(
      `${where}: the kernel cannot build the BPF trampolines struct_ops programs are called through (ENOTSUPP); they need the BPF JIT (CONFIG_BPF_JIT) on an architecture with BPF trampolines (x86-64, arm64, riscv64, s390x, loongarch64, powerpc64)`,
      { code: 'ENOTSUPP', errno: err.errno, command: err.command, feature: 'BPF trampolines', cause: err },
    );
  }
  const why: Record<string, string> = {
    EOPNOTSUPP: `the kernel does not register struct ${kernelType} from BPF (it has no registration for this type; bpf_dummy_ops, for one, exists only to run struct_ops programs with BPF_PROG_TEST_RUN)`,
    EBUSY: link
      ? 'the map is already attached through a link'
      : 'the map is registered, or was before: a .struct_ops map registers only once in its life; open and load the object again, or declare the map in SEC(".struct_ops.link") to attach and detach it through links',
    EEXIST: `the kernel already has a struct ${kernelType} registered under the same name`,
  };
  const text = why[err.code];
  err.message = `${where}: ${text === undefined ? err.message : `${text} (${err.message})`}`;
  return err;
}

/** Program FD slots of the loaded struct_ops maps: the value their registration writes. */
const values = new WeakMap<BpfMap, Uint8Array>();

/** @internal Records (or, with undefined, forgets) the value a loaded struct_ops map registers with. */
export function setLoadedStructOpsValue(map: BpfMap, value: Uint8Array | undefined): void {
  if (value === undefined) values.delete(map);
  else values.set(map, value);
}

/** @internal The value a loaded struct_ops map registers with, or undefined when it is not loaded. */
export function loadedStructOpsValue(map: BpfMap): Uint8Array | undefined {
  return values.get(map);
}
