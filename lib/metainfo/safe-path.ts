import * as nodePath from 'node:path';

/**
 * Mapping torrent paths to file-system paths that can never leave the output
 * folder. A torrent's `path` components (BEP 3) and v2 file-tree keys (BEP 52)
 * are attacker-controlled bytes: `..`, absolute names, separators inside a
 * component, NUL, Windows device names and drive letters must not escape or
 * misbehave on any OS. The rules follow libtorrent's sanitize_append_path_element
 * (RC_2_1), applied in its portable (Windows-safe) form everywhere so a torrent
 * lands the same way on every machine.
 */

/** Why a component was changed. */
export type UnsafePathReason =
  | 'empty_component'
  | 'dot_component'
  | 'separator_in_component'
  | 'control_character'
  | 'invalid_utf8'
  | 'reserved_character'
  | 'device_name'
  | 'trailing_dot_or_space'
  | 'too_long'
  | 'empty_path';

export interface PathFinding {
  /** Always `unsafe_path`: the diagnostic code parseTorrent and tools report. */
  readonly code: 'unsafe_path';
  readonly reason: UnsafePathReason;
  /** Index of the component in the input (-1: the path as a whole). */
  readonly component: number;
  readonly message: string;
}

export interface SafeComponents {
  /** Sanitised components, none of them empty, `.` or `..`, none with a separator. */
  readonly components: readonly string[];
  readonly findings: readonly PathFinding[];
}

export interface SafePath {
  /** Absolute path strictly below the resolved output folder. */
  readonly path: string;
  /** The same, relative to the output folder, with `/` separators. */
  readonly relative: string;
  readonly diagnostics: readonly PathFinding[];
}

/** Characters Windows refuses in names (the drive-letter colon among them). */
const RESERVED_CHARS = new Set(['<', '>', ':', '"', '|', '?', '*']);
/** DOS device names: reserved with any extension, in any case. */
const DEVICE_NAME = /^(con|prn|aux|nul|clock\$|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
/** 85 UTF-16 units are at most 255 UTF-8 bytes: longer components are checked the slow way. */
const PLAIN_MAX_UNITS = 85;
/** Longest component most file systems accept, in UTF-8 bytes. */
const MAX_COMPONENT_BYTES = 255;

const utf8 = new TextEncoder();

/**
 * True when a component needs no change at all (checked first: the common
 * case): no separators, controls, reserved characters, U+FFFD, no trailing dot
 * or space, not `.`/`..`, not a device name, and short. One scan, no regex
 * unless the stem could be a device name.
 */
export function isPlainComponent(component: string): boolean {
  const n = component.length;
  if (n === 0 || n > PLAIN_MAX_UNITS) return false;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = component.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0xfffd) return false;
    // / \ < > : " | ? *
    if (c === 0x2f || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x3a || c === 0x22 || c === 0x7c || c === 0x3f || c === 0x2a) return false;
    if (c === 0x2e && dot < 0) dot = i;
  }
  const last = component.charCodeAt(n - 1);
  // Also rules out `.` and `..`.
  if (last === 0x2e || last === 0x20) return false;
  const stemLength = dot < 0 ? n : dot;
  // Device names are 3 to 7 characters long (CON ... CONOUT$) and start with one of c p a n l.
  if (stemLength < 3 || stemLength > 7) return true;
  const first = component.charCodeAt(0) | 0x20;
  if (first !== 0x63 && first !== 0x70 && first !== 0x61 && first !== 0x6e && first !== 0x6c) return true;
  return !DEVICE_NAME.test(component.slice(0, stemLength));
}

