import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const messages = (lang: string) => JSON.parse(readFileSync(path.join(SRC, 'i18n', `${lang}.json`), 'utf8')) as Record<string, string>;
const vi = messages('vi');
const en = messages('en');
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

function sources(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full, ext) : ext.test(e.name) ? [full] : [];
  });
}

/** Attributes a person reads or hears. */
const SPOKEN_ATTRIBUTES = new Set(['aria-label', 'aria-description', 'aria-valuetext', 'title', 'placeholder', 'alt', 'label']);
const hasLetters = (text: string) => /\p{L}/u.test(text);

/** User-facing text written straight into JSX: text nodes, string children and spoken attributes. */
function literalTexts(file: string, code: string): string[] {
  const found: string[] = [];
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const visit = (node: ts.Node): void => {
    if (ts.isJsxText(node) && hasLetters(node.text)) found.push(node.text.trim());
    if (ts.isJsxExpression(node) && node.expression && ts.isJsxElement(node.parent) && (ts.isStringLiteral(node.expression) || ts.isNoSubstitutionTemplateLiteral(node.expression))) {
      if (hasLetters(node.expression.text)) found.push(node.expression.text);
    }
    if (ts.isJsxAttribute(node) && SPOKEN_ATTRIBUTES.has(node.name.getText(source)) && node.initializer) {
      const init = node.initializer;
      const inner = ts.isJsxExpression(init) ? init.expression : undefined;
      const text = ts.isStringLiteral(init) ? init.text : inner && ts.isStringLiteral(inner) ? inner.text : '';
      if (hasLetters(text)) found.push(text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('message files', () => {
  it('have the same keys in Vietnamese and English', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(vi).sort());
  });

  it('have no empty message, and the same placeholders in both languages', () => {
    for (const [key, text] of Object.entries(vi)) {
      expect(text.trim(), key).not.toBe('');
      expect(en[key]?.trim(), key).not.toBe('');
      expect(placeholders(en[key] ?? ''), key).toEqual(placeholders(text));
    }
  });

  it('hold no unused message: each key is named in the code, or built from a prefix it names', () => {
    const code = sources(SRC, /\.tsx?$/).map((f) => readFileSync(f, 'utf8')).join('\n');
    const prefixes = [...code.matchAll(/`([a-z][\w.-]*\.)\$\{/g)].map((m) => m[1] as string);
    const unused = Object.keys(vi).filter((key) => !code.includes(`'${key}'`) && !prefixes.some((p) => key.startsWith(p)));
    expect(unused).toEqual([]);
  });
});

describe('components', () => {
  it('find the kinds of literal text the scan looks for', () => {
    const code = `const A = () => <div title="Hello" data-testid="x-card" aria-label={'Close'}><p>Xin chào {name}</p>{'Tưới'} {' · '} - 42</div>;`;
    expect(literalTexts('a.tsx', code)).toEqual(['Hello', 'Close', 'Xin chào', 'Tưới']);
  });

  it('contain no user-facing literal text: every word comes from the message files', () => {
    const offenders = sources(SRC, /\.tsx$/).flatMap((file) => literalTexts(file, readFileSync(file, 'utf8')).map((text) => `${path.relative(SRC, file)}: ${text}`));
    expect(offenders).toEqual([]);
  });
});
