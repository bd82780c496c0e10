/**
 * Shell-style globs over '/'-separated relative paths, for --include and
 * --exclude: `*` and `?` stay within one component, `**` spans components,
 * `[abc]` and `[!a-z]` are classes. A pattern without '/' matches a file's or
 * folder's name at any depth (as .gitignore does).
 */
export function globToRegExp(glob: string): RegExp {
  const anchored = glob.includes('/');
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(anchored ? `^${re.replace(/^\//, '')}$` : `(?:^|/)${re}$`);
}

/** A path filter from --include (any must match; none given = all) and --exclude (none may match). */
export function pathFilter(include: readonly string[], exclude: readonly string[]): { included(rel: string): boolean; excluded(rel: string): boolean } {
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  return {
    included: (rel) => inc.length === 0 || inc.some((r) => r.test(rel)),
    excluded: (rel) => exc.some((r) => r.test(rel)),
  };
}
