/**
 * The kernel's BTF object of a loaded module, opened by the module's name: what `attach_btf_obj_fd`, a
 * struct_ops value type and the `fd_array` of module kfuncs and ksyms refer to.
 *
 * @module
 */
import { BpfError } from '../errors.js';
import { btfGetFdById } from './sys/btf.js';
import { closeFd } from './sys/fd.js';
import { btfGetNextId, btfInfo } from './sys/info.js';

/**
 * Opens the BTF object of kernel module `module` (walking BTF ids, with the token when there is one). The
 * caller owns the FD.
 */
export function openModuleBtf(module: string, tokenFd: number): number {
  for (let id = btfGetNextId(0); id !== undefined; id = btfGetNextId(id)) {
    let fd: number;
    try {
      fd = btfGetFdById(id, tokenFd);
    } catch {
      // Freed meanwhile, or not ours to open: keep looking.
      continue;
    }
    try {
      const info = btfInfo(fd);
      if (info.kernelBtf && info.name === module) return fd;
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    closeFd(fd);
  }
  throw new BpfError(`no BTF object of kernel module '${module}' found through BPF_BTF_GET_NEXT_ID`, {
    code: 'ENOENT',
    command: 'BPF_BTF_GET_NEXT_ID',
  });
}
