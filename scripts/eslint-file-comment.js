// ESLint rule `kubeburst/file-comment`: a file's overview is a doc comment that says so, and no symbol
// inherits it. TypeScript (hover, .d.ts) gives a `/** … */` to the statement right below it, so:
//   - an opening `/** … */` followed by an import, code or another comment can only be about the file:
//     it ends with a `@module` line (TypeDoc's mark for a file comment);
//   - a `@module` comment right above a declaration would document that declaration too: the
//     declaration gets a doc comment of its own (TypeScript then takes the nearest one).
// An opening `/** … */` right above a declaration, without `@module`, is that declaration's doc.

const isDoc = (c) => c.type === 'Block' && c.value.startsWith('*');
const reexport = (s) => (s.type === 'ExportNamedDeclaration' && s.source) || s.type === 'ExportAllDeclaration';
const isDeclaration = (s) => /Declaration$/.test(s.type) && s.type !== 'ImportDeclaration' && !reexport(s);

/** The comment's text (between the delimiters) with a closing `@module` line, multi-line if it was not. */
function withModule(value, column) {
  const lines = value.split('\n');
  if (lines.length === 1) return `/**\n * ${value.slice(1).trim()}\n * @module\n */`;
  const indent = ' '.repeat(column);
  return `/*${lines.slice(0, -1).join('\n')}\n${indent} * @module\n${indent} */`;
}

export default {
  meta: {
    type: 'suggestion',
    fixable: 'code',
    docs: { description: 'file overview comments are marked @module and do not double as a symbol doc' },
    schema: [],
    messages: {
      mark: "This comment opens the file and documents no declaration: end it with a ' * @module' line.",
      shared: 'TypeScript attaches this file comment to the declaration below it: give that declaration a /** doc */ of its own.',
    },
  },
  create(context) {
    return {
      Program(program) {
        const source = context.sourceCode;
        const comments = source.getAllComments().filter((c) => c.type !== 'Shebang');
        const first = comments[0];
        const next = program.body[0];
        if (!first || !isDoc(first) || (next && first.range[0] > next.range[0])) return;
        const between = comments.filter((c) => c !== first && (!next || c.range[1] <= next.range[0]));
        const marked = /(^|\s)@module\b/.test(first.value);
        if (!marked && (!next || !isDeclaration(next) || between.length > 0)) {
          context.report({ loc: first.loc, messageId: 'mark', fix: (fixer) => fixer.replaceText(first, withModule(first.value, first.loc.start.column)) });
        }
        if (marked && next && isDeclaration(next) && !between.some(isDoc)) context.report({ loc: first.loc, messageId: 'shared' });
      },
    };
  },
};
