/**
 * `bpf-skel init DIR`: lays down a ready project (BPF C source, `main.ts`, package.json with build
 * scripts, tsconfig, README) from one of the templates in `templates/`. Templates are plain files; the only
 * dynamic parts are `{{placeholder}}`s, replaced from a fixed table in one pass (a value is never scanned
 * again, nothing is evaluated).
 *
 * @module
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { OptionError } from '../errors.js';
import { packageRoot, packageVersion } from './package.js';

/** The templates, in the order `--help` lists them. */
export const TEMPLATES = ['minimal', 'ringbuf', 'xdp', 'token'] as const;

/** A template name. */
export type TemplateName = (typeof TEMPLATES)[number];

/** What each template shows, for help texts and the README. */
export const TEMPLATE_SUMMARIES: Readonly<Record<TemplateName, string>> = {
  minimal: 'count the system calls of the own process (tp_btf, .rodata and .bss globals)',
  ringbuf: 'print every exec() on the machine (tp_btf, CO-RE reads, typed ring buffer records)',
  xdp: 'count packets per IP protocol on an interface (XDP, per-CPU array map)',
  token: 'count system calls per process, loading with a BPF token in containers (hash map)',
};

/** Options of {@link initProject}. */
export interface InitOptions {
  /** The project directory; made if missing. */
  readonly dir: string;
  /** Default `'minimal'`. */
  readonly template?: TemplateName;
  /** npm package name; default: the directory's name. */
  readonly name?: string;
  /** The dependency on bpf-skel as package.json writes it; default from {@link defaultBpfSkelSpec}. */
  readonly bpfSkelSpec?: string;
  /** Write into a non-empty directory, replacing files of the same names (others stay). */
  readonly force?: boolean;
}

/** What {@link initProject} did (the `--json` shape of `bpf-skel init`). */
export interface InitResult {
  /** Absolute project directory. */
  readonly dir: string;
  readonly name: string;
  readonly template: TemplateName;
  readonly bpfSkelSpec: string;
  /** Files written, relative to `dir`, sorted. */
  readonly files: readonly string[];
  /** Things to fix before `npm install` works (for example a checkout of bpf-skel that was never built). */
  readonly warnings: readonly string[];
}

/** Placeholders a template may use, with their meaning. */
type TemplateValues = {
  /** npm package name of the project. */
  readonly name: string;
  /** The `bpf-skel` dependency specifier. */
  readonly bpfSkelSpec: string;
  /** `__TARGET_ARCH_<x>` for the BPF C of this machine's architecture (used by bpf_tracing.h). */
  readonly bpfArch: string;
};

/** `process.arch` to the architecture names of `__TARGET_ARCH_*` (libbpf's bpf_tracing.h). */
const BPF_ARCH: Readonly<Record<string, string>> = {
  x64: 'x86',
  arm64: 'arm64',
  arm: 'arm',
  riscv64: 'riscv',
  s390x: 's390',
  ppc64: 'powerpc',
  loong64: 'loongarch',
  mips64el: 'mips',
};

/** npm's rule for new package names: lower case, URL-safe, optionally scoped, at most 214 characters. */
const NPM_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Throws an {@link OptionError} unless `name` is a valid npm package name. */
export function validateProjectName(name: string): void {
  if (name.length === 0 || name.length > 214 || !NPM_NAME.test(name) || name === 'node_modules') {
    throw new OptionError(
      `'${name}' is not a valid npm package name (lower case letters, digits, '-', '.', '_', '~', optionally @scope/; at most 214 characters); choose one with --name`,
      { option: 'name', command: 'init' },
    );
  }
}

/**
 * The dependency specifier for this bpf-skel: `file:<path>` when running from a checkout (so the project
 * uses exactly this code), `^<version>` when bpf-skel was itself installed from a registry.
 */
export function defaultBpfSkelSpec(root = packageRoot()): string {
  return root.split(sep).includes('node_modules') ? `^${packageVersion()}` : `file:${root}`;
}

/** The directory holding the templates. */
export function templatesDir(): string {
  return join(packageRoot(), 'templates');
}

