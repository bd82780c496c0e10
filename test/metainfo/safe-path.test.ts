import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainComponent, safeFilePath, sanitizePath, sanitizePathComponent } from '../../lib/metainfo/safe-path.js';

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

describe('isPlainComponent: the no-work check run on every component', () => {
  it.each<[string, boolean]>([
    ['file-1.dat', true],
    ['..foo', true],
    ['.hidden', true],
    ['console', true],
    ['comx', true],
    ['nullable.txt', true],
    ['ünï', true],
    ['x'.repeat(85), true],
    ['x'.repeat(86), false],
    ['', false],
    ['.', false],
    ['..', false],
    ['a.', false],
    ['a ', false],
    ['a:b', false],
    ['a/b', false],
    ['a\\b', false],
    ['tab\there', false],
    ['del\x7f', false],
    ['\ufffdx', false],
    ['CON', false],
    ['con.txt', false],
    ['Clock$', false],
    ['com1', false],
    ['COM\u00b9', false],
    ['lpt\u00b2.x', false],
    ['conin$', false],
    ['CONOUT$.log', false],
    ['prn.tar.gz', false],
  ])('%j -> %s', (c, plain) => {
    expect(isPlainComponent(c)).toBe(plain);
  });

  // The earlier definition, one regex and a device-name test: the character scan must agree with it.
  const PLAIN_RE = /^[^\x00-\x1f\x7f/\\<>:"|?*\ufffd]*[^\x00-\x1f\x7f/\\<>:"|?*\ufffd. ]$/;
  const DEVICE_RE = /^(con|prn|aux|nul|clock\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)$/i;
  const reference = (c: string): boolean => {
    if (c.length > 85 || !PLAIN_RE.test(c) || c === '.' || c === '..') return false;
    const dot = c.indexOf('.');
    const stem = dot < 0 ? c.length : dot;
    return stem < 3 || stem > 7 || !DEVICE_RE.test(c.slice(0, stem));
  };

  it('property: agrees with the regex definition, and a plain component is never changed by the sanitiser', () => {
    const component = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.stringMatching(/^(con|CoN|prn|aux|nUl|clock\$|com[0-9¹²³x]|LPT[0-9¹]|conin\$|conout\$|ab|abcdefgh)(\.[a-z. ]{0,4})?[ .]?$/),
      fc.string({ unit: fc.constantFrom('a', '.', ' ', ':', '/', '\\', '\u0000', '\u007f', '\ufffd', 'é'), maxLength: 90 }),
    );
    fc.assert(
      fc.property(component, (c) => {
        expect(isPlainComponent(c)).toBe(reference(c));
        if (isPlainComponent(c)) {
          const findings: unknown[] = [];
          expect(sanitizePathComponent(c, 0, findings as never)).toBe(c);
          expect(findings).toEqual([]);
        }
      }),
      { numRuns: 20_000, seed: 7 },
    );
  });
});
