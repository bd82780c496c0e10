import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeFilePath, sanitizePath, sanitizePathComponent } from '../../lib/metainfo/safe-path.js';

const OUT = '/srv/out';

describe('sanitizePathComponent: each hostile form, what it becomes and why', () => {
  it.each<[string, string | null, string | undefined]>([
    ['plain.txt', 'plain.txt', undefined],
    ['..foo', '..foo', undefined],
    ['.hidden', '.hidden', undefined],
    ['', '_', 'empty_component'],
    ['.', null, 'dot_component'],
    ['..', null, 'dot_component'],
    ['/', '_', 'separator_in_component'],
    ['\\', '_', 'separator_in_component'],
    ['/etc', 'etc', 'separator_in_component'],
    ['abc/../../def', 'abc....def', 'separator_in_component'],
    ['a\\..\\b', 'a..b', 'separator_in_component'],
    ['a\u0000b', 'a_b', 'control_character'],
    ['line\nbreak', 'line_break', 'control_character'],
    ['\ufffdest', '_est', 'invalid_utf8'],
    ['C:', 'C_', 'reserved_character'],
    ['file?.txt', 'file_.txt', 'reserved_character'],
    ['CON', '_CON', 'device_name'],
    ['nul.txt', '_nul.txt', 'device_name'],
    ['com1', '_com1', 'device_name'],
    ['LPT9.tar.gz', '_LPT9.tar.gz', 'device_name'],
    ['console', 'console', undefined],
    ['name. ', 'name', 'trailing_dot_or_space'],
    ['...', '_', 'trailing_dot_or_space'],
    ['x'.repeat(300) + '.mkv', 'x'.repeat(251) + '.mkv', 'too_long'],
  ])('%j -> %j (%s)', (input, output, reason) => {
    const findings: { reason: string }[] = [];
    expect(sanitizePathComponent(input, 0, findings as never)).toBe(output);
    expect(findings[0]?.reason).toBe(reason);
  });

  it('matches libtorrent RC_2_1 layout paths (libtorrent-suite headChecks)', () => {
    // slash_path: ['/', '/', 'bar']; slash_path2: ['abc/../../def', '/', 'bar']; slash_path3: single file 'temp/../../abc'
    expect(sanitizePath(['temp', '/', '/', 'bar']).components.join('/')).toBe('temp/_/_/bar');
    expect(sanitizePath(['temp', 'abc/../../def', '/', 'bar']).components.join('/')).toBe('temp/abc....def/_/bar');
    expect(sanitizePath(['temp/../../abc']).components.join('/')).toBe('temp....abc');
    expect(sanitizePath(['temp', '..', '..', 'bar']).components.join('/')).toBe('temp/bar');
    expect(sanitizePath(['temp', '', '']).components.join('/')).toBe('temp/_/_');
  });
});

describe('safeFilePath', () => {
  it('joins below the output folder and reports findings', () => {
    const r = safeFilePath(OUT, ['..', '..', 'etc', 'passwd']);
    expect(r.path).toBe('/srv/out/etc/passwd');
    expect(r.relative).toBe('etc/passwd');
    expect(r.diagnostics.map((d) => [d.code, d.reason, d.component])).toEqual([
      ['unsafe_path', 'dot_component', 0],
      ['unsafe_path', 'dot_component', 1],
    ]);
  });

  it('a path of nothing usable still names a file inside', () => {
    const r = safeFilePath(OUT, ['..', '.']);
    expect(r.path).toBe('/srv/out/_');
    expect(r.diagnostics.at(-1)!.reason).toBe('empty_path');
  });

  it('property: any components give a path strictly below the folder, one component per level', () => {
    const hostile = fc.oneof(
      fc.constantFrom('..', '.', '', '/', '\\', 'C:', 'CON', 'nul.txt', ' ', '...', '\u0000', '/etc/passwd', '..\\..\\x', 'a/../..'),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.stringMatching(/^[./\\a: ]{0,8}$/),
    );
    fc.assert(
      fc.property(fc.array(hostile, { maxLength: 8 }), (components) => {
        const r = safeFilePath(OUT, components);
        const rel = path.relative(OUT, r.path);
        expect(rel.length).toBeGreaterThan(0);
        expect(path.isAbsolute(rel)).toBe(false);
        expect(rel === '..' || rel.startsWith('../')).toBe(false);
        expect(r.path.startsWith(OUT + '/')).toBe(true);
        for (const c of r.relative.split('/')) {
          expect(c).not.toBe('');
          expect(c).not.toBe('.');
          expect(c).not.toBe('..');
          expect(c).not.toMatch(/[\\\u0000-\u001f:]/);
          expect(c).not.toMatch(/[. ]$/);
        }
      }),
      { numRuns: 5000, seed: 42 },
    );
  });
});