/**
 * Replaces every `{{key}}` in `text` with `values[key]` in a single pass. With `json`, values are escaped for
 * a JSON string literal (templates put them between quotes). An unknown key is an error in the template.
 */
export function renderTemplate(
  text: string,
  values: Readonly<Record<string, string>>,
  opts: { readonly json?: boolean; readonly file?: string } = {},
): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_match, key: string) => {
    if (!Object.hasOwn(values, key)) {
      throw new Error(`template ${opts.file ?? ''} uses an unknown placeholder {{${key}}}`);
    }
    const value = values[key];
    return opts.json === true ? JSON.stringify(value).slice(1, -1) : value;
  });
}

/** Writes a new project into `opts.dir`. */
export function initProject(opts: InitOptions): InitResult {
  const template = opts.template ?? 'minimal';
  if (!(TEMPLATES as readonly string[]).includes(template)) {
    throw new OptionError(`unknown template '${template}'; choose one of ${TEMPLATES.join(', ')}`, {
      option: 'template',
      command: 'init',
    });
  }
  const dir = resolve(opts.dir);
  const name = opts.name ?? basename(dir);
  validateProjectName(name);
  const bpfSkelSpec = opts.bpfSkelSpec ?? defaultBpfSkelSpec();
  if (bpfSkelSpec.trim() === '' || [...bpfSkelSpec].some((c) => c.charCodeAt(0) < 0x20)) {
    throw new OptionError('--bpf-skel-spec must be a non-empty dependency specifier on one line', {
      option: 'bpf-skel-spec',
      command: 'init',
    });
  }
  const bpfArch = BPF_ARCH[process.arch];
  if (bpfArch === undefined) {
    throw new OptionError(`no BPF target architecture is known for ${process.arch}`, {
      option: 'template',
      code: 'ENOTSUP',
      command: 'init',
    });
  }
  checkTarget(dir, opts.force === true);

  const values: TemplateValues = { name, bpfSkelSpec, bpfArch };
  const root = templatesDir();
  // Shared files first; a template's own file of the same name wins.
  const files = new Map<string, string>();
  for (const base of [join(root, 'shared'), join(root, template)]) {
    for (const file of listFiles(base)) files.set(targetName(relative(base, file)), file);
  }
  const written: string[] = [];
  for (const [rel, source] of files) {
    const text = renderTemplate(readFileSync(source, 'utf8'), values, {
      json: rel.endsWith('.json'),
      file: relative(root, source),
    });
    const target = join(dir, rel);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    written.push(rel);
  }
  written.sort();
  return { dir, name, template, bpfSkelSpec, files: written, warnings: warningsFor(bpfSkelSpec) };
}

/** Refuses a file, or a non-empty directory without `force`. */
function checkTarget(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) {
    throw new OptionError(`${dir} exists and is not a directory`, {
      option: 'dir',
      code: 'ENOTDIR',
      command: 'init',
    });
  }
  if (!force && readdirSync(dir).length > 0) {
    throw new OptionError(`${dir} is not empty; use --force to write the project files into it anyway`, {
      option: 'dir',
      code: 'ENOTEMPTY',
      command: 'init',
    });
  }
}

/** Regular files under `dir`, recursively, sorted (symbolic links are not followed). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    const st = lstatSync(path);
    if (st.isDirectory()) out.push(...listFiles(path));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

/**
 * The name a template file gets in the project. `gitignore` is stored without its dot because npm leaves
 * `.gitignore` files out of published packages.
 */
function targetName(rel: string): string {
  return basename(rel) === 'gitignore' ? join(dirname(rel), '.gitignore') : rel;
}

/** What keeps a `file:` dependency from working: a checkout without the built `dist/`. */
function warningsFor(spec: string): string[] {
  if (!spec.startsWith('file:')) return [];
  const root = spec.slice('file:'.length);
  if (existsSync(join(root, 'dist', 'src', 'runtime', 'index.js'))) return [];
  return [`${root} has no build (dist/): run npm run build there before npm install here`];
}
