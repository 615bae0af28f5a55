/**
 * Programs on perf events: the common step under tracepoint, kprobe, uprobe and plain perf event
 * attachments. A BPF perf link (`BPF_LINK_CREATE` with `BPF_PERF_EVENT`, Linux 5.15+) is preferred, as it
 * carries a BPF cookie; older kernels get `PERF_EVENT_IOC_SET_BPF`.
 *
 * @module
 */
import { BpfError, FeatureMissingError, withContext } from '../../errors.js';
import { BpfLink } from '../link.js';
import type { BpfProgram } from '../program.js';
import { closeFd } from '../sys/fd.js';
import { AttachTypes } from '../sys/kinds.js';
import { linkCreate } from '../sys/link.js';
import { perfEventEnable, perfEventSetBpf } from '../sys/perf.js';

/**
 * Attaches `program` to the perf event `perfFd` and enables the event. The returned link owns `perfFd`;
 * on failure `perfFd` is closed.
 */
export function attachToPerfEvent(
  program: BpfProgram,
  perfFd: number,
  cookie: bigint,
  target: string,
): BpfLink {
  let linkFd = -1;
  const progFd = program.fd;
  try {
    try {
      linkFd = linkCreate(progFd, perfFd, AttachTypes.perf_event, 0, {
        kind: 'perf_event',
        bpfCookie: cookie,
      });
    } catch (err) {
      // EINVAL here is what a kernel without BPF perf links answers to the unknown attach type.
      if (!(err instanceof BpfError) || err.code !== 'EINVAL') throw err;
      if (cookie !== 0n) {
        throw new FeatureMissingError(
          `${target}: a BPF cookie needs BPF perf links (Linux 5.15+), which this kernel lacks: ${err.message}`,
          {
            code: 'EOPNOTSUPP',
            errno: err.errno,
            command: err.command,
            feature: 'bpf_perf_link',
            cause: err,
          },
        );
      }
      try {
        perfEventSetBpf(perfFd, progFd);
      } catch {
        throw err;
      }
      perfEventEnable(perfFd);
      return new BpfLink({ kind: 'perf_event_ioctl', perfFd }, target, program);
    }
    perfEventEnable(perfFd);
    return new BpfLink({ kind: 'link', type: 'perf_event', fd: linkFd, perfFd }, target, program);
  } catch (err) {
    if (linkFd >= 0) closeFd(linkFd);
    closeFd(perfFd);
    // A FeatureMissingError names the target already.
    throw err instanceof FeatureMissingError ? err : withContext(err, target);
  }
}