/** Make one component safe; null when it must be dropped (`.`/`..`, as libtorrent does). */
export function sanitizePathComponent(component: string, index = 0, findings: PathFinding[] = []): string | null {
  const note = (reason: UnsafePathReason, message: string): void => {
    findings.push({ code: 'unsafe_path', reason, component: index, message });
  };
  if (component.length === 0) {
    note('empty_component', 'empty path component, written as "_"');
    return '_';
  }
  if (isPlainComponent(component)) return component;
  let out = '';
  let dropped = false;
  const seen = new Set<UnsafePathReason>();
  const once = (reason: UnsafePathReason, message: string): void => {
    if (!seen.has(reason)) {
      seen.add(reason);
      note(reason, message);
    }
  };
  for (const ch of component) {
    const cp = ch.codePointAt(0)!;
    if (ch === '/' || ch === '\\') {
      // A separator inside a component would create (or climb out of) folders: drop it.
      once('separator_in_component', `component ${JSON.stringify(component)} contains a path separator`);
      dropped = true;
    } else if (cp < 0x20 || cp === 0x7f) {
      once('control_character', `component ${JSON.stringify(component)} contains a control character (NUL, newline...)`);
      out += '_';
    } else if (cp === 0xfffd) {
      once('invalid_utf8', `component ${JSON.stringify(component)} is not valid UTF-8`);
      out += '_';
    } else if (RESERVED_CHARS.has(ch)) {
      once('reserved_character', `component ${JSON.stringify(component)} contains ${JSON.stringify(ch)}, not allowed in Windows names (drive letters, streams)`);
      out += '_';
    } else {
      out += ch;
    }
  }
  if (out.length === 0 && dropped) {
    // libtorrent RC_2_1: an element made only of filtered characters becomes "_".
    return '_';
  }
  if (out === '.' || out === '..') {
    note('dot_component', `path component ${JSON.stringify(component)} refers to the current or parent folder: dropped`);
    return null;
  }
  const trimmed = out.replace(/[. ]+$/, '');
  if (trimmed !== out) {
    once('trailing_dot_or_space', `component ${JSON.stringify(component)} ends in a dot or space (Windows strips them)`);
    out = trimmed.length > 0 ? trimmed : '_';
  }
  const stem = out.split('.')[0]!;
  if (DEVICE_NAME.test(stem)) {
    note('device_name', `component ${JSON.stringify(component)} is a Windows device name: written as "_${out}"`);
    out = `_${out}`;
  }
  if (utf8.encode(out).length > MAX_COMPONENT_BYTES) {
    note('too_long', `component is longer than ${MAX_COMPONENT_BYTES} bytes: shortened, extension kept`);
    out = shorten(out);
  }
  return out;
}

/** Cut a long name to MAX_COMPONENT_BYTES, keeping a short extension (libtorrent keeps it too). */
function shorten(name: string): string {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const budget = MAX_COMPONENT_BYTES - utf8.encode(ext).length;
  let stem = '';
  let bytes = 0;
  for (const ch of ext ? name.slice(0, dot) : name) {
    const n = utf8.encode(ch).length;
    if (bytes + n > budget) break;
    stem += ch;
    bytes += n;
  }
  return stem + ext;
}

/** Sanitise every component; the result is never empty. */
export function sanitizePath(components: readonly string[]): SafeComponents {
  const findings: PathFinding[] = [];
  const out: string[] = [];
  components.forEach((c, i) => {
    const s = sanitizePathComponent(c, i, findings);
    if (s !== null) out.push(s);
  });
  if (out.length === 0) {
    findings.push({ code: 'unsafe_path', reason: 'empty_path', component: -1, message: 'path has no usable component: written as "_"' });
    out.push('_');
  }
  return { components: out, findings };
}

/**
 * The path a torrent file is written to: always strictly below `outDir`,
 * whatever the components hold. Findings say what was changed and why.
 */
export function safeFilePath(outDir: string, components: readonly string[]): SafePath {
  const root = nodePath.resolve(outDir);
  const { components: safe, findings } = sanitizePath(components);
  const path = nodePath.join(root, ...safe);
  const rel = nodePath.relative(root, path);
  // Defence in depth: the rules above make this unreachable; never write outside.
  if (rel === '' || rel === '..' || rel.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(rel)) {
    throw new Error(`internal: sanitised path ${JSON.stringify(safe)} escapes ${root}`);
  }
  return { path, relative: safe.join('/'), diagnostics: findings };
}
