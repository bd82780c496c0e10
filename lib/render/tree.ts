import type { Field, Frame } from '../core/field.js';
import { palette } from './color.js';

/** An indented text tree of a frame's fields with their spans. */
export function renderTree(frame: Frame, options: { color?: boolean } = {}): string {
  const p = palette(options.color ?? false);
  const out: string[] = [p.heading(`${frame.title} (${frame.bytes.length} bytes)`)];
  const visit = (f: Field, depth: number): void => {
    if (f.flat && f.children) {
      // An entry shown as its value: the key is implied by the label.
      const value = f.children[f.children.length - 1]!;
      const diagnostics = [...(f.diagnostics ?? []), ...f.children.flatMap((c) => (c === value ? [] : (c.diagnostics ?? []))), ...(value.diagnostics ?? [])];
      visit({ ...value, label: f.label, ...(diagnostics.length ? { diagnostics } : {}) }, depth);
      return;
    }
    const value = f.display !== undefined ? ` = ${p.value(f.display)}` : '';
    const bep = f.bep !== undefined ? p.dim(` BEP ${f.bep}`) : '';
    out.push(`${'  '.repeat(depth + 1)}${p.label(f.label)}${value} ${p.dim(`[${f.span.start}, ${f.span.end})`)}${bep}`);
    for (const d of f.diagnostics ?? []) out.push(`${'  '.repeat(depth + 2)}${p.warn(`⚠ ${d.code}: ${d.message}`)}`);
    const children = f.children ?? [];
    // Dict entries whose value has children: show the value's children directly.
    for (const c of children) {
      if (c.id === 'bencode.key') continue;
      if (!c.flat && c.children && f.children?.length === 2 && f.children[0]!.id === 'bencode.key') {
        for (const cc of c.children) visit(cc, depth + 1);
        continue;
      }
      visit(c, depth + 1);
    }
  };
  for (const f of frame.fields) visit(f, 0);
  for (const d of frame.diagnostics ?? []) out.push(`  ${p.warn(`⚠ ${d.code}: ${d.message}`)}`);
  return out.join('\n');
}
