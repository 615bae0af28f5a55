/**
 * Attachments whose target is a raw tracepoint or was fixed at load through BTF: raw tracepoints
 * (`raw_tp`, writable ones too), `tp_btf`, fentry/fexit/fmod_ret, LSM hooks, and extensions (freplace).
 *
 * @module
 */
import { parseBtf } from '../../btf/parse.js';
import { BpfError, inContext } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import { toU64 } from '../sys/attr.js';
import { btfGetFdById } from '../sys/btf.js';
import { closeFd } from '../sys/fd.js';
import { btfData, progInfo } from '../sys/info.js';
import { AttachTypes } from '../sys/kinds.js';
import { linkCreate, rawTracepointOpen } from '../sys/link.js';
import type { CookieOption } from './probes.js';

/**
 * Attaches a `raw_tp` (or writable `raw_tp.w`) program to raw tracepoint `name` (`sys_enter`,
 * `sched_switch`). A cookie needs Linux 6.10+.
 */
export function attachRawTracepoint(program: BpfProgram, name: string, opts: CookieOption = {}): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const target = `raw tracepoint ${name}`;
  const cookie = toU64(opts.cookie ?? 0n, 'cookie');
  const fd = inContext(target, () => rawTracepointOpen(name, progFd, cookie));
  return new BpfLink({ kind: 'link', type: 'raw_tracepoint', fd, perfFd: -1 }, target, program);
}

/**
 * Attaches a program whose target was resolved at load: `tp_btf`, fentry, fexit, fmod_ret and LSM
 * (`lsm/...`). A cookie goes through `BPF_LINK_CREATE` (tp_btf: `BPF_RAW_TRACEPOINT_OPEN`, Linux 6.10+).
 */
export function attachTracing(program: BpfProgram, opts: CookieOption = {}): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const attachType = program.expectedAttachType;
  const name = program.section.extras ?? '(BTF target)';
  const target = `${program.section.base}/${name}`;
  if (attachType === 'trace_raw_tp') {
    const cookie = toU64(opts.cookie ?? 0n, 'cookie');
    const fd = inContext(target, () => rawTracepointOpen(null, progFd, cookie));
    return new BpfLink({ kind: 'link', type: 'raw_tracepoint', fd, perfFd: -1 }, target, program);
  }
  if (opts.cookie === undefined) {
    const fd = inContext(target, () => rawTracepointOpen(null, progFd));
    return new BpfLink({ kind: 'link', type: 'tracing', fd, perfFd: -1 }, target, program);
  }
  const cookie = toU64(opts.cookie, 'cookie');
  const type = attachType === undefined ? 0 : AttachTypes[attachType];
  const fd = inContext(target, () => linkCreate(progFd, 0, type, 0, { kind: 'tracing', cookie }));
  return new BpfLink({ kind: 'link', type: 'tracing', fd, perfFd: -1 }, target, program);
}

/**
 * The BTF id of function `func` in the BTF of the loaded program `progFd` (what an extension targets).
 *
 * @throws BpfError `ENOENT` when the program has no BTF or no such function
 */
export function programFuncBtfId(progFd: number, func: string): number {
  const info = progInfo(progFd);
  if (info.btfId === 0) {
    throw new BpfError(
      `program fd ${progFd} ('${info.name}') has no BTF, so no function '${func}' to replace`,
      {
        code: 'ENOENT',
        command: 'freplace',
      },
    );
  }
  const btfFd = btfGetFdById(info.btfId);
  let bytes: Uint8Array;
  try {
    bytes = btfData(btfFd);
  } finally {
    closeFd(btfFd);
  }
  const btf = parseBtf(bytes);
  for (let id = btf.firstId; id < btf.types.length; id++) {
    const t = btf.types[id];
    if (t.kind === 'func' && t.name === func) return id;
  }
  throw new BpfError(`program fd ${progFd} ('${info.name}') has no function '${func}' in its BTF`, {
    code: 'ENOENT',
    command: 'freplace',
  });
}

/**
 * Attaches an extension (`freplace`) program. Without a target it replaces the function it was loaded
 * against; with `targetProgFd` and `targetFunc` it replaces that global function of another loaded
 * program (the function's type must match).
 */
export function attachFreplace(program: BpfProgram, targetProgFd?: number, targetFunc?: string): BpfLink {
  const progFd = loadedFd(program, 'attach');
  if ((targetProgFd === undefined) !== (targetFunc === undefined)) {
    throw new BpfError('freplace: give both the target program FD and the function name, or neither', {
      code: 'EINVAL',
      command: 'freplace',
    });
  }
  const target =
    targetFunc === undefined
      ? `freplace/${program.section.extras ?? ''}`
      : `freplace of '${targetFunc}' in program fd ${targetProgFd}`;
  const fd = inContext(target, () => {
    if (targetProgFd === undefined || targetFunc === undefined) return rawTracepointOpen(null, progFd);
    const targetBtfId = programFuncBtfId(targetProgFd, targetFunc);
    return linkCreate(progFd, targetProgFd, 0, 0, { kind: 'tracing', targetBtfId });
  });
  return new BpfLink({ kind: 'link', type: 'tracing', fd, perfFd: -1 }, target, program);
}
