/**
 * Auto-attach: attaches a program where its section name says (`tp/syscalls/sys_enter_getpid`,
 * `uprobe/libc.so.6:malloc`, `usdt/libc.so.6:libc:setjmp`, `iter/task`, ...).
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import type { BpfLink } from '../link.js';
import { loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import { attachIter } from './iter.js';
import { attachKprobeMulti, attachUprobeMulti } from './multi.js';
import { attachKprobe, attachKsyscall, attachTracepoint, attachUprobe } from './probes.js';
import { attachFreplace, attachRawTracepoint, attachTracing } from './tracing.js';
import { attachUsdt } from './usdt.js';

/**
 * Attaches `program` to the target its section names. Returns undefined when the section names none
 * (`socket`, `xdp`, `cgroup_skb/ingress`, a bare `uprobe`...): those need an explicit attach function with
 * a target. Does not look at `program.autoattach`; the object's `attach()` does.
 *
 * @throws OptionError for a struct_ops program: those are not attached alone; their struct_ops map is
 *   (`attachStructOps(map)`, or `BpfObject.attach()`)
 * @throws BpfError when the program is not loaded or the attach fails; FeatureMissingError when the
 *   kernel lacks the mechanism (kprobes without `CONFIG_KPROBES`, kprobe.multi without `CONFIG_FPROBE`)
 */
export function autoAttach(program: BpfProgram): BpfLink | undefined {
  const s = program.section;
  if (s.attachKind === 'struct_ops') {
    throw new OptionError(
      `program '${program.name}' (section '${program.sectionName}') is a struct_ops callback: it runs once the struct_ops map that references it is registered; attach that map with attachStructOps(map) or BpfObject.attach()`,
      { option: 'program' },
    );
  }
  if (!s.autoAttach) return undefined;
  loadedFd(program, 'attach');
  switch (s.attachKind) {
    case 'none':
      return undefined;
    case 'tracepoint':
      return s.target && attachTracepoint(program, s.target.category, s.target.name);
    case 'raw_tracepoint':
      return s.target && attachRawTracepoint(program, s.target.name);
    case 'tracing':
    case 'lsm':
      return attachTracing(program);
    case 'freplace':
      return attachFreplace(program);
    case 'iter':
      return attachIter(program);
    case 'kprobe':
      return (
        s.target && attachKprobe(program, s.target.func, { offset: s.target.offset, retprobe: s.retprobe })
      );
    case 'ksyscall':
      return s.target && attachKsyscall(program, s.target.syscall, { retprobe: s.retprobe });
    case 'kprobe_multi':
      return s.target && attachKprobeMulti(program, { pattern: s.target.pattern, retprobe: s.retprobe });
    case 'uprobe':
      return (
        s.target &&
        attachUprobe(program, {
          binary: s.target.binary,
          func: s.target.func,
          offset: s.target.offset,
          retprobe: s.retprobe,
        })
      );
    case 'uprobe_multi':
      return (
        s.target &&
        attachUprobeMulti(program, {
          binary: s.target.binary,
          pattern: s.target.pattern,
          retprobe: s.retprobe,
        })
      );
    case 'usdt':
      return (
        s.target &&
        attachUsdt(program, { binary: s.target.binary, provider: s.target.provider, name: s.target.name })
      );
  }
}
