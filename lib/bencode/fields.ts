import { field, displayBytes, type Field, type FieldDef } from '../core/field.js';
import type { Diagnostic } from '../core/diagnostic.js';
import { toHex } from '../core/bytes.js';
import type { BNode } from './node.js';
import type { BencodeDocument } from './decode.js';

/** Field table for generic bencode (BEP 3). */
export const BENCODE_FIELDS = {
  int: { id: 'bencode.int', label: 'integer', bep: 3 },
  str: { id: 'bencode.string', label: 'string', bep: 3 },
  list: { id: 'bencode.list', label: 'list', bep: 3 },
  dict: { id: 'bencode.dict', label: 'dict', bep: 3 },
  key: { id: 'bencode.key', label: 'key', bep: 3 },
  entry: { id: 'bencode.entry', label: 'entry', bep: 3 },
} as const satisfies Record<string, FieldDef>;

/**
 * Per-key hooks so a protocol layer (metainfo, extended handshake, KRPC) can name
 * and explain the values it knows, while the bencode structure stays generic.
 */
export interface BencodeFieldHooks {
  /** Label/id/display for a value reached by `path` (keys joined with `.`, list items as `[]`). */
  describe?(path: string, node: BNode): { id?: string; label?: string; display?: string; bep?: number } | undefined;
  /** Collapse a long string's display (e.g. `pieces`). */
}

/**
 * The field tree of a bencoded value: dict entries are fields spanning key and
 * value, whose children are the key and the value; lists hold their items.
 * Diagnostics from the decode are attached to the deepest field that covers them.
 */
export function bencodeFields(doc: BencodeDocument, label = 'bencode', hooks: BencodeFieldHooks = {}): Field {
  const root = nodeField(doc.root, label, '', hooks);
  return attachDiagnostics(root, doc.diagnostics);
}

function nodeField(node: BNode, label: string, path: string, hooks: BencodeFieldHooks, idOverride?: string): Field {
  const known = hooks.describe?.(path, node);
  const name = known?.label ?? label;
  const base = { ...BENCODE_FIELDS[node.kind], ...(known?.id ? { id: known.id } : {}), ...(known?.bep ? { bep: known.bep } : {}) };
  if (idOverride && !known?.id) (base as { id: string }).id = idOverride;
  switch (node.kind) {
    case 'int': {
      const v = node.intValue();
      return field(base, node.span, v, { label: name, display: known?.display ?? v.toString() });
    }
    case 'str': {
      const b = node.bytes();
      const text = node.text();
      const value = text ?? toHex(b);
      // Byte strings that are not UTF-8 are shown as hex, and the display says so.
      const display = known?.display ?? (text === undefined ? `${displayBytes(b)} (hex: not UTF-8)` : JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text));
      return field(base, node.span, value, { label: name, display });
    }
    case 'list': {
      const children = node.items().map((item, i) => nodeField(item, `[${i}]`, `${path}[]`, hooks));
      return field(base, node.span, undefined, { label: name, display: known?.display ?? `list of ${children.length}`, children });
    }
    case 'dict': {
      const children = node.entries().map(([k, v]) => {
        const keyText = k.text() ?? toHex(k.bytes());
        const childPath = path ? `${path}.${keyText}` : keyText;
        const keyField = field(BENCODE_FIELDS.key, k.span, keyText, { label: `${keyText} (key)`, display: displayBytes(k.bytes()) });
        const valueField = nodeField(v, keyText, childPath, hooks);
        return field(
          { ...BENCODE_FIELDS.entry, id: valueField.id },
          { start: k.span.start, end: v.span.end },
          undefined,
          { label: valueField.label, children: [keyField, valueField], display: valueField.display, flat: true },
        );
      });
      return field(base, node.span, undefined, { label: name, display: known?.display ?? `dict of ${children.length}`, children });
    }
  }
}

/** Hang each diagnostic on the deepest field whose span contains it. */
export function attachDiagnostics(root: Field, diagnostics: readonly Diagnostic[]): Field {
  if (diagnostics.length === 0) return root;
  const owned = new Map<Field, Diagnostic[]>();
  const rootLevel: Diagnostic[] = [];
  for (const d of diagnostics) {
    let best: Field | undefined;
    const visit = (f: Field): void => {
      if (f.span.start <= d.span.start && d.span.end <= f.span.end) {
        best = f;
        f.children?.forEach(visit);
      }
    };
    visit(root);
    if (best) {
      const list = owned.get(best) ?? [];
      list.push(d);
      owned.set(best, list);
    } else rootLevel.push(d);
  }
  const rebuild = (f: Field): Field => {
    const children = f.children?.map(rebuild);
    const extra = owned.get(f) ?? [];
    const diags = [...(f.diagnostics ?? []), ...extra, ...(f === root ? rootLevel : [])];
    const out: Field = { ...f, ...(children ? { children } : {}), ...(diags.length ? { diagnostics: diags } : {}) };
    return out;
  };
  return rebuild(root);
}
