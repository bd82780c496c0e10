import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * STYLE rule 1: codecs do no I/O. Only transports and engines may import the
 * socket, file and process modules; everything else in lib/ is pure.
 */
const IO_MODULES = /from '(node:)?(net|dgram|http|https|fs|fs\/promises|child_process|tls|readline)'/;
const MAY_DO_IO = [
  'lib/transport/',
  'lib/engine/',
  'lib/tracker/client/',
  'lib/tracker/server/',
  'lib/content/', // btscope create/verify: walks the content folder and reads files in worker threads to hash them
];

/**
 * Issue 10: sockets live below the transport interface. Only transports
 * (lib/transport/), the tracker client and server (their own UDP/HTTP I/O)
 * open them; the peer wire, the tracer's live proxy, the
 * engines, comply and the tools go through lib/transport.
 */
const SOCKET_MODULES = /from '(node:)?(net|dgram|tls)'/;
const MAY_OPEN_SOCKETS = ['lib/transport/', 'lib/tracker/client/', 'lib/tracker/server/'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  const root = join(import.meta.dirname, '..', '..');
  const libFiles = files(join(root, 'lib')).map((f) => relative(root, f));

  it('finds the library', () => {
    expect(libFiles.length).toBeGreaterThan(50);
  });

  it('only transports and engines import I/O modules', () => {
    const offenders = libFiles.filter((f) => !MAY_DO_IO.some((allowed) => f.startsWith(allowed)) && IO_MODULES.test(readFileSync(join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('nothing above lib/transport opens a socket (lib/ and tools/)', () => {
    const toolFiles = files(join(root, 'tools')).map((f) => relative(root, f));
    const offenders = [...libFiles, ...toolFiles].filter(
      (f) => !MAY_OPEN_SOCKETS.some((allowed) => f.startsWith(allowed)) && SOCKET_MODULES.test(readFileSync(join(root, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('lib/ never imports from tools/ or test/', () => {
    const offenders = libFiles.filter(
      (f) => /from '\.\.\/(\.\.\/)*(tools|test)\//.test(readFileSync(join(root, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('no command module imports another (shared helpers live in tools/, the list in commands/index.ts)', () => {
    const commands = files(join(root, 'tools', 'commands')).map((f) => relative(root, f));
    expect(commands.length).toBeGreaterThan(10);
    const offenders = commands
      .filter((f) => !f.endsWith('/index.ts'))
      .flatMap((f) => [...readFileSync(join(root, f), 'utf8').matchAll(/(?:from|import\()\s*'(\.\/[^']+)'/g)].map((m) => `${f} imports ${m[1]}`));
    expect(offenders).toEqual([]);
  });
});
